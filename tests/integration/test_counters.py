"""Counters that add up (issue 15 part 2): a known workload through the
real ingest, router (run under strace, which counts its fdatasync calls)
and file sink, then every counter checked for its exact value: the
ingest's answers by status code, accepted requests and events; the
router's appends, events, group-commit rounds and fsyncs (the loop's own
fdatasync in "fsync" durability was not counted: "fsyncs": 0 after a
thousand appends); the route's events in, batches sealed and
acknowledged, deliveries; batches redelivered after a sink is killed
with -9; per sink instance (S3 sink behind a fault-injecting front of
the emulators): dead-lettered events, attempts, retries by reason class
and the backend request latency histogram's count. The ingest's counters
are also checked as the router's /metrics exports them (the ingest
reports them to the router over its append link about once a second,
labelled ingest_instance), by status code, accepted requests and events,
and the latency histogram holding every answer; a 503 is made by stopping
the router for longer than the ingest's router_timeout_ms."""

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
        # strace, the router's parent, detaches and exits on SIGTERM and
        # leaves the router running: whatever happens below, it goes too.
        with open("/proc/%d/task/%d/children" % (p.procs["router"].pid,
                                                 p.procs["router"].pid)) as f:
            router_pid = int(f.read().split()[0])

        def kill_router():
            try:
                os.kill(router_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.addCleanup(kill_router)

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
        # The same in the Prometheus text, and the restarted instance's own
        # counters (the killed one's went with it): every batch stored by
        # it, one attempt each, each timed, nothing held or in flight.
        sealed = r["batches_sealed"]
        route, inst = '{route="archive",sink="file"}', \
            '{route="archive",sink="file",sink_instance="archive:0"}'
        want = {"hamustro_route_redeliveries_total" + route: 2,
                "hamustro_route_batches_sent_total" + route: sealed + 2,
                "hamustro_route_sink_died_total" + route: 1,
                "hamustro_route_sink_joined_total" + route: 2,
                "hamustro_route_requeued_total" + route: 2,
                "hamustro_route_lag_events" + route: 0,
                "hamustro_sink_batches_total" + inst: sealed,
                "hamustro_sink_events_total" + inst: 12,
                "hamustro_sink_attempts_total" + inst: sealed,
                "hamustro_sink_retries_total" + inst: 0,
                "hamustro_sink_backend_request_seconds_count" + inst: sealed,
                "hamustro_sink_batches_held" + inst: 0,
                "hamustro_sink_batches_in_flight" + inst: 0}
        self.assertTrue(h.wait_for(lambda: h.metrics_match(p, want), timeout=30),
                        "want %r\n%s" % (want, h.scrape_metrics(p)))


# --- per sink instance counters (attempts, retries by reason, latency) -------

S3_INST = '{route="s3",sink="s3",sink_instance="s3:0"}'
S3_ROUTE = '{route="s3",sink="s3"}'
REASONS = ("connect", "timeout", "throttled", "auth", "http_4xx", "http_5xx", "io", "other")


def with_label(labels, key, value):
    return labels[:-1] + ',%s="%s"}' % (key, value)


class SinkCounters(unittest.TestCase):
    """The S3 sink behind a fault-injecting front of the real emulators
    (s3rver behind the SigV4-verifying proxy): one batch refused for good
    (400: dead-lettered), then one answered 503 K times and 429 once before
    it is stored. Every per instance counter is known exactly: one attempt
    per PUT the front saw, each in the latency histogram; the retries by
    reason class; the dead-lettered events in the sink's, the route's
    counters and the dead-letter file."""

    def setUp(self):
        import aws_helpers as aws
        self.aws = aws
        self.p = h.Pipeline(sink={"retry_min_ms": 50, "retry_max_ms": 200})
        self.emu = aws.Emulators(os.path.join(self.p.dir, "emulators"))
        self.addCleanup(self.p.close)
        self.addCleanup(self.emu.stop_all)
        s3_port, proxy_port = h.free_port(), h.free_port()
        self.emu.start("s3rver", s3_port)
        self.emu.start("sigv4-proxy", proxy_port, s3_port)
        aws.s3_create_bucket(proxy_port, "hm-events")
        self.proxy_port = proxy_port
        self.front = aws.FaultProxy(proxy_port)
        self.addCleanup(self.front.close)

    def metrics(self):
        return h.metrics_samples(h.scrape_metrics(self.p))

    def wait_metrics(self, want):
        self.assertTrue(h.wait_for(lambda: h.metrics_match(self.p, want), timeout=60),
                        "want %r\n%s" % (want, h.scrape_metrics(self.p)))

    @h.dump_on_failure
    def test_dead_letters_and_retries_by_reason(self):
        K, DEAD, STORED = 3, 4, 5
        self.p.config["routes"] = {"s3": {
            "sink": "s3", "max_events": 1000, "max_age": 0.3,
            "s3": {"region": self.aws.REGION, "endpoint": "http://127.0.0.1:%d" % self.front.port,
                   "access_key_id": self.aws.AKID, "secret_access_key": self.aws.SECRET,
                   "bucket": "hm-events", "blob_path": "events/", "file_format": "json"}}}
        self.p.write_config()
        # The first PUT is refused for good: the whole batch is dead-lettered.
        self.front.inject((400, "InvalidArgument"))
        self.p.start_all()
        self.assertEqual(self.p.track_retry(
            h.encode_collection(h.make_collection(DEAD, device="dead")))[0], 200)
        self.p.flush()
        self.wait_metrics({"hamustro_route_events_dead_lettered_total" + S3_ROUTE: DEAD,
                           "hamustro_route_lag_events" + S3_ROUTE: 0})

        # The next batch: 503 K times, 429 once, then stored.
        self.front.inject(*([(503, None)] * K + [(429, None)]))
        self.assertEqual(self.p.track_retry(
            h.encode_collection(h.make_collection(STORED, device="stored")))[0], 200)
        self.p.flush()
        self.wait_metrics({"hamustro_route_events_delivered_total" + S3_ROUTE: STORED,
                           "hamustro_route_lag_events" + S3_ROUTE: 0,
                           "hamustro_sink_batches_held" + S3_INST: 0})

        s = self.metrics()
        puts = self.front.count("PUT")
        self.assertEqual(puts, 1 + K + 1 + 1)  # refused, K 503s, the 429, the stored one
        self.assertEqual(self.front.count("POST"), 0)  # no multipart upload
        want = {
            "hamustro_sink_attempts_total" + S3_INST: puts,
            "hamustro_sink_retries_total" + S3_INST: K + 1,
            # Both batches were settled (stored or dead-lettered) and ACKed.
            "hamustro_sink_batches_total" + S3_INST: 2,
            "hamustro_sink_events_total" + S3_INST: DEAD + STORED,
            "hamustro_sink_dead_lettered_total" + S3_INST: DEAD,
            "hamustro_sink_batches_in_flight" + S3_INST: 0,
            "hamustro_sink_backend_request_seconds_count" + S3_INST: puts,
            "hamustro_route_events_dead_lettered_total" + S3_ROUTE: DEAD,
            "hamustro_route_events_delivered_total" + S3_ROUTE: STORED,
            "hamustro_route_events_accepted_total" + S3_ROUTE: DEAD + STORED,
            "hamustro_route_batches_acked_total" + S3_ROUTE: 2,
            "hamustro_route_redeliveries_total" + S3_ROUTE: 0,
            "hamustro_route_nacks_total" + S3_ROUTE: 0,
        }
        self.assertEqual({k: s.get(k) for k in want}, want)
        by_reason = {r: s.get(with_label("hamustro_sink_retries_by_reason_total" + S3_INST,
                                         "reason", r)) for r in REASONS}
        self.assertEqual(by_reason, dict({r: 0 for r in REASONS}, http_5xx=K, throttled=1))
        self.assertEqual(s[with_label("hamustro_sink_backend_request_seconds_bucket" + S3_INST,
                                      "le", "+Inf")], puts)
        self.assertGreater(s["hamustro_sink_backend_request_seconds_sum" + S3_INST], 0)

        # The dead-letter file holds exactly the refused batch, with S3's reason.
        dl = os.path.join(self.p.dir, "data", "dead-letter", "s3.jsonl")
        with open(dl) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), DEAD, lines)
        for line in lines:
            self.assertIn("InvalidArgument", line["reason"])
            self.assertEqual(line["event"]["device_id"], "dead")
        # And S3 exactly the other one.
        keys = self.aws.s3_list(self.proxy_port, "hm-events", "events/")
        self.assertEqual(len(keys), 1, keys)


if __name__ == "__main__":
    unittest.main()
