"""The fault suite's machinery: a pipeline run under a real supervisord, a
load generator, the router's status, and the accounting that compares what
clients were answered 200 for with what reached the target.

A Cluster is a tests/integration/harness.py Pipeline (temporary directory,
config, free port) whose programs are started by supervisord from a
supervisord.conf generated from what `make run` starts (hamustro-ctl
supervisord-conf for the config, under deploy/supervisord.conf): the same program
sections (priorities, stop signals, autorestart), with the command pointed
at this build and this directory, one sink program per route, and each
program's output in its own log file so a scenario can read it.

Counting: every (session, nr) answered 200 (hamustro-send --record) must be
delivered. Duplicates are split by cause, because one cause is allowed and
the other is a bug:
  - "resent": an event that is in the router's log more than once, in
    records with different batch ids. A client was answered 503 (router
    timeout, killed router) for a request the router had already written,
    and sent it again, as ARCHITECTURE section 2 tells it to. Counted, never
    a failure: HTTP cannot tell the client otherwise.
  - "duplicates": copies the target holds beyond the copies in the log (a
    batch stored twice under different names, a record appended twice for
    one request). For file, S3 and Blob targets each must be zero.
The log is read directly (segments: 16-byte header, then the
AppendRequest). Where segments were deleted before the count (scenarios
that test the log's bound or segment deletion) the log's count is partial;
then hamustro-send's own count of sends (--record's third column, for a
request sent more than once) says how many copies the client's resends
explain, and any copy beyond that is a duplicate."""

import collections
import configparser
import glob
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness as h  # noqa: E402

DIRS = []  # every cluster's directory, so the runner can keep or remove them

def _template(config_path):
    """The program sections `make run` would start for the config."""
    r = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "supervisord-conf", config_path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise AssertionError("supervisord-conf: %s" % r.stderr.decode(errors="replace"))
    cp = configparser.RawConfigParser()
    cp.read_string(r.stdout.decode())
    return cp


# --- protobuf reading (just what the accounting needs) -------------------------

def _varint(buf, i):
    shift = 0
    v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one message's top level."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = buf[i:i + ln]
            i += ln
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def event_key(ev):
    """(session, nr) of an hm.Event."""
    session, nr = None, 0
    for num, _, v in _fields(ev):
        if num == 3:
            session = bytes(v).decode()
        elif num == 4:
            nr = v
    return session, nr


def read_log(data_dir):
    """Every record of the router's log: {(session, nr): [batch_id, ...]}.
    Stops at a segment's first damaged or partial record, as the router does."""
    copies = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(data_dir, "log", "*.seg"))):
        data = memoryview(h.read_bytes(path))
        pos = 0
        while pos + 16 <= len(data):
            ln, _crc, _seq = struct.unpack_from("<IIQ", data, pos)
            if pos + 16 + ln > len(data):
                break
            rec = data[pos + 16:pos + 16 + ln]
            pos += 16 + ln
            batch_id = None
            events = []
            try:
                for num, _, v in _fields(rec):
                    if num == 1:
                        batch_id = v
                    elif num == 2:
                        events.append(event_key(v))
            except (ValueError, IndexError):
                break
            for k in events:
                copies[k].append(batch_id)
    return copies


# --- supervisord -----------------------------------------------------------------

def _program(cp, section, overrides):
    """The template's program section with overrides, as conf text."""
    keys = dict(cp.items(section)) if cp.has_section(section) else {}
    keys.update(overrides)
    return "[%s]\n%s\n" % (section, "\n".join("%s=%s" % kv for kv in keys.items()))


def _alive(pid):
    """True while pid exists and is not a zombie (an orphan's zombie waits
    for init to reap it; it holds nothing any more)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Cluster(h.Pipeline):
    """A Pipeline under supervisord. routes: {name: route config}; sinks are
    started per route as program "sink-NAME" (process "sink-NAME:sink-NAME-1")."""

    def __init__(self, name, routes, **overrides):
        """routes: {name: (target, {route config overrides})}."""
        router = {"segment_bytes": 1 << 30, "heartbeat_ms": 200, "sink_timeout_ms": 1000}
        router.update(overrides.pop("router", {}))
        sink = {"credit": 2, "retry_min_ms": 50, "retry_max_ms": 500}
        sink.update(overrides.pop("sink", {}))
        # faults=True: the router runs with tests/faults/faultshim.c preloaded,
        # its rules in DIR/faults (arm_faults).
        self.faults = overrides.pop("faults", False)
        super().__init__(router=router, sink=sink, **overrides)
        self.name = name
        DIRS.append(self.dir)
        self.target_of = {r: t for r, (t, _) in routes.items()}
        self.emu = {}                   # the cloud targets' emulators (targets.py)
        try:
            # prepare first: a cloud route's section names the emulator's
            # port, topic or queue that prepare made.
            for r, t in self.target_of.items():
                t.prepare(self, r)
            self.config["routes"] = {r: t.route_config(self, r, **limits)
                                     for r, (t, limits) in routes.items()}
        except BaseException:
            self._cleanup_targets()
            raise
        self.write_config()
        self.sup = None
        self.sup_out = None
        self.problems = []              # failures that are not counts (unclean exits, ...)
        self.notes = []                 # what the table's notes column says
        self.records = []               # --record files of every load run
        self.catchup = None             # drain_backlog's measure, if the scenario has one
        self.sup_conf = os.path.join(self.dir, "supervisord.conf")
        self.write_supervisord_conf()

    # supervisord
    def write_supervisord_conf(self):
        cp = _template(self.config_path)
        d = self.dir
        out = ["[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\n"
               "pidfile=%s/supervisord.pid\nchilddir=%s\nloglevel=info\n" % (d, d, d),
               "[unix_http_server]\nfile=%s/supervisor.sock\n" % d,
               "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = "
               "supervisor.rpcinterface:make_main_rpcinterface\n",
               "[supervisorctl]\nserverurl=unix://%s/supervisor.sock\n" % d]
        out[0] = out[0].replace("childdir", "childlogdir")

        def common(prog, args=""):
            return {"command": "%s --config %s%s" % (os.path.join(os.path.abspath(h.BIN),
                                                                  "hamustro-" + prog),
                                                     self.config_path, args),
                    "directory": d, "autorestart": "true", "startretries": "20",
                    "stdout_logfile": os.path.join(d, "%s.log" % prog),
                    "stdout_logfile_maxbytes": "0", "redirect_stderr": "true"}
        router = common("router")
        if self.faults:
            asan = os.environ.get("ASAN_OPTIONS", "")
            # A preloaded library comes before ASan's runtime: tell ASan that is fine.
            asan = (asan + ":" if asan else "") + "verify_asan_link_order=0"
            router["environment"] = 'LD_PRELOAD="%s",HM_FAULTS="%s",ASAN_OPTIONS="%s"' % (
                os.path.abspath(FAULTSHIM), os.path.join(d, "faults"), asan)
        out.append(_program(cp, "program:router", router))
        out.append(_program(cp, "program:ingest", common("ingest")))
        for rname, r in self.config["routes"].items():
            program = self.target_of[rname].program  # e.g. "file-sink", "blob-sink"
            o = common(program, " --route %s" % rname)
            o["stdout_logfile"] = os.path.join(d, "sink-%s.log" % rname)
            o["numprocs"] = "1"
            out.append(_program(cp, "program:sink-%s" % rname, o))
        with open(self.sup_conf, "w") as f:
            f.write("\n".join(out))

    def arm_faults(self, rules):
        """Replaces the router's fault rules (faultshim.c): a new file renamed
        over the old, so the shim sees a new inode and reloads."""
        path = os.path.join(self.dir, "faults")
        with open(path + ".tmp", "w") as f:
            f.write(rules + "\n")
        os.rename(path + ".tmp", path)

    def sink_process(self, route):
        return "sink-%s:sink-%s-1" % (route, route)

    def sup_start(self, timeout=30):
        env = dict(os.environ)
        for k in ("HAMUSTRO_CONFIG", "HAMUSTRO_PORT", "HAMUSTRO_HOST"):
            env.pop(k, None)
        if self.sup_out is None:
            self.sup_out = open(os.path.join(self.dir, "supervisord.out"), "ab")
        self.sup = subprocess.Popen(["supervisord", "-n", "-c", self.sup_conf], env=env,
                                    stdout=self.sup_out, stderr=subprocess.STDOUT,
                                    cwd=self.dir)
        self.wait_healthy(timeout)
        self.wait_running(timeout)
        return self

    start_all = sup_start

    def ctl(self, *args, timeout=20):
        r = subprocess.run(["supervisorctl", "-c", self.sup_conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return r.stdout.decode()

    def states(self):
        out = {}
        for line in self.ctl("status").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                pid = None
                if parts[1] == "RUNNING" and len(parts) >= 4:
                    pid = int(parts[3].rstrip(","))
                out[parts[0]] = (parts[1], pid)
        return out

    def pid(self, name):
        st = self.states().get(name)
        return st[1] if st else None

    def wait_running(self, timeout=30, names=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.states()
            want = names or list(st)
            if st and all(st.get(n, ("?",))[0] == "RUNNING" for n in want):
                return st
            time.sleep(0.2)
        raise AssertionError("%s: not RUNNING: %s" % (self.name, self.states()))

    def kill9(self, name):
        """kill -9 a program; waits until supervisord has restarted it."""
        before = self.pid(name)
        if not before:
            raise AssertionError("%s is not running" % name)
        os.kill(before, signal.SIGKILL)
        t0 = time.time()
        deadline = t0 + 30
        while time.time() < deadline:
            now = self.pid(name)
            if now and now != before:
                return time.time() - t0
            time.sleep(0.1)
        raise AssertionError("%s was not restarted after kill -9" % name)

    def sup_stop(self, timeout=90):
        """SIGTERM to supervisord: every program stops in priority order.
        An unclean exit of any program is a problem."""
        if not self.sup:
            return
        mark = self.sup_log_size()
        self.sup.send_signal(signal.SIGTERM)
        try:
            rc = self.sup.wait(timeout)
        except subprocess.TimeoutExpired:
            self.sup.kill()
            rc = self.sup.wait()
            self.problems.append("supervisord did not stop within %ds" % timeout)
        self.sup = None
        if rc != 0:
            self.problems.append("supervisord exited %s" % rc)
        for line in self.sup_log(mark).splitlines():
            if " stopped: " in line and "(exit status 0)" not in line:
                self.problems.append("unclean stop: " + line.split(" stopped: ", 1)[1])
        # Every program has now run its exit path (LeakSanitizer's too).
        for line in self.sanitizer_reports():
            if "sanitizer: " + line not in self.problems:
                self.problems.append("sanitizer: " + line)

    def power_off(self):
        """A power cut for the processes: supervisord first (so it restarts
        nothing), then every program, SIGKILLed back to back; returns once
        all are gone. The run directory (sockets, pid files) goes too, as a
        tmpfs /run would. The disk's side of the cut is CutFs.cut."""
        pids = [pid for _, pid in self.states().values() if pid]
        self.sup.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.sup.wait()
        self.sup = None
        deadline = time.time() + 20
        while any(_alive(pid) for pid in pids):
            if time.time() > deadline:
                raise AssertionError("power_off: still running: %s" % [p for p in pids if _alive(p)])
            time.sleep(0.05)
        run_dir = self.config["router"]["run_dir"]
        for name in os.listdir(run_dir):
            os.unlink(os.path.join(run_dir, name))

    def sup_log_size(self):
        try:
            return os.path.getsize(os.path.join(self.dir, "supervisord.log"))
        except OSError:
            return 0

    def sup_log(self, since=0):
        try:
            with open(os.path.join(self.dir, "supervisord.log"), "rb") as f:
                f.seek(since)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def program_log(self, name):
        try:
            return h.read_bytes(os.path.join(self.dir, name + ".log")).decode(errors="replace")
        except OSError:
            return ""

    def close(self, keep=False, check=True):
        """check: unused; sanitizer reports are sup_stop's problems."""
        if self.sup and self.sup.poll() is None:
            self.sup.send_signal(signal.SIGTERM)
            try:
                self.sup.wait(60)
            except subprocess.TimeoutExpired:
                self.sup.kill()
                self.sup.wait()
        if self.sup_out:
            self.sup_out.close()
        self._cleanup_targets()
        # Sanitizer reports are problems of the scenario (sup_stop), not a crash here.
        super().close(keep=keep, check=False)

    def _cleanup_targets(self):
        for t in {id(t): t for t in self.target_of.values()}.values():
            try:
                t.cleanup(self)
            except Exception as e:  # noqa: BLE001 - cleanup must reach the others
                print("cleanup of %s: %s" % (t.name, e), file=sys.stderr)

    def tail_logs(self, n=3000):
        out = []
        for name in ["supervisord", "router", "ingest"] + ["sink-%s" % r for r in
                                                           self.config["routes"]]:
            text = self.program_log(name)
            if text:
                out.append("---- %s ----\n%s" % (name, text[-n:]))
        return "\n".join(out)

    # the router
    def status(self, timeout_ms=3000):
        r = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "--config", self.config_path,
                            "--timeout", str(timeout_ms), "status", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout_ms / 1000 + 10)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout.decode())

    def wait_caught_up(self, timeout=120, routes=None):
        """Seconds until every route (or those named) has committed the whole
        log, or None. Asks for a flush now and then so open batches go out."""
        t0 = time.time()
        last_flush = 0
        while time.time() - t0 < timeout:
            st = self.status()
            if st:
                rs = [r for r in st["routes"] if routes is None or r["name"] in routes]
                done = st["log"]["pending_replies"] == 0 and all(
                    r["lag"] == 0 and r["open_events"] == 0 and r["queued"] == 0
                    and r["inflight"] == 0 for r in rs)
                if done:
                    return time.time() - t0
            if time.time() - last_flush > 2:
                subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "--config",
                                self.config_path, "--timeout", "2000", "flush"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
                last_flush = time.time()
            time.sleep(0.2)
        self.problems.append("routes did not catch up within %ds: %s" % (
            timeout, json.dumps(self.status())))
        return None

    def wait_status(self, predicate, timeout=120):
        """The router's status once predicate(status) holds; None after
        timeout seconds. For 'until X happened' in place of a guess at how
        long X takes (sanitizer builds on 2 busy CPUs are many times slower)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status(timeout_ms=1000)
            if st and predicate(st):
                return st
            time.sleep(0.1)
        return None

    def wait_load_seconds(self, seconds=1.0, timeout=120):
        """Waits until the router has taken about `seconds` of the last
        load's events (rate x 5 events, 1-10 per request) from now on: the
        load flows. False after timeout."""
        st = self.status(timeout_ms=1000)
        goal = (st["counters"]["events"] if st else 0) + int(self.last_rate * 5 * seconds)
        return self.wait_status(lambda s: s["counters"]["events"] >= goal, timeout) is not None

    def drain_backlog(self, routes=None, timeout=120):
        """Called at a repair (program back, target back, sink started),
        while the load goes on: seconds until every route (or those named)
        has committed everything the log held at that moment. Kept as the
        scenario's catch-up time."""
        t0 = time.time()
        goal = None
        while time.time() - t0 < timeout:
            st = self.status(timeout_ms=1000)
            if st and goal is None:
                goal = st["log"]["durable_seq"]
            if st and all(r["committed"] >= goal for r in st["routes"]
                          if routes is None or r["name"] in routes):
                self.catchup = time.time() - t0
                return self.catchup
            time.sleep(0.1)
        self.problems.append("the backlog at the repair was not delivered within %ds" % timeout)
        return None

    # load
    def load(self, duration, concurrency=8, payloads="1-10", rate=None, retry=60, extra=()):
        """rate: requests/s; by default the slowest route target's load_rate
        (a per-message emulator takes far fewer events/s than a file)."""
        if rate is None:
            rate = min(t.load_rate for t in self.target_of.values())
        rec = os.path.join(self.dir, "acked-%d.tsv" % len(self.records))
        self.records.append(rec)
        self.last_rate = rate
        return Load(self, rec, duration, concurrency, payloads, rate, retry, extra)

    def acked(self, sends=None):
        """(session, nr) answered 200; sends as in harness.read_record."""
        pairs = []
        for rec in self.records:
            pairs += h.read_record(rec, sends)
        return pairs

    # accounting
    def account(self, routes=None, catchup=None):
        """Counts per route: list of dicts for the table."""
        sends = {}
        acked = self.acked(sends)
        acked_set = set(acked)
        log = read_log(self.config["router"]["data_dir"])
        rows = []
        for rname in routes or list(self.config["routes"]):
            target = self.target_of[rname]
            delivered = target.read(self, rname)
            missing = [k for k in acked_set if k not in delivered]
            dups = resent = 0
            for k, n in delivered.items():
                batches = log.get(k, [])
                if k in acked_set:
                    # One copy per send of its request by the client (a send
                    # answered 503 may have been stored all the same), and
                    # never more: the log's record count is no excuse, as a
                    # pipeline that appended a request twice (two batch ids)
                    # shows two records. Deleted segments only show fewer.
                    allowed = sends.get(k, 1)
                else:
                    # Never answered 200, so hamustro-send did not record its
                    # sends: the log's distinct records are the only count.
                    allowed = max(1, len(set(batches)))
                dups += max(0, n - allowed, len(set(batches)) - allowed)
                # the same batch appended twice is the pipeline's doing
                dups += len(batches) - len(set(batches))
                resent += max(0, len(set(batches)) - 1, min(n, sends.get(k, 1)) - 1)
            extra = sum(1 for k in delivered if k not in acked_set)
            rows.append({"route": rname, "target": target.name,
                         "acked": len(acked_set), "acked_twice": len(acked) - len(acked_set),
                         "delivered": len(delivered), "missing": len(missing),
                         "missing_sample": missing[:5], "duplicates": dups,
                         "dups_allowed": target.duplicates_allowed, "resent": resent,
                         "extra": extra, "catchup": catchup})
        return rows


class Load:
    """hamustro-send in the background: signed, several kept-alive
    connections, 1-10 events per collection, 503s resent after Retry-After."""

    def __init__(self, cluster, record, duration, concurrency, payloads, rate, retry, extra):
        cmd = [os.path.join(h.BIN, "hamustro-send"), "--config", cluster.config_path,
               "--url", "http://127.0.0.1:%d/api/v1/track" % cluster.port,
               "--concurrency", str(concurrency), "--duration", str(duration),
               "--payloads", payloads, "--retry", str(retry), "--timeout", "15",
               "--record", record, "--quiet", "--json-summary"] + list(extra)
        if rate:
            cmd += ["--rate", str(rate)]
        self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.summary = None

    def stop(self):
        """SIGINT: hamustro-send starts nothing more (a resend it was waiting
        for ends as its last answer, 503) and exits once in flight is done."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout=300):
        out, err = self.proc.communicate(timeout=timeout)
        self.ended = time.time()
        text = out.decode()
        for line in text.splitlines():
            if line.startswith("{"):
                self.summary = json.loads(line)
        if self.summary is None:
            raise AssertionError("hamustro-send gave no summary (rc %s): %s %s" % (
                self.proc.returncode, text[-500:], err.decode()[-500:]))
        return self.summary


class PySender:
    """Threads POSTing large collections (payloads x parameter bytes), each
    with its own device, recording (session, nr) of every event answered
    200. A 503 or a broken connection is resent after a pause, as a client
    keeps its events until it sees 200."""

    def __init__(self, cluster, threads=12, payloads=25, param_bytes=4096, duration=5.0):
        self.cluster = cluster
        self.rec = os.path.join(cluster.dir, "acked-%d.tsv" % len(cluster.records))
        cluster.records.append(self.rec)
        self.lock = threading.Lock()
        self.out = open(self.rec, "a")
        self.stop_at = time.time() + duration
        self.payloads, self.param_bytes = payloads, param_bytes
        self.counts = collections.Counter()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        device = "big-%d-%s" % (i, os.urandom(6).hex())
        nr = 1
        filler = ("x" * self.param_bytes)
        while time.time() < self.stop_at:
            c = h.make_collection(self.payloads, device=device, start_nr=nr)
            for p in c["payloads"]:
                p["parameters"] = [("blob", filler), ("k", str(p["nr"]))]
            body = h.encode_collection(c)
            for _attempt in range(60):
                try:
                    status, headers, _ = self.cluster.track(body)
                except OSError:
                    status, headers = 0, {}
                with self.lock:
                    self.counts[status] += 1
                if status == 200:
                    # As hamustro-send --record: a third column with the
                    # number of sends when the request went more than once
                    # (a send answered 503 or cut may have been stored too).
                    extra = "\t%d" % (_attempt + 1) if _attempt else ""
                    with self.lock:
                        for p in c["payloads"]:
                            self.out.write("%s\t%d%s\n" % (c["session"], p["nr"], extra))
                    break
                time.sleep(float(headers.get("retry-after", 0.5) or 0.5))
            nr += self.payloads

    def wait(self):
        for t in self.threads:
            t.join()
        self.out.close()
        return dict(self.counts)


# --- a disk that can lose power -----------------------------------------------------

FAULTSHIM = os.environ.get("HAMUSTRO_FAULTSHIM") or os.path.join(h.BIN, "..", "tests",
                                                                  "libhm_faultshim.so")
CUTFS = os.environ.get("HAMUSTRO_CUTFS") or os.path.join(h.BIN, "..", "tests", "cutfs")


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CutFs:
    """tests/faults/cutfs.c mounted at `mount`: an in-memory filesystem that
    keeps what was fsync'd apart from what was only written, and on cut()
    throws away what a power cut could (see cutfs.c). sync_us: how long
    each fsync takes. Unmounted on close."""

    def __init__(self, mount, sync_us=0):
        if not os.path.exists("/dev/fuse"):
            # the kernel has FUSE (a VM's /dev may lack the node): make it
            os.mknod("/dev/fuse", 0o666 | stat.S_IFCHR, os.makedev(10, 229))
        os.makedirs(mount, exist_ok=True)
        self.mount = mount
        self.log = open(mount + ".log", "ab")
        self.proc = subprocess.Popen([CUTFS, mount, str(sync_us)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.ismount(mount):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise AssertionError("cutfs did not mount %s (see %s.log)" % (mount, mount))
            time.sleep(0.05)

    def _command(self, text):
        with open(os.path.join(self.mount, ".cutfs"), "w") as f:
            f.write(text)

    def off(self):
        """The instant the power goes: from now on every operation fails
        (EIO) and nothing more becomes durable, until cut()."""
        self._command("off")

    def off_after(self, writes, timeout=10):
        """The power goes right after the writes-th write from now (so the
        cut lands between a write and its fsync). Falls back to off() if
        that many writes do not come within timeout; returns whether the
        armed cut fired."""
        self._command("off after %d" % writes)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.state()["off"] == "1":
                return True
            time.sleep(0.02)
        self.off()
        return False

    def state(self):
        with open(os.path.join(self.mount, ".cutfs")) as f:
            return dict(line.split(None, 1) for line in f.read().splitlines())

    def cut(self, mode):
        """mode: "drop" or "random SEED". Every process writing here must be
        dead. Returns cutfs's counters of the cut; the mount is back on."""
        self._command("cut " + mode)
        return self.state()

    def selftest(self):
        """The model's rules, checked on this mount: problems found (empty
        if it drops what it must and keeps what it must)."""
        d = os.path.join(self.mount, "selftest")
        os.mkdir(d)
        fsync_dir(self.mount)

        def put(name, data, sync):
            fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            if sync:
                os.fsync(fd)
            os.close(fd)
        put("kept", b"synced", True)
        put("renamed.tmp", b"R", True)
        fsync_dir(d)
        with open(os.path.join(d, "kept"), "ab") as f:
            f.write(b" and unsynced")                   # data never synced
        os.rename(os.path.join(d, "renamed.tmp"), os.path.join(d, "renamed"))  # name never synced
        put("unnamed", b"x", True)                      # data synced, name not
        stats = self.cut("drop")
        problems = []
        names = sorted(os.listdir(d))
        if names != ["kept", "renamed.tmp"]:
            problems.append("cutfs selftest: names after the cut %s, want kept, renamed.tmp" % names)
        elif h.read_bytes(os.path.join(d, "kept")) != b"synced":
            problems.append("cutfs selftest: unsynced append survived the cut")
        if int(stats.get("bytes_dropped", 0)) < len(b" and unsynced"):
            problems.append("cutfs selftest: cut reported %s" % stats)
        for n in names:
            os.unlink(os.path.join(d, n))
        os.rmdir(d)
        fsync_dir(self.mount)
        return problems

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.ismount(self.mount):
            subprocess.run(["umount", "-l", self.mount], check=False)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
