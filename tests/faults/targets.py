"""Target descriptions: everything the fault scenarios need to know about
one kind of sink, so a scenario is written once and runs against every
target. A target says

  name                the table's "target" column
  sink                the route's "sink" value
  program             its program, hamustro-PROGRAM (file-sink, s3-sink, blob-sink, ...)
  duplicates_allowed  per-message targets (SNS, queues) are at least once
  prepare(c, route)   called before the pipeline starts (directories,
                      emulators, buckets, ...); returns the route's config
  read(c, route)      Counter {(session, nr): copies} of what the target holds
  outage_start / outage_end (c, route)
                      the backend unavailable, then back (None: no scenario)
  credentials_break / credentials_fix (c, route)
                      wrong credentials, then right ones (None: not applicable)

To add S3, Blob, SNS or Queue: write a class like FileTarget that starts
its emulator in prepare (tests/emulators/), reads the emulator's objects or
messages in read, stops and restarts the emulator for the outage, and swaps
the route's keys for the credentials scenario; then add it to TARGETS. The
scenarios pick it up; a scenario a target cannot support is reported as N/A
in the table."""

import collections
import gzip
import json
import os


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
    credentials_break = None
    credentials_fix = None

    @staticmethod
    def _paths(c, route):
        return (os.path.join(c.dir, "out-%s" % route), os.path.join(c.dir, "store-%s" % route))

    @staticmethod
    def route_config(base, route, **limits):
        cfg = {"sink": "file", "max_events": 2000, "max_age": 0.3,
               "file": {"file_path": os.path.join(base, "out-%s" % route, "{date}"),
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


# Every target the suite runs against today. The cloud sinks do not exist
# yet; their entries go here when they do.
TARGETS = [FileTarget()]
