"""Counters that add up (issue 15 part 2): a known workload through the
real ingest, router (run under strace, which counts its fdatasync calls)
and file sink, then every counter checked for its exact value: the
ingest's answers by status code, accepted requests and events; the
router's appends, events, group-commit rounds and fsyncs (the loop's own
fdatasync in "fsync" durability was not counted: "fsyncs": 0 after a
thousand appends); the route's events in, batches sealed and
acknowledged, deliveries. The ingest's counters are also checked as the
router's /metrics exports them (the ingest reports them to the router
over its append link about once a second, labelled ingest_instance), by
status code, accepted requests and events, and the latency histogram
holding every answer; a 503 is made by stopping the router for longer
than the ingest's router_timeout_ms."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

KEY = {"X-Hamustro-Maintenance-Key": hashlib.sha256(b"mk").hexdigest()}
REQUESTS, EVENTS_EACH = 40, 3
INGEST = "edge-1"  # ingest.name: its ingest_instance label


def ingest_series(p):
    """The ingest's series in the router's /metrics, without the
    ingest_instance label: {"responses{code}": v, ...}; {} if absent."""
    prefix = 'ingest_instance="%s"' % INGEST
    out = {}
    for key, value in h.metrics_samples(h.scrape_metrics(p)).items():
        if not key.startswith("hamustro_ingest_") or "{" not in key:
            continue
        name, labels = key[len("hamustro_ingest_"):-1].split("{", 1)
        rest = [lab for lab in labels.split(",") if lab != prefix]
        if len(rest) == len(labels.split(",")):
            continue  # another ingest
        out[name + ("{%s}" % ",".join(rest) if rest else "")] = value
    return out


def refusals(m):
    """{cause: count} of hamustro_ingest_refusals_total in ingest_series."""
    return {k[len('refusals_total{reason="'):-2]: v for k, v in m.items()
            if k.startswith("refusals_total{")}


def wait_ingest_metrics(test, p, stats):
    """Waits until the router exports the ingest's counters as they are in
    stats (its GET /api/stats, which counts itself: nothing else is asked
    of the ingest meanwhile) and returns them."""
    def codes(m):
        return {k[len('responses_total{code="'):-2]: v for k, v in m.items()
                if k.startswith("responses_total{")}
    want = {k: float(v) for k, v in stats["answers"].items()}
    got = {}

    def same():
        nonlocal got
        got = ingest_series(p)
        return codes(got) == want and \
            got.get("accepted_requests_total") == stats["track_accepted"] and \
            got.get("accepted_events_total") == stats["events_accepted"]
    test.assertTrue(h.wait_for(same, timeout=30), "metrics %r, stats %r" % (got, stats))
    return codes(got), got


def strace_fdatasyncs(path):
    """fdatasync calls begun, as strace -f wrote them so far (a call another
    thread interrupts shows as "fdatasync(5 <unfinished ...>" then a
    "<... fdatasync resumed>" line: the first counts, the second not)."""
    with open(path, errors="replace") as f:
        return sum(1 for line in f if "fdatasync(" in line)


class Counters(unittest.TestCase):
    @h.dump_on_failure
    def test_known_workload(self):
        if not shutil.which("strace"):
            self.fail("strace is needed (Debian package strace)")
        p = self.p = h.Pipeline(ingest={"max_body_bytes": 65536, "name": INGEST})
        trace = os.path.join(p.dir, "router.strace")
        # The router under strace: every fdatasync of every thread, one a line.
        log = open(os.path.join(p.dir, "router.log"), "ab")
        p.logs["router"] = log
        p.procs["router"] = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=fdatasync", "-o", trace,
             os.path.join(h.BIN, "hamustro-router"), "--config", p.config_path],
            stdout=log, stderr=subprocess.STDOUT, cwd=p.dir,
            # LeakSanitizer cannot run under ptrace (it says so as a fatal
            # error at exit): in a sanitizer build this one process goes
            # without the leak check; every other test's router has it.
            env=dict(os.environ, ASAN_OPTIONS=":".join(
                filter(None, [os.environ.get("ASAN_OPTIONS", ""), "detect_leaks=0"]))))
        p.start("file-sink", "--route", "archive")
        p.start("ingest")
        p.wait_healthy()

        def stats():
            status, _, body = p.request("GET", "/api/stats", headers=KEY)
            self.assertEqual(status, 200, body)
            return json.loads(body)

        # Once the ingest reaches the router (a 503 meanwhile is retried),
        # every answer below is known: one accepted event before the count.
        good = h.encode_collection(h.make_collection(1))
        self.assertEqual(p.track_retry(good)[0], 200)
        before = stats()
        # The router's /metrics has the same (nothing else is asked meanwhile).
        codes_before, m_before = wait_ingest_metrics(self, p, before)
        for i in range(REQUESTS):
            c = h.make_collection(EVENTS_EACH, device="dev-%d" % i)
            status, _, body = p.track(h.encode_collection(c))
            self.assertEqual(status, 200, body)
        self.assertEqual(p.track(b"\x0a\xff\xff garbage")[0], 400)
        self.assertEqual(p.track(b"\x0a\xff\xff garbage")[0], 400)
        self.assertEqual(p.track(good, secret="wrong")[0], 401)
        self.assertEqual(p.track(b"x" * 70000)[0], 413)
        self.assertEqual(p.track(good, content_type="text/plain")[0], 415)
        after = stats()

        # The ingest: each answer by its code; the first stats request is
        # counted once it is answered, so it is in the difference.
        diff = {k: after["answers"][k] - before["answers"][k] for k in after["answers"]}
        want = {k: 0 for k in after["answers"]}
        want.update({"200": REQUESTS + 1, "400": 2, "401": 1, "413": 1, "415": 1})
        self.assertEqual(diff, want)
        self.assertEqual(after["track_accepted"] - before["track_accepted"], REQUESTS)
        self.assertEqual(after["events_accepted"] - before["events_accepted"],
                         REQUESTS * EVENTS_EACH)

        # The same through the router's /metrics: each code exactly (the
        # second stats request is one more 200), accepted requests and
        # events, and the latency histogram holds every answer.
        codes_after, m_after = wait_ingest_metrics(self, p, after)
        mdiff = {k: codes_after[k] - codes_before[k] for k in codes_after}
        self.assertEqual(mdiff, {k: float(v) for k, v in want.items()})
        self.assertEqual(m_after["accepted_requests_total"] - m_before["accepted_requests_total"],
                         REQUESTS)
        self.assertEqual(m_after["accepted_events_total"] - m_before["accepted_events_total"],
                         REQUESTS * EVENTS_EACH)
        self.assertEqual(m_after["request_duration_seconds_count"], sum(codes_after.values()))
        self.assertEqual(m_after['request_duration_seconds_bucket{le="+Inf"}'],
                         sum(codes_after.values()))
        self.assertGreater(m_after["request_duration_seconds_sum"], 0)
        for why in ("head", "body", "linger", "full"):
            self.assertEqual(m_after['closed_slow_total{reason="%s"}' % why], 0, why)
        # The refusals by cause, which the codes alone do not tell apart.
        rdiff = {k: v - refusals(m_before)[k] for k, v in refusals(m_after).items()}
        want_ref = {k: 0.0 for k in rdiff}
        want_ref.update({"decode": 2.0, "signature": 1.0, "body_too_large": 1.0,
                         "content_type": 1.0})
        self.assertEqual(rdiff, want_ref)

        # The router: what the ingest accepted, appended once each.
        st = p.wait_committed()
        c = st["counters"]
        self.assertEqual(c["appended"], REQUESTS + 1)
        self.assertEqual(c["events"], REQUESTS * EVENTS_EACH + 1)
        self.assertEqual(st["log"]["next_seq"] - 1, REQUESTS + 1)
        for k in ("injected", "full", "errors", "malformed", "write_errors", "sync_errors"):
            self.assertEqual(c[k], 0, k)
        self.assertEqual(st["durability"], "fsync")
        # "fsync" durability: every round is synced before it is answered,
        # so at least one fdatasync a round, and fsyncs is every call made.
        self.assertGreaterEqual(c["rounds"], 1)
        self.assertGreaterEqual(c["fsyncs"], c["rounds"])
        self.assertEqual(c["fsyncs"], strace_fdatasyncs(trace))

        # The route: every event in, every sealed batch acknowledged.
        (r,) = st["routes"]
        self.assertEqual(r["events_in"], REQUESTS * EVENTS_EACH + 1)
        self.assertEqual(r["events_kept"], REQUESTS * EVENTS_EACH + 1)
        self.assertEqual(r["records"], REQUESTS + 1)
        self.assertEqual(r["committed"], REQUESTS + 1)
        self.assertEqual(r["lag"], 0)
        self.assertGreaterEqual(r["batches_sealed"], 1)
        self.assertEqual(r["batches_acked"], r["batches_sealed"])
        self.assertEqual(r["delivered"], r["batches_sealed"])
        self.assertEqual(r["redelivered"], 0)
        self.assertEqual(r["nacks"], 0)
        self.assertEqual(len(p.read_events()), REQUESTS * EVENTS_EACH + 1)

        # 503 with the router up but not answering within router_timeout_ms
        # (stopped, then resumed): the ingest answers 503, and its report,
        # queued meanwhile, reaches the router once it runs again.
        strace = p.procs["router"]
        with open("/proc/%d/task/%d/children" % (strace.pid, strace.pid)) as f:
            router_pid = int(f.read().split()[0])
        os.kill(router_pid, signal.SIGSTOP)
        try:
            self.assertEqual(p.track(good)[0], 503)
        finally:
            os.kill(router_pid, signal.SIGCONT)
        codes_late, m_late = wait_ingest_metrics(self, p, stats())
        want = {k: 0.0 for k in codes_late}
        want.update({"503": 1.0, "200": 1.0})  # the stall, and the stats request
        self.assertEqual({k: codes_late[k] - codes_after[k] for k in codes_late}, want)
        self.assertEqual(m_late["accepted_events_total"], m_after["accepted_events_total"])
        rdiff = {k: v - refusals(m_after)[k] for k, v in refusals(m_late).items()}
        want_ref = {k: 0.0 for k in rdiff}
        want_ref["router_timeout"] = 1.0
        self.assertEqual(rdiff, want_ref)

        # 503: the router stopped, the ingest answers Service Unavailable.
        # Stop the router itself (strace, its parent, does not pass SIGTERM on).
        os.kill(router_pid, signal.SIGTERM)
        p.stop("router")
        deadline = time.time() + 30
        while True:
            status = p.track(good)[0]
            if status == 503 or time.time() > deadline:
                break
        self.assertEqual(status, 503)
        self.assertGreaterEqual(stats()["answers"]["503"] - after["answers"]["503"], 1)
        p.close()

    @h.dump_on_failure
    def test_redelivered_after_sink_kill(self):
        """Batches in flight to a sink killed with -9 go out again, once each:
        the route counts them as redelivered, the dead instance once, and
        every sealed batch is acknowledged exactly once."""
        p = self.p = h.Pipeline().start_all()
        self.addCleanup(p.close)
        sink = p.procs["file-sink"]
        # The sink has said READY (its credit is what it is stopped holding).
        self.assertTrue(h.wait_for(lambda: p.router_status()["routes"][0]["instances"], 60))
        os.kill(sink.pid, signal.SIGSTOP)  # takes batches, answers none
        for i in range(6):
            self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(2)))[0], 200)
            p.flush()  # one batch a request
        deadline = time.time() + 60
        while True:
            st = p.router_status()
            (r,) = st["routes"]
            if r["inflight"] == 2 or time.time() > deadline:  # credit 2
                break
            time.sleep(0.1)
        self.assertEqual(r["inflight"], 2, st)
        os.kill(sink.pid, signal.SIGKILL)
        sink.wait(30)
        p.start("file-sink", "--route", "archive")
        st = p.wait_committed()
        (r,) = st["routes"]
        # How many batches: the route stops reading while its sink holds its
        # credit, so later requests may share one; each is acknowledged once.
        self.assertGreaterEqual(r["batches_sealed"], 3)
        self.assertEqual(r["batches_acked"], r["batches_sealed"])
        self.assertEqual(r["redelivered"], 2)
        # "delivered" counts batches sent, the resends included.
        self.assertEqual(r["delivered"], r["batches_sealed"] + 2)
        self.assertEqual(r["died"], 1)
        self.assertEqual(r["joined"], 2)
        self.assertEqual(r["events_in"], 12)
        self.assertEqual(st["counters"]["events"], 12)
        self.assertEqual(len(p.read_events()), 12)


if __name__ == "__main__":
    unittest.main()
