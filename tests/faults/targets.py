"""Target descriptions: everything the fault scenarios need to know about
one kind of sink, so a scenario is written once and runs against every
target. A target says

  name                the table's "target" column
  sink                the route's "sink" value
  program             its program, hamustro-PROGRAM (file-sink, s3-sink, blob-sink, ...)
  duplicates_allowed  per-message targets (SNS, queues) are at least once
  scenarios           scenario keys run against it (None: every scenario)
  outage_s            how long the backend outage lasts
  load_rate           hamustro-send requests/s (1-10 events each) for this target
  prepare(c, route)   called before the config is written (directories,
                      emulators, buckets, topics, queues ...)
  route_config(c, route, **limits)
                      the route's config section
  read(c, route)      Counter {(session, nr): copies} of what the target holds
  count_fast(c, route) events stored so far (cheap; for rates)
  outage_start / outage_end (c, route)
                      the backend unavailable, then back (None: no scenario)
  credentials_break / credentials_fix (c, route)
                      wrong credentials, then right ones (None: not applicable)
  cleanup(c)          stops what prepare started (emulators)

The cloud targets run their emulator from tests/emulators/ (start.sh /
stop.sh, state in the scenario's directory, kept across stop/start) and
read back through the service's own API with the integration tests'
clients (tests/integration/aws_helpers.py, azure_emulator.py), so the
reading does not use the code under test."""

import base64
import collections
import gzip
import json
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402
import azure_emulator as az  # noqa: E402


class FileTarget:
    """hamustro-file-sink. The route's file_path goes through a symlink,
    out-ROUTE -> store-ROUTE. The outage points the symlink (atomically, by
    rename) at a regular file, so every path under it fails with ENOTDIR
    even for root, which chmod could not stop; the end of the outage points
    it back."""

    name = "file"
    sink = "file"
    program = "file-sink"
    duplicates_allowed = False
    scenarios = None            # every scenario
    outage_s = 30  # issue 4: the directory unwritable for 30 s
    load_rate = 600
    credentials_break = None
    credentials_fix = None

    @staticmethod
    def _paths(c, route):
        return (os.path.join(c.dir, "out-%s" % route), os.path.join(c.dir, "store-%s" % route))

    @staticmethod
    def route_config(c, route, **limits):
        cfg = {"sink": "file", "max_events": 2000, "max_age": 0.3,
               "file": {"file_path": os.path.join(c.dir, "out-%s" % route, "{date}"),
                        "file_format": "json", "compress": True}}
        cfg.update(limits)
        return cfg

    def prepare(self, c, route):
        link, store = self._paths(c, route)
        os.makedirs(store, exist_ok=True)
        if not os.path.islink(link):
            os.symlink(store, link)

    def _point(self, c, route, dest):
        link, _ = self._paths(c, route)
        tmp = link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(dest, tmp)
        os.rename(tmp, link)

    def outage_start(self, c, route):
        blocker = os.path.join(c.dir, "blocker-%s" % route)
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        self._point(c, route, blocker)

    def outage_end(self, c, route):
        self._point(c, route, self._paths(c, route)[1])

    def read(self, c, route):
        _, store = self._paths(c, route)
        got = collections.Counter()
        for root, _, names in os.walk(store):
            for n in names:
                if n.startswith(".") or n.endswith(".tmp"):
                    continue
                with open(os.path.join(root, n), "rb") as f:
                    data = f.read()
                if n.endswith(".gz"):
                    data = gzip.decompress(data)
                for line in data.splitlines():
                    e = json.loads(line)
                    got[(e["session"], e["nr"])] += 1
        return got

    def count_fast(self, c, route):
        """Events stored so far (lines), cheap enough to poll for rates."""
        _, store = self._paths(c, route)
        n = 0
        for root, _, names in os.walk(store):
            for name in names:
                if name.startswith(".") or name.endswith(".tmp"):
                    continue
                try:
                    with open(os.path.join(root, name), "rb") as f:
                        data = f.read()
                    if name.endswith(".gz"):
                        data = gzip.decompress(data)
                    n += data.count(b"\n")
                except (OSError, EOFError):
                    pass
        return n


    def cleanup(self, c):
        pass


# --- the cloud targets ------------------------------------------------------------

# What the cloud targets run: a sink crash mid-load, the backend away and
# back, wrong credentials. The other scenarios are about the ingest and the
# router, which do not depend on the target; the file target runs them all.
CLOUD_SCENARIOS = {"kill9-sink", "outage", "credentials"}
CLOUD_OUTAGE_S = 30   # issue 4: the emulator stopped for 30 s
# S3 and Blob objects over this many gzip'd bytes go in parts (multipart
# upload; Put Block + Put Block List). Small, so a kill or an outage also
# lands between the parts of an object; only emulators take parts this small.
PART_SIZE = 16384


def _json_keys(data, got):
    for line in data.splitlines():
        if line.strip():
            e = json.loads(line)
            got[(e["session"], e["nr"])] += 1


def _lines(data):
    return sum(1 for line in data.splitlines() if line.strip())


class _Cloud:
    """What the four cloud targets share: the emulators of one scenario live
    in c.emu[name] (ports, clients), started by prepare, stopped by cleanup,
    their state in DIR/emulators (stop.sh keeps it for the restart)."""

    duplicates_allowed = False
    outage_s = CLOUD_OUTAGE_S
    scenarios = CLOUD_SCENARIOS
    section = None          # the route's section name ("s3", "abs", ...)
    secret_key = None       # the credential the credentials scenario breaks
    right_secret = None
    wrong_secret = None

    def state(self, c):
        return c.emu[self.name]

    def route_config(self, c, route, **limits):
        cfg = {"sink": self.sink, "max_events": 2000, "max_age": 0.3,
               self.section: self.section_config(c, route)}
        cfg.update(limits)
        return cfg

    def _set_secret(self, c, route, value):
        c.config["routes"][route][self.section][self.secret_key] = value
        c.write_config()

    def credentials_break(self, c, route):
        self._set_secret(c, route, self.wrong_secret)

    def credentials_fix(self, c, route):
        self._set_secret(c, route, self.right_secret)

    def count_fast(self, c, route):
        return sum(self.read(c, route).values())


class _Aws(_Cloud):
    """An emulator behind tests/emulators/sigv4-proxy.js, which checks every
    request's SigV4 signature; the sink and the reading talk to the proxy.
    The outage stops the emulator, not the proxy (which then answers 502,
    as a load balancer in front of a dead service would)."""

    backend = None          # start.sh name of the emulator
    right_secret = aws.SECRET
    wrong_secret = "not-the-secret"
    secret_key = "secret_access_key"

    def _start(self, c):
        emu = aws.Emulators(os.path.join(c.dir, "emulators"))
        st = {"emu": emu, "port": h.free_port(), "proxy": h.free_port()}
        c.emu[self.name] = st
        emu.start(self.backend, st["port"])
        emu.start("sigv4-proxy", st["proxy"], st["port"])
        return st

    def _aws_section(self, c):
        st = self.state(c)
        return {"region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % st["proxy"],
                "access_key_id": aws.AKID, "secret_access_key": aws.SECRET}

    def outage_start(self, c, route):
        st = self.state(c)
        st["emu"].stop(self.backend, st["port"])

    def outage_end(self, c, route):
        st = self.state(c)
        st["emu"].start(self.backend, st["port"])

    def refused(self, c):
        """Requests the proxy refused (wrong signature), for the credentials
        scenario's note."""
        return aws.proxy_stats(self.state(c)["proxy"])["rejected"]

    def cleanup(self, c):
        st = c.emu.get(self.name)
        if st:
            st["emu"].stop_all()


class S3Target(_Aws):
    """hamustro-s3-sink into s3rver (behind the SigV4 proxy): one gzip'd
    JSON-lines object per batch, named from the batch's offsets, so a batch
    stored again replaces its object: exactly one copy of each event."""

    name = "s3"
    sink = "s3"
    program = "s3-sink"
    section = "s3"
    backend = "s3rver"
    load_rate = 300
    # kill -9 of the router once here (the router is shared code): batches
    # rebuilt after its restart keep their names. outage-crash (5 s outage,
    # router and sink killed in it) for both one-copy targets.
    scenarios = CLOUD_SCENARIOS | {"kill9-router", "outage-crash"}
    bucket = "hm-faults"

    def prepare(self, c, route):
        if self.name not in c.emu:
            st = self._start(c)
            aws.s3_create_bucket(st["proxy"], self.bucket)

    def section_config(self, c, route):
        s = self._aws_section(c)
        s.update({"bucket": self.bucket, "blob_path": "%s/{date}/" % route,
                  "file_format": "json", "part_size": PART_SIZE})
        return s

    def read(self, c, route):
        port = self.state(c)["proxy"]
        got = collections.Counter()
        for key in aws.s3_list(port, self.bucket, route + "/"):
            _, body = aws.s3_get(port, self.bucket, key)
            _json_keys(gzip.decompress(body), got)
        return got


class SnsTarget(_Aws):
    """hamustro-sns-sink into fauxqs (behind the SigV4 proxy): one message
    per event on a standard topic; an SQS queue subscribed with raw delivery
    holds them. Read without deleting (a long visibility timeout), so the
    count is taken once, at the end. At least once: duplicates counted."""

    name = "sns"
    sink = "sns"
    program = "sns-sink"
    section = "sns"
    backend = "fauxqs"
    duplicates_allowed = True
    load_rate = 120         # ~660 events/s, each a message through node (proxy, fauxqs)

    def prepare(self, c, route):
        if self.name not in c.emu:
            self._start(c)
        st = self.state(c)
        arn, url = aws.sns_topic_with_queue(st["proxy"], "hm-faults-" + route)
        st.setdefault("topics", {})[route] = (arn, url)

    def section_config(self, c, route):
        s = self._aws_section(c)
        s["topic_arn"] = self.state(c)["topics"][route][0]
        return s

    def read(self, c, route):
        port = self.state(c)["proxy"]
        url = self.state(c)["topics"][route][1]
        got = collections.Counter()
        empty = 0
        while empty < 3:
            r = aws.sqs_call(port, "ReceiveMessage", {
                "QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 43200,
                "WaitTimeSeconds": 0})
            msgs = r.get("Messages", [])
            empty = 0 if msgs else empty + 1
            for m in msgs:
                _json_keys(m["Body"].encode(), got)
        return got

    def count_fast(self, c, route):
        port = self.state(c)["proxy"]
        url = self.state(c)["topics"][route][1]
        r = aws.sqs_call(port, "GetQueueAttributes", {
            "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages",
                                                "ApproximateNumberOfMessagesNotVisible"]})
        a = r.get("Attributes", {})
        return (int(a.get("ApproximateNumberOfMessages", 0))
                + int(a.get("ApproximateNumberOfMessagesNotVisible", 0)))


class _Azure(_Cloud):
    """azurite, which checks every request's Shared Key itself. The outage
    stops azurite (connection refused); its data folder is kept."""

    service = None
    secret_key = "access_key"
    right_secret = az.KEY
    wrong_secret = az.WRONG_KEY

    def _start(self, c):
        a = az.Azurite(self.service, c.dir)
        c.emu[self.name] = {"az": a}
        a.start()
        return a

    def _azure_section(self, c):
        return {"account": az.ACCOUNT, "access_key": az.KEY,
                "endpoint": self.state(c)["az"].endpoint}

    def outage_start(self, c, route):
        self.state(c)["az"].stop()

    def outage_end(self, c, route):
        self.state(c)["az"].start()

    def cleanup(self, c):
        st = c.emu.get(self.name)
        if st and st["az"].running:
            st["az"].stop()


class BlobTarget(_Azure):
    """hamustro-blob-sink into azurite: one gzip'd JSON-lines block blob
    per batch, named from the batch's offsets: exactly one copy."""

    name = "blob"
    sink = "abs"
    program = "blob-sink"
    section = "abs"
    service = "blob"
    load_rate = 300
    scenarios = CLOUD_SCENARIOS | {"outage-crash"}
    container = "hm-faults"

    def prepare(self, c, route):
        if self.name not in c.emu:
            self._start(c).ok("PUT", "/" + self.container, "restype=container")

    def section_config(self, c, route):
        s = self._azure_section(c)
        s.update({"container": self.container, "blob_path": "%s/{date}/" % route,
                  "file_format": "json", "part_size": PART_SIZE})
        return s

    def read(self, c, route):
        a = self.state(c)["az"]
        got = collections.Counter()
        for name in a.list_blobs(self.container, route + "/"):
            _, data = a.get_blob(self.container, name)
            _json_keys(gzip.decompress(data), got)
        return got


class QueueTarget(_Azure):
    """hamustro-queue-sink into azurite: one message per event (base64 of
    its JSON line). Read without deleting (messages made invisible for an
    hour), so the count is taken once, at the end. At least once:
    duplicates counted."""

    name = "queue"
    sink = "aqs"
    program = "queue-sink"
    section = "aqs"
    service = "queue"
    duplicates_allowed = True
    # ~220 events/s. azurite's Get Messages slows with the queue's length
    # (at 22,000 messages the read back took two minutes), so fewer here.
    load_rate = 40

    @staticmethod
    def _queue(route):
        return "hm-faults-" + route

    def prepare(self, c, route):
        if self.name not in c.emu:
            self._start(c)
        self.state(c)["az"].ok("PUT", "/" + self._queue(route))

    def section_config(self, c, route):
        s = self._azure_section(c)
        s["queue_name"] = self._queue(route)
        return s

    def read(self, c, route):
        a = self.state(c)["az"]
        got = collections.Counter()
        empty = 0
        while empty < 3:
            _, data = a.ok("GET", "/%s/messages" % self._queue(route),
                           "numofmessages=32&visibilitytimeout=3600")
            texts = [m.findtext("MessageText") or ""
                     for m in ET.fromstring(data).iter("QueueMessage")]
            empty = 0 if texts else empty + 1
            for t in texts:
                _json_keys(base64.b64decode(t, validate=True), got)
        return got

    def count_fast(self, c, route):
        hdrs, _ = self.state(c)["az"].ok("GET", "/" + self._queue(route), "comp=metadata")
        return int(hdrs.get("x-ms-approximate-messages-count", 0))


# Every target the suite runs against; `run.py --target NAME` picks some.
TARGETS = [FileTarget(), S3Target(), BlobTarget(), SnsTarget(), QueueTarget()]
