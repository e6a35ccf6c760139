"""What the S3 and SNS sink tests share: the emulators (start.sh / stop.sh
in a test's own HM_EMULATOR_DIR), a SigV4 signer written here from the
published algorithm (so reading back does not use the code under test),
small S3 / SNS / SQS clients on http.client, and the events a collection
becomes (ARCHITECTURE section 5) for field-by-field comparison.
Standard library only."""

import csv
import hashlib
import hmac
import http.client
import io
import json
import os
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import harness as h

EMU = os.path.join(h.SRC, "tests", "emulators")
AKID = "S3RVER"
SECRET = "S3RVER"
REGION = "us-east-1"

COLUMNS = ["device_id", "client_id", "session", "nr", "env", "system_version",
           "product_version", "at", "timezone", "event", "device_make", "device_model",
           "system", "system_language", "browser", "browser_version", "product_git_hash",
           "product_language", "user_id", "tenant_id", "ip", "country", "parameters"]


# --- emulators ----------------------------------------------------------------

class Emulators:
    """Emulators of one test, state under dir (kept across stop/start)."""

    def __init__(self, dir_):
        if not os.path.isdir(os.path.join(EMU, "node_modules")):
            raise AssertionError("tests/emulators/node_modules is missing: run "
                                 "tests/emulators/setup.sh (make deps) first")
        self.dir = dir_
        self.running = []

    def _env(self):
        env = dict(os.environ)
        env["HM_EMULATOR_DIR"] = self.dir
        return env

    def start(self, name, port, *extra):
        p = subprocess.run([os.path.join(EMU, "start.sh"), name, str(port)] + [str(x) for x in extra],
                           env=self._env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=90)
        if p.returncode != 0:
            raise AssertionError("start.sh %s %s failed: %s" % (name, port, p.stderr.decode()))
        self.running.append((name, port))

    def stop(self, name, port):
        subprocess.run([os.path.join(EMU, "stop.sh"), name, str(port)], env=self._env(),
                       timeout=60)
        if (name, port) in self.running:
            self.running.remove((name, port))

    def stop_all(self):
        for name, port in list(reversed(self.running)):
            self.stop(name, port)


class FaultProxy:
    """A plain HTTP front for a real emulator (the sigv4-proxy) that answers
    the next requests with injected statuses, then forwards unchanged
    (Host included, so signatures still verify). plan: a list of (status,
    aws_error_code or None) taken one per request; empty: forward. Counts
    the requests it saw by method. Binds 127.0.0.1 only."""

    def __init__(self, upstream_port):
        import http.server
        import threading
        proxy = self
        self.upstream_port = upstream_port
        self.plan = []
        self.seen = {}
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with proxy.lock:
                    proxy.seen[self.command] = proxy.seen.get(self.command, 0) + 1
                    fault = proxy.plan.pop(0) if proxy.plan else None
                if fault:
                    status, code = fault
                    out = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                           "<Message>injected by the test</Message></Error>"
                           % (code or "Injected")).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        conn.putheader(k, v)
                    conn.endheaders(body)
                    r = conn.getresponse()
                    data = r.read()
                    self.send_response(r.status)
                    for k, v in r.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding",
                                             "connection", "date", "server"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, *faults):
        with self.lock:
            self.plan.extend(faults)

    def count(self, method):
        with self.lock:
            return self.seen.get(method, 0)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def proxy_stats(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/_sigv4proxy/stats")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


# --- SigV4 ----------------------------------------------------------------------

def _quote(s):
    return urllib.parse.quote(s, safe="-_.~")


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, host, path, query, headers, body, service, akid=AKID, secret=SECRET,
         region=REGION):
    """Headers to send (given ones plus Host, X-Amz-Date, Authorization...).
    path and query are as sent (already encoded)."""
    amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload = hashlib.sha256(body).hexdigest()
    out = dict(headers)
    out["Host"] = host
    out["X-Amz-Date"] = amz
    if service == "s3":
        out["X-Amz-Content-Sha256"] = payload
    canon = sorted((k.lower(), " ".join(str(v).split())) for k, v in out.items())
    signed = ";".join(k for k, _ in canon)
    pairs = []
    for part in (query or "").split("&"):
        if part:
            k, _, v = part.partition("=")
            pairs.append((_quote(urllib.parse.unquote(k)), _quote(urllib.parse.unquote(v))))
    creq = "\n".join([method, path, "&".join("%s=%s" % kv for kv in sorted(pairs)),
                      "".join("%s:%s\n" % kv for kv in canon), signed, payload])
    scope = "%s/%s/%s/aws4_request" % (amz[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz[:8], region, service, "aws4_request"):
        key = _hmac(key, part)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        akid, scope, signed, sig)
    return out


def aws_request(port, method, path, service, query=None, body=b"", headers=None):
    """A signed request to 127.0.0.1:port; returns (status, headers, body)."""
    host = "127.0.0.1:%d" % port
    hdrs = sign(method, host, path, query, headers or {}, body, service)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path + ("?" + query if query else ""), body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def _strip_ns(root):
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


# --- S3 --------------------------------------------------------------------------

def s3_create_bucket(port, bucket):
    status, _, body = aws_request(port, "PUT", "/" + bucket, "s3")
    assert status == 200, (status, body)


def s3_list(port, bucket, prefix=""):
    """Every key of the bucket (ListObjectsV2, following continuation)."""
    keys, token = [], None
    while True:
        q = "list-type=2&prefix=" + _quote(prefix)
        if token:
            q += "&continuation-token=" + _quote(token)
        status, _, body = aws_request(port, "GET", "/" + bucket, "s3", query=q)
        assert status == 200, (status, body)
        root = _strip_ns(ET.fromstring(body))
        keys += [c.findtext("Key") for c in root.findall("Contents")]
        if root.findtext("IsTruncated") != "true":
            return keys
        token = root.findtext("NextContinuationToken")


def s3_get(port, bucket, key):
    status, headers, body = aws_request(port, "GET", "/%s/%s" % (bucket, _quote_path(key)), "s3")
    assert status == 200, (status, key, body)
    return headers, body


def _quote_path(key):
    return urllib.parse.quote(key, safe="-_.~/")


# --- SNS (query API) and SQS (JSON API) -----------------------------------------

def sns_call(port, action, params):
    form = {"Action": action, "Version": "2010-03-31"}
    form.update(params)
    body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote).encode()
    status, _, data = aws_request(port, "POST", "/", "sns", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 200, (action, status, data)
    return _strip_ns(ET.fromstring(data))


def sqs_call(port, action, params):
    body = json.dumps(params).encode()
    status, _, data = aws_request(port, "POST", "/", "sqs", body=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + action})
    assert status == 200, (action, status, data)
    return json.loads(data) if data else {}


def sns_topic_with_queue(port, name, fifo=False):
    """A topic and an SQS queue subscribed to it with raw delivery; returns
    (topic_arn, queue_url)."""
    topic_params = {"Name": name + (".fifo" if fifo else "")}
    queue_attrs = {}
    if fifo:
        topic_params.update({"Attributes.entry.1.key": "FifoTopic",
                             "Attributes.entry.1.value": "true"})
        queue_attrs = {"FifoQueue": "true"}
    arn = sns_call(port, "CreateTopic", topic_params).find(".//TopicArn").text
    q = sqs_call(port, "CreateQueue", {"QueueName": name + "-q" + (".fifo" if fifo else ""),
                                       "Attributes": queue_attrs})
    url = q["QueueUrl"]
    qarn = sqs_call(port, "GetQueueAttributes", {"QueueUrl": url,
                                                 "AttributeNames": ["QueueArn"]})
    qarn = qarn["Attributes"]["QueueArn"]
    sns_call(port, "Subscribe", {"TopicArn": arn, "Protocol": "sqs", "Endpoint": qarn,
                                 "Attributes.entry.1.key": "RawMessageDelivery",
                                 "Attributes.entry.1.value": "true"})
    return arn, url


def sqs_receive_all(port, url, wait=1):
    """Receives (and deletes) until the queue gives nothing for one wait."""
    bodies = []
    while True:
        r = sqs_call(port, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                              "WaitTimeSeconds": wait})
        msgs = r.get("Messages", [])
        if not msgs:
            return bodies
        bodies += [m["Body"] for m in msgs]
        sqs_call(port, "DeleteMessageBatch", {"QueueUrl": url, "Entries": [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]})


def track(p, c, timeout=30):
    """Sends a collection as a client does: again after a 503 (the router
    not reachable yet, or busy), until 200."""
    deadline = time.time() + timeout
    while True:
        status, _, body = p.track(h.encode_collection(c))
        if status == 200:
            return
        assert status == 503 and time.time() < deadline, (status, body)
        time.sleep(0.2)


# --- expected events ----------------------------------------------------------

def expected_events(collections):
    """{(session, nr): event dict as the JSON line has it} for what was sent
    from 127.0.0.1 (no ip recorded)."""
    out = {}
    for c in collections:
        for p in c["payloads"]:
            e = {"device_id": c["device_id"], "client_id": c["client_id"],
                 "session": c["session"], "nr": p["nr"], "env": h.ENV_NAMES[c["env"]],
                 "system_version": c["system_version"], "product_version": c["product_version"],
                 "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["at"])),
                 "timezone": p.get("timezone", ""), "event": p["event"]}
            for k in ("device_make", "device_model", "system", "system_language", "browser",
                      "browser_version", "product_git_hash", "product_language"):
                if c.get(k):
                    e[k] = c[k]
            for k in ("user_id", "tenant_id", "country"):
                if p.get(k):
                    e[k] = p[k]
            e["parameters"] = json.dumps(dict(p.get("parameters", [])), sort_keys=True,
                                         separators=(",", ":"), ensure_ascii=False)
            out[(e["session"], e["nr"])] = e
    return out


def csv_events(text):
    """CSV records (\\001-separated) as dicts like the JSON lines (empty
    optional columns left out, nr as a number)."""
    out = []
    for row in csv.reader(io.StringIO(text), delimiter="\x01", quotechar='"'):
        assert len(row) == len(COLUMNS), row
        e = dict(zip(COLUMNS, row))
        e["nr"] = int(e["nr"])
        for k in COLUMNS[10:22]:
            if e[k] == "":
                del e[k]
        out.append(e)
    return out
