"""Integration test harness: starts the real Hamustro programs on 127.0.0.1
in a temporary directory, speaks the client protocol, and reads back what the
sinks wrote. Standard library only, so a fresh Debian machine needs nothing
but python3.

The protobuf encoder here is a few lines of the wire format (varints and
length-delimited fields) for the original client messages in
proto/payload.proto, so the tests build bodies exactly as a client would."""

import base64
import functools
import glob
import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = os.environ.get("HAMUSTRO_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SRC = os.environ.get("HAMUSTRO_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
SECRET = "ultrasafesecret"

ENV_NAMES = ["PRODUCTION", "GENERAL_AVAILABILITY", "RELEASE_TO_MARKETING",
             "RELEASE_CANDIDATE", "BETA", "ALPHA", "WEEKLY", "NIGHTLY", "STAGING",
             "QUALITY_ASSURANCE", "TESTING", "DEVELOPMENT"]


# --- client protocol --------------------------------------------------------

def signature(body, t, secret=SECRET):
    inner = "%s|%s|%s" % (t, hashlib.md5(body).hexdigest(), secret)
    return base64.b64encode(hashlib.sha256(inner.encode()).digest()).decode()


def session(device_id, client_id, system_version, product_version, env):
    s = "%s:%s:%s:%s:%d" % (device_id, client_id, system_version, product_version, env)
    return hashlib.md5(s.encode()).hexdigest()


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_varint(num, value):
    return _varint(num << 3) + _varint(value)


def _field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return _varint((num << 3) | 2) + _varint(len(data)) + data


COLLECTION_FIELDS = [("device_id", 1), ("client_id", 2), ("session", 3),
                     ("system_version", 4), ("product_version", 5), ("env", 6),
                     ("device_make", 7), ("device_model", 8), ("system", 9),
                     ("system_language", 10), ("browser", 11), ("browser_version", 12),
                     ("product_git_hash", 13), ("product_language", 14)]
PAYLOAD_FIELDS = [("at", 1), ("event", 2), ("nr", 3), ("timezone", 4), ("tenant_id", 5),
                  ("user_id", 6), ("ip", 7), ("country", 8)]


def encode_collection(c):
    """c: dict with the original field names; payloads a list of dicts;
    parameters a list of (name, value)."""
    out = bytearray()
    for name, num in COLLECTION_FIELDS:
        if name in c and c[name] is not None:
            v = c[name]
            out += _field_varint(num, v) if name == "env" else _field_bytes(num, v)
    for p in c.get("payloads", []):
        pb = bytearray()
        for name, num in PAYLOAD_FIELDS:
            if name in p and p[name] is not None:
                v = p[name]
                pb += _field_varint(num, v) if name in ("at", "nr") else _field_bytes(num, v)
        for pname, pvalue in p.get("parameters", []):
            pb += _field_bytes(9, _field_bytes(1, pname) + _field_bytes(2, pvalue))
        out += _field_bytes(15, bytes(pb))
    return bytes(out)


def collection_json(c, camel=False):
    def key(k):
        if not camel:
            return k
        parts = k.split("_")
        return parts[0] + "".join(x.title() for x in parts[1:])
    out = {}
    for name, _ in COLLECTION_FIELDS:
        if name in c and c[name] is not None:
            out[key(name)] = ENV_NAMES[c[name]] if name == "env" else c[name]
    payloads = []
    for p in c.get("payloads", []):
        q = {}
        for name, _ in PAYLOAD_FIELDS:
            if name in p and p[name] is not None:
                q[key(name)] = str(p[name]) if name == "at" else p[name]
        if p.get("parameters"):
            q["parameters"] = [{"name": n, "value": v} for n, v in p["parameters"]]
        payloads.append(q)
    if payloads:
        out["payloads"] = payloads
    return json.dumps(out).encode()


def make_collection(n_payloads=1, device="a73b1c37-2c24-4786-af7a-16de88fbe23a",
                    client="bce44f67b2661fd445d469b525b04f68", env=11, start_nr=1, **extra):
    c = {"device_id": device, "client_id": client, "system_version": "10.10",
         "product_version": "1.1.2", "env": env}
    c.update({k: v for k, v in extra.items() if k in dict(COLLECTION_FIELDS)})
    c["session"] = session(c["device_id"], c["client_id"], c["system_version"],
                           c["product_version"], c["env"])
    c["payloads"] = [{"at": 1454514088 + i, "event": "Client.Test", "nr": start_nr + i,
                      "timezone": "+01:00", "parameters": [("k", str(i))]}
                     for i in range(n_payloads)]
    return c


# --- processes --------------------------------------------------------------

def dump_on_failure(fn):
    """For a test method of a class that holds its Pipeline as self.p: on a
    failure, print what each program logged before the temporary directory
    goes."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except BaseException:
            for name in list(self.p.logs):
                print("---- %s log ----\n%s" % (name, self.p.log_text(name)[-4000:]))
            raise
    return wrapper


# Seconds a program gets between SIGTERM and SIGKILL at a test's end;
# generous, for sanitizer builds on a busy machine.
STOP_TIMEOUT = 60

# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print.
SANITIZER_MARKS = ("runtime error", "Sanitizer")


def sanitizer_reports_in(text):
    """The sanitizer lines in a program's output."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]


def sanitizer_reports(paths):
    """'path: line' for every sanitizer line in the given files."""
    found = []
    for path in paths:
        try:
            text = read_bytes(path).decode(errors="replace")
        except OSError:
            continue
        found += ["%s: %s" % (os.path.basename(path), line) for line in sanitizer_reports_in(text)]
    return found


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Pipeline:
    """A temporary directory with a config and the programs started from it."""

    def __init__(self, routes=None, **overrides):
        self.dir = tempfile.mkdtemp(prefix="hm-it-")
        self.port = free_port()
        self.metrics_port = free_port()
        self.procs = {}
        self.logs = {}
        cfg = {
            "shared_secret": SECRET,
            "signature": "required",
            "maintenance_key": "mk",
            "ingest": {"host": "127.0.0.1", "port": self.port, "router_timeout_ms": 3000,
                       "retry_after": 1, "max_body_bytes": 1048576},
            "router": {"run_dir": os.path.join(self.dir, "run"),
                       "data_dir": os.path.join(self.dir, "data"),
                       "heartbeat_ms": 200, "sink_timeout_ms": 1000,
                       "metrics_listen": "127.0.0.1:%d" % self.metrics_port},
            "sink": {"credit": 2, "retry_min_ms": 50, "retry_max_ms": 500},
            "routes": routes or {
                "archive": {"sink": "file", "max_events": 1000, "max_age": 0.3,
                            "file": {"file_path": os.path.join(self.dir, "out", "{date}"),
                                     "file_format": "json", "compress": True}}},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                cfg[key].update(value)
            else:
                cfg[key] = value
        self.config = cfg
        self.config_path = os.path.join(self.dir, "hamustro.json")
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    # programs
    def start(self, name, *args, env_extra=None, use_config=True, prefix=None):
        """name: 'router', 'ingest', 'file-sink', or 'file-sink#2' for a second instance.
        use_config=False: no --config, so the program takes its embedded default.
        prefix: argv put before the program, e.g. ["ip", "netns", "exec", NS]
        (which execs it: the process started is the program itself)."""
        prog = name.split("#")[0]
        if name in self.logs:
            self.logs.pop(name).close()
        log = open(os.path.join(self.dir, name.replace("#", "-") + ".log"), "ab")
        env = dict(os.environ)
        env.pop("HAMUSTRO_CONFIG", None)
        env.pop("HAMUSTRO_PORT", None)
        env.pop("HAMUSTRO_HOST", None)
        env.update(env_extra or {})
        config = ["--config", self.config_path] if use_config else []
        p = subprocess.Popen(list(prefix or []) + [os.path.join(BIN, "hamustro-" + prog)] +
                             config + list(args),
                             stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, env=env)
        self.procs[name] = p
        self.logs[name] = log
        return p

    def start_all(self):
        self.start("router")
        # Route sink names are the original dialects; abs/aqs run as blob/queue.
        programs = {"abs": "blob", "aqs": "queue"}
        for rname, r in self.config["routes"].items():
            name = "%s-sink" % programs.get(r["sink"], r["sink"])
            # A second route of the same sink needs its own name, else the
            # first process is forgotten (and never stopped).
            self.start(name if name not in self.procs else "%s#%s" % (name, rname),
                       "--route", rname)
        self.start("ingest")
        self.wait_healthy()
        return self

    def stop(self, name, sig=signal.SIGTERM, timeout=30):
        p = self.procs.get(name)
        if not p:
            return None
        if p.poll() is None:
            p.send_signal(sig)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            raise AssertionError("%s did not exit within %ds after %s" % (name, timeout, sig))
        del self.procs[name]
        return rc

    def stop_all(self, sig=signal.SIGTERM):
        rcs = {}
        for name in ["ingest", "router"] + [n for n in list(self.procs) if "sink" in n]:
            if name in self.procs:
                rcs[name] = self.stop(name, sig)
        return rcs

    def log_text(self, name):
        path = os.path.join(self.dir, name.replace("#", "-") + ".log")
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop_leftovers(self, timeout=STOP_TIMEOUT):
        """Stops every program still running as supervisord would: SIGTERM,
        a bounded wait, SIGKILL only then. A SIGKILL at once would skip the
        exit path, and with it LeakSanitizer's report and every leak check.
        Returns the problems: programs that needed SIGKILL."""
        problems = []
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + timeout
        for name in list(self.procs):
            p = self.procs.pop(name)
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                problems.append("%s did not exit within %ds after SIGTERM" % (name, timeout))
        return problems

    def log_paths(self):
        """Every file a program of this pipeline wrote its output to: each
        started program's stdout/stderr, supervisord's, and the config's
        logfile (and what logrotate-style tests moved it to)."""
        # *.out: supervisord's own output, where programs logging to
        # /dev/stdout under it (deploy/supervisord.conf) end up.
        paths = glob.glob(os.path.join(self.dir, "*.log")) + \
            glob.glob(os.path.join(self.dir, "*.log.*")) + \
            glob.glob(os.path.join(self.dir, "*.out"))
        if self.config.get("logfile"):
            paths.append(self.config["logfile"])
        return sorted(set(paths))

    def sanitizer_reports(self):
        return sanitizer_reports(self.log_paths())

    def close(self, keep=False, check=True):
        """Stops what still runs (SIGTERM first), then fails on a sanitizer
        report in any program's output or a program that ignored SIGTERM
        (check=False: only clean up, e.g. after a test already failed)."""
        problems = self.stop_leftovers()
        for log in self.logs.values():
            log.close()
        problems += self.sanitizer_reports()
        if problems and check:
            keep = True
        if not keep and not os.environ.get("HM_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems and check:
            raise AssertionError("at stop (kept %s):\n%s" % (self.dir, "\n".join(problems)))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for name in self.logs:
                try:
                    print("---- %s log ----\n%s" % (name, self.log_text(name)[-4000:]))
                except OSError:
                    pass
        # A test that already failed keeps its own error; its logs were printed.
        self.close(check=exc_type is None)

    # HTTP
    def connection(self, timeout=10, source=None):
        """A connection to the ingest (not yet opened). source: the local
        address to connect from (any 127.x.y.z works on Linux), so a test can
        be a trusted proxy or a stranger. A pipeline that serves HTTPS
        (test_tls) overrides this, and request() and all that uses it follow."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)

    def request(self, method, path, body=None, headers=None, timeout=10, source=None):
        conn = self.connection(timeout, source)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            conn.close()

    def track(self, body, content_type="application/protobuf", signed=True, t="1454514088",
              secret=SECRET, extra=None, source=None):
        headers = {"Content-Type": content_type} if content_type else {}
        if signed:
            headers["X-Hamustro-Time"] = t
            headers["X-Hamustro-Signature"] = signature(body, t, secret)
        headers.update(extra or {})
        return self.request("POST", "/api/v1/track", body, headers, source=source)

    def track_retry(self, body, *args, timeout=15, **kwargs):
        """track() as a client does it: a 503 (e.g. the ingest's router socket
        still connecting right after start) is sent again after a moment."""
        deadline = time.time() + timeout
        while True:
            answer = self.track(body, *args, **kwargs)
            if answer[0] != 503 or time.time() >= deadline:
                return answer
            time.sleep(0.2)

    def wait_healthy(self, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise AssertionError("%s exited with %s:\n%s" % (
                        name, p.returncode, self.log_text(name)[-3000:]))
            try:
                status, _, body = self.request("GET", "/api/health", timeout=2)
                if status == 200:
                    return
                last = (status, body)
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("pipeline not healthy after %ds: %r" % (timeout, last))

    def flush(self):
        """Seals every open batch now: POST /api/flush, or, with no
        maintenance key configured (the default config), hamustro-ctl flush."""
        if not self.config.get("maintenance_key"):
            r = subprocess.run([os.path.join(BIN, "hamustro-ctl"), "--config", self.config_path,
                                "flush"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=30)
            assert r.returncode == 0, r.stdout
            return
        key = hashlib.sha256(self.config["maintenance_key"].encode()).hexdigest()
        status, _, body = self.request("POST", "/api/flush",
                                       headers={"X-Hamustro-Maintenance-Key": key})
        assert status == 200, (status, body)

    def router_status(self, timeout_ms=3000):
        """hamustro-ctl status as a dict; None while the router does not answer."""
        r = subprocess.run([os.path.join(BIN, "hamustro-ctl"), "--config", self.config_path,
                            "--timeout", str(timeout_ms), "status", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout_ms / 1000 + 10)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout.decode())

    def wait_committed(self, timeout=120):
        """Waits until the router says every route has committed its whole
        log: nothing open, sealed, queued or in flight, and no append waits
        for its reply. A sink acknowledges only what its backend holds, so
        the output is then final: the moment to check for duplicates (a
        fixed pause only hopes a late write has landed)."""
        deadline = time.time() + timeout
        last_flush, st = 0, None
        while time.time() < deadline:
            st = self.router_status()
            if st and st["log"]["pending_replies"] == 0 and all(
                    r["committed"] == st["log"]["next_seq"] - 1 and r["lag"] == 0
                    and r["open_events"] == 0 and r["sealed"] == 0 and r["queued"] == 0
                    and r["inflight"] == 0 for r in st["routes"]):
                return st
            if time.time() - last_flush > 1:
                subprocess.run([os.path.join(BIN, "hamustro-ctl"), "--config",
                                self.config_path, "--timeout", "2000", "flush"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
                last_flush = time.time()
            time.sleep(0.1)
        raise AssertionError("routes did not commit the whole log within %ds: %s"
                             % (timeout, json.dumps(st)))

    def wait_appended(self, events, timeout=120):
        """Waits until the router has appended at least `events` events in
        all (a load is flowing); returns the status."""
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.router_status()
            if st and st["counters"]["events"] >= events:
                return st
            time.sleep(0.1)
        raise AssertionError("the router did not append %d events within %ds: %s"
                             % (events, timeout, json.dumps(st)))

    # output
    def output_files(self, route="archive"):
        r = self.config["routes"][route]["file"]
        base = r["file_path"].split("{")[0]
        files = []
        for root, _, names in os.walk(base):
            files += [os.path.join(root, n) for n in names if not n.startswith(".")]
        return sorted(files)

    def temp_files(self, route="archive"):
        """Every temporary file (the file sink's ".NAME.PID.tmp") anywhere
        under a route's output: output_files() skips dot-files, so a leaked
        one is seen only here."""
        base = self.config["routes"][route]["file"]["file_path"].split("{")[0]
        found = []
        for root, _, names in os.walk(base):
            found += [os.path.join(root, n) for n in names
                      if n.startswith(".") and n.endswith(".tmp")]
        return sorted(found)

    def output_lines(self, route="archive"):
        """(path, line as bytes) for every line of every output file of a route."""
        for path in self.output_files(route):
            data = read_bytes(path)
            if path.endswith(".gz"):
                data = gzip.decompress(data)
            for line in data.splitlines():
                yield path, line

    def read_events(self, route="archive"):
        """Every JSON line of every output file of a route."""
        return [json.loads(line) for _, line in self.output_lines(route)]

    def wait_events(self, count, route="archive", timeout=60):
        """Flushes and waits until a route's files hold at least count events."""
        deadline = time.time() + timeout
        n = -1
        while time.time() < deadline:
            try:
                self.flush()
            except (AssertionError, OSError):
                pass
            n = len(self.read_events(route))
            if n >= count:
                return self.read_events(route)
            time.sleep(0.3)
        raise AssertionError("only %d of %d events arrived on route %s" % (n, count, route))


def in_ci():
    """Whether this is a CI run (CI set, as .ci/run and CI services do)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip(reason):
    """Ends a test program that cannot run here: exit 77 (ctest: skipped),
    but exit 1 under CI, which must run every test (a skip is not a pass)."""
    if in_ci():
        print("FAIL: %s (CI must run this test; CI=%s)" % (reason, os.environ["CI"]))
        sys.exit(1)
    print("skipped: %s" % reason)
    sys.exit(77)


class Tap:
    """hamustro-tap in the background, its JSON lines collected as they come."""

    def __init__(self, config_path, *args, argv=None):
        """argv: the whole command line instead (e.g. as the README has it)."""
        cmd = argv or [os.path.join(BIN, "hamustro-tap"), "--config", config_path] + list(args)
        self.proc = subprocess.Popen(cmd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))

    def events(self):
        with self._lock:
            return [json.loads(line) for line in self.lines if line.startswith("{")]

    def wait_subscribed(self, publish, timeout=60):
        """PUB/SUB passes only what is published once the subscription is
        up: calls publish() (which must append something to the router)
        until the tap has printed an event; how many times it was called."""
        deadline = time.time() + timeout
        calls = 0
        while True:
            publish()
            calls += 1
            if wait_for(lambda: self.events(), 1.0):
                return calls
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("the tap printed nothing within %ds (exit %s): %s" % (
                    timeout, self.proc.poll(), self.proc.stderr.read1(4096)
                    if self.proc.poll() is not None else ""))

    def close(self):
        """For a cleanup: ends the tap if a failed test left it running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=30):
        """SIGTERM; returns (exit status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("hamustro-tap did not stop within %ds of SIGTERM" % timeout)
        self._reader.join(10)
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err


def wait_for(predicate, timeout=10):
    """Polls predicate until it is true or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def signal_pending(pid, sig):
    """Whether signal sig waits for delivery to process pid or any of its
    threads (/proc status SigPnd, ShdPnd). False once it was taken (by a
    handler, sigwait or the default action) or the process is gone."""
    bit = 1 << (sig - 1)
    try:
        paths = [os.path.join("/proc/%d/task" % pid, t, "status")
                 for t in os.listdir("/proc/%d/task" % pid)]
        for path in paths:
            with open(path) as f:
                for line in f:
                    if line.startswith(("SigPnd:", "ShdPnd:")) and \
                            int(line.split()[1], 16) & bit:
                        return True
    except (FileNotFoundError, ProcessLookupError):
        return False
    return False


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def scrape_metrics(pipeline):
    """The router's Prometheus text (router.metrics_listen); "" if it does not answer."""
    url = "http://127.0.0.1:%d/metrics" % pipeline.metrics_port
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()
    except OSError:
        return ""


def metrics_samples(text):
    """{'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def metrics_match(pipeline, want):
    """Whether every series in want ({'name{labels}': value}) has its value now."""
    got = metrics_samples(scrape_metrics(pipeline))
    return all(got.get(k) == v for k, v in want.items())


def send_tool(pipeline, *args, timeout=600):
    """Runs hamustro-send against the pipeline; returns (rc, stdout)."""
    cmd = [os.path.join(BIN, "hamustro-send"), "--config", pipeline.config_path,
           "--url", "http://127.0.0.1:%d/api/v1/track" % pipeline.port] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def send_summary(output):
    """The --json-summary object in hamustro-send's output ({} if none)."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def read_record(path, sends=None):
    """The (session, nr) pairs hamustro-send recorded as answered 200. If
    sends is a dict, it gets {(session, nr): times its request was sent}
    for those sent more than once (a third column)."""
    pairs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    cols = line.split("\t")
                    key = (cols[0], int(cols[1]))
                    pairs.append(key)
                    if len(cols) > 2 and sends is not None:
                        sends[key] = max(sends.get(key, 1), int(cols[2]))
    return pairs
