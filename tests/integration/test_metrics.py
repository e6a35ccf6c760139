#!/usr/bin/env python3
"""The router's Prometheus endpoint (router.metrics_listen, issue 15 part 1):
a live scrape passes `promtool check metrics`; a real Prometheus scraping it
sees the accepted events equal what hamustro-send had answered 200, and for
every route accepted = delivered + dead-lettered + lag once the pipeline
is idle; with a
route's sink stopped, that route's lag in seconds grows. The ingest's
counters reach the same target (reported to the router over its append
link): its accepted events equal N too, labelled with the ingest's name
(by default HOSTNAME:PORT)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REQUESTS, PAYLOADS = 20, 5
N = REQUESTS * PAYLOADS


def scrape(p):
    url = "http://127.0.0.1:%d/metrics" % p.metrics_port
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def routes_of(p):
    return list(p.config["routes"])


def ingest_label(p):
    """ingest_instance of the pipeline's ingest: no ingest.name is given, so
    the ingest's default, HOSTNAME:PORT."""
    port = ":%d" % p.port
    host = re.sub(r"[^A-Za-z0-9._:-]", "-", socket.gethostname())[:64 - len(port)]
    return 'ingest_instance="%s%s"' % (host, port)


def idle_and_counted(p):
    try:
        s = h.metrics_samples(scrape(p)[1])
    except (OSError, ValueError):
        return False
    if s.get("hamustro_router_events_total") != N:
        return False
    # The ingest's report: every event it answered 200 for, each request
    # answered 200 and counted in the latency histogram.
    ing = "{%s}" % ingest_label(p)
    if s.get("hamustro_ingest_accepted_events_total" + ing) != N or \
            s.get("hamustro_ingest_accepted_requests_total" + ing) != REQUESTS or \
            not s.get("hamustro_ingest_request_duration_seconds_count" + ing):
        return False
    for r in routes_of(p):
        lab = '{route="%s",sink="file"}' % r
        if s.get("hamustro_route_lag_events" + lab) != 0 or \
                s.get("hamustro_route_events_acked_total" + lab) != N:
            return False
        # The sink instance's own report (SinkStats on its messages).
        inst = '{route="%s",sink="file",sink_instance="%s:0"}' % (r, r)
        if s.get("hamustro_sink_events_total" + inst) != N or \
                s.get("hamustro_sink_batches_held" + inst) != 0 or \
                not s.get("hamustro_sink_last_success_timestamp_seconds" + inst):
            return False
    return True


def routes():
    d = tempfile.mkdtemp(prefix="hm-metrics-out-")
    return {name: {"sink": "file", "max_events": 1000, "max_age": 0.3,
                   "file": {"file_path": os.path.join(d, name, "{date}"),
                            "file_format": "json"}}
            for name in ("archive", "copy")}


class Metrics(unittest.TestCase):
    def check_sink_requests(self, s):
        for r in routes_of(self.p):
            sink_request_checks(self, s, r)

    @h.dump_on_failure
    def test_scrape_prometheus_and_lag(self):
        self.assertTrue(shutil.which("promtool") and shutil.which("prometheus"),
                        "promtool and prometheus (Debian package prometheus) are needed")
        with h.Pipeline(routes=routes()) as p:
            self.p = p
            p.start_all()
            rc, out = h.send_tool(p, "--count", str(REQUESTS), "--payloads", str(PAYLOADS),
                                  "--json-summary", "--quiet")
            self.assertEqual(rc, 0, out)
            self.assertTrue(h.wait_for(lambda: idle_and_counted(p), timeout=60),
                            scrape(p)[1])

            # (b) The live scrape is valid exposition text.
            ctype, text = scrape(p)
            self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
            chk = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.assertEqual(chk.returncode, 0, chk.stdout.decode() + text)
            s = h.metrics_samples(text)
            self.assertEqual(s["hamustro_route_sink_instances{route=\"archive\",sink=\"file\"}"], 1)
            self.assertGreater(s["hamustro_log_max_bytes"], 0)
            # The group commits' fdatasync histogram ("fsync" durability).
            self.assertGreater(s["hamustro_router_fdatasync_seconds_count"], 0)
            self.assertEqual(s['hamustro_router_fdatasync_seconds_bucket{le="+Inf"}'],
                             s["hamustro_router_fdatasync_seconds_count"])
            self.check_sink_requests(s)
            # Anything but GET /metrics is refused, not served.
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen("http://127.0.0.1:%d/other" % p.metrics_port, timeout=10)
            self.assertEqual(e.exception.code, 404)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p.metrics_port,
                                       data=b"x", timeout=10)
            self.assertEqual(e.exception.code, 405)
            code200 = 'hamustro_ingest_responses_total{%s,code="200"}' % ingest_label(p)
            self.assertGreaterEqual(s[code200], REQUESTS)
            self.assertEqual(
                s['hamustro_ingest_request_duration_seconds_bucket{%s,le="+Inf"}'
                  % ingest_label(p)],
                sum(v for k, v in s.items()
                    if k.startswith("hamustro_ingest_responses_total{")))
            self.assertEqual(s["hamustro_router_ingests"], 1)

            # (c) A real Prometheus scraping the router every second.
            prom = Prometheus(p)
            try:
                prom.wait_value("hamustro_router_events_total", N)
                # The ingest's accepted events, as hamustro-send sent them.
                prom.wait_value("hamustro_ingest_accepted_events_total{%s}" % ingest_label(p), N)
                prom.wait_value("sum(hamustro_ingest_accepted_events_total)", N)
                for r in routes_of(p):
                    prom.wait_value(
                        'hamustro_route_events_accepted_total{route="%s"}'
                        ' - hamustro_route_events_delivered_total{route="%s"}'
                        ' - hamustro_route_events_dead_lettered_total{route="%s"}'
                        ' - hamustro_route_lag_events{route="%s"}' % (r, r, r, r), 0)
                    prom.wait_value('hamustro_route_events_delivered_total{route="%s"}' % r, N)
                    # The sink instance's attempts, each timed, none retried.
                    sel = '{route="%s",sink_instance="%s:0"}' % (r, r)
                    prom.wait_true('hamustro_sink_attempts_total%s > 0' % sel)
                    prom.wait_value('hamustro_sink_attempts_total%s - '
                                    'hamustro_sink_backend_request_seconds_count%s' % (sel, sel), 0)
                    prom.wait_value('sum(hamustro_sink_retries_by_reason_total%s)' % sel, 0)
                    prom.wait_value('count(hamustro_sink_retries_by_reason_total%s)' % sel, 8)

                # A route without its sink: its lag in seconds grows.
                p.stop("file-sink")
                rc, out = h.send_tool(p, "--count", "1", "--payloads", "1", "--quiet")
                self.assertEqual(rc, 0, out)
                prom.wait_value('hamustro_route_sink_instances{route="archive"}', 0)
                prom.wait_true('hamustro_route_lag_seconds{route="archive"} > 2')
                first = prom.value('hamustro_route_lag_seconds{route="archive"}')
                prom.wait_true('hamustro_route_lag_seconds{route="archive"} > %f' % (first + 1))
                # The other route is delivered and idle.
                prom.wait_value('hamustro_route_lag_events{route="copy"}', 0)
            finally:
                prom.close()


def sink_request_checks(test, s, route):
    """The per instance request series of one idle file-sink route that
    never failed: one attempt per batch stored, each in the histogram."""
    inst = '{route="%s",sink="file",sink_instance="%s:0"}' % (route, route)
    attempts = s["hamustro_sink_attempts_total" + inst]
    test.assertEqual(attempts, s["hamustro_sink_batches_total" + inst])
    test.assertEqual(s["hamustro_sink_backend_request_seconds_count" + inst], attempts)
    le_inf = inst[:-1] + ',le="+Inf"}'
    test.assertEqual(s["hamustro_sink_backend_request_seconds_bucket" + le_inf], attempts)
    # Cumulative buckets never decrease, and the sum is a duration.
    buckets = [v for k, v in s.items()
               if k.startswith("hamustro_sink_backend_request_seconds_bucket" + inst[:-1])]
    test.assertEqual(len(buckets), 16)
    test.assertEqual(buckets, sorted(buckets))
    test.assertGreater(s["hamustro_sink_backend_request_seconds_sum" + inst], 0)
    for reason in ("connect", "timeout", "throttled", "auth", "http_4xx", "http_5xx", "io",
                   "other"):
        test.assertEqual(s["hamustro_sink_retries_by_reason_total" + inst[:-1] +
                           ',reason="%s"}' % reason], 0, reason)
    test.assertEqual(s["hamustro_sink_batches_in_flight" + inst], 0)


class Prometheus:
    """Debian's prometheus on 127.0.0.1, a temp storage dir, scraping the
    router every second."""

    def __init__(self, p):
        self.dir = tempfile.mkdtemp(prefix="hm-prom-")
        self.port = h.free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: hamustro\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % p.metrics_port)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                doc = json.loads(r.read())
        except (OSError, ValueError):
            return None
        if doc.get("status") != "success":
            return None
        return doc["data"]["result"]

    def value(self, expr):
        res = self.query(expr)
        return float(res[0]["value"][1]) if res else None

    def wait_value(self, expr, want, timeout=90):
        ok = h.wait_for(lambda: self.value(expr) == want, timeout=timeout)
        assert ok, "%s: %r, want %r (log %s)" % (expr, self.value(expr), want, self.tail())

    def wait_true(self, expr, timeout=90):
        ok = h.wait_for(lambda: bool(self.query(expr)), timeout=timeout)
        assert ok, "%s never held (log %s)" % (expr, self.tail())

    def tail(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
