"""SinkStats across versions (ARCHITECTURE section 3, "Later fields of
SinkStats"): the router takes the counters of a sink older than it (fields
1..7 only: its per instance series, and none of attempts, retries by reason
or the latency histogram, rather than zeros), of this version's sink (every
series, the histogram's buckets made cumulative), and of a sink newer than
it (more reason classes than it knows: added to "other"; a bucket list of
other bounds: no histogram; a field it has never heard of: skipped), and
of a broken one (a NaN sum: no histogram, the text stays valid). Recent
errors (field 12, LogLine): this version's sink and the newer one (whose
LogLine has a field this router does not know) are in the status's
recent_errors by sink_instance, escaped; the old sink has none. The
sinks are hand-made ZeroMQ DEALERs (pyzmq) speaking the wire format
written out here from proto/pipeline.proto, so no project code encodes
them."""

import os
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

try:
    import zmq
except ImportError:
    # python3-zmq is built for Debian's interpreter (see test_inject_json).
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise AssertionError("python3-zmq is not installed (make deps installs it)")

READY, HEARTBEAT = 0, 3
REASONS = ("connect", "timeout", "throttled", "auth", "http_4xx", "http_5xx", "io", "other")
BOUNDS = ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
          "2.5", "5", "10", "30", "60", "+Inf")


def packed(num, values):
    return h._field_bytes(num, b"".join(h._varint(v) for v in values))


def double(num, value):
    return h._varint((num << 3) | 1) + struct.pack("<d", value)


def old_stats(instance):
    """SinkStats as a sink before fields 8..11 sends it."""
    return b"".join(h._field_varint(n, v) for n, v in
                    ((1, instance), (2, 3), (3, 30), (4, 2), (5, 1), (6, 0), (7, 1700000000)))


def log_line(message, age_ms, error, extra=b""):
    """A LogLine (SinkStats field 12's element)."""
    return (h._field_varint(1, age_ms) + h._field_varint(2, error) +
            h._field_bytes(3, message) + h._field_varint(4, 2) + extra)


def sink_message(kind, stats):
    msg = h._field_varint(1, kind)
    if kind == READY:
        msg += h._field_varint(2, 2)
    return msg + h._field_bytes(7, stats)


class SinkStatsCompat(unittest.TestCase):
    @h.dump_on_failure
    def test_old_current_and_newer_sinks(self):
        p = self.p = h.Pipeline()
        self.addCleanup(p.close)
        p.start("router")
        endpoint = "ipc://%s/route-archive.ipc" % p.config["router"]["run_dir"]
        stats = {
            # An older sink: fields 1..7.
            5: old_stats(5),
            # This version's: attempts, 8 classes, 15 bounds + 1.
            6: old_stats(6) + h._field_varint(8, 12) + packed(9, range(1, 9)) +
            packed(10, range(1, 17)) + double(11, 2.5) +
            h._field_bytes(12, log_line(b"disk \x1b[31mfull\xff", 2000, 1)),
            # A newer one: 10 classes, 20 buckets, and a field 40 unknown here.
            7: old_stats(7) + h._field_varint(8, 12) + packed(9, range(1, 11)) +
            packed(10, range(1, 21)) + double(11, 2.5) + h._field_varint(40, 99) +
            h._field_bytes(12, log_line(b"newer", 0, 0, h._field_varint(9, 1))),
            # A broken one: the right buckets with a sum that is no duration.
            8: old_stats(8) + packed(10, range(1, 17)) + double(11, float("nan")),
        }
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        socks = {}
        for n in stats:
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(endpoint)
            self.addCleanup(s.close)
            socks[n] = s
        def key(family, n, **extra):
            labels = 'route="archive",sink="file",sink_instance="archive:%d"' % n
            for k, v in extra.items():
                labels += ',%s="%s"' % (k, v)
            return "hamustro_sink_%s{%s}" % (family, labels)

        want = {}
        for n in stats:
            want[key("batches_total", n)] = 3
            want[key("events_total", n)] = 30
            want[key("retries_total", n)] = 2
            want[key("dead_lettered_total", n)] = 1
            want[key("last_success_timestamp_seconds", n)] = 1700000000
        for n in (6, 7):
            want[key("attempts_total", n)] = 12
            for i, r in enumerate(REASONS):
                want[key("retries_by_reason_total", n, reason=r)] = i + 1
        # The newer sink's classes 9 and 10 count as "other": 8 + 9 + 10.
        want[key("retries_by_reason_total", 7, reason="other")] = 27
        cum = 0
        for i, le in enumerate(BOUNDS):
            cum += i + 1
            want[key("backend_request_seconds_bucket", 6, le=le)] = cum
        want[key("backend_request_seconds_count", 6)] = 136
        want[key("backend_request_seconds_sum", 6)] = 2.5

        for n, s in socks.items():
            s.send_multipart([b"HM/SINK/1", sink_message(READY, stats[n])])
        deadline = time.time() + 60
        got = {}
        while time.time() < deadline:
            # Heartbeats keep the instances alive and carry their counters.
            for n, s in socks.items():
                s.send_multipart([b"HM/SINK/1", sink_message(HEARTBEAT, stats[n])])
            got = h.metrics_samples(h.scrape_metrics(p))
            if all(got.get(k) == v for k, v in want.items()):
                break
            time.sleep(0.1)
        self.assertEqual({k: got.get(k) for k in want}, want)
        # Absent, not zero: the old sink reported none of the new families,
        # the newer one no histogram this router can read.
        for n, families in ((5, ("attempts_total", "retries_by_reason_total",
                                 "backend_request_seconds")),
                            (7, ("backend_request_seconds",)),
                            (8, ("backend_request_seconds",))):
            for fam in families:
                series = [k for k in got if k.startswith("hamustro_sink_" + fam) and
                          'sink_instance="archive:%d"' % n in k]
                self.assertEqual(series, [], (n, fam))
        # The text with all of them is valid exposition.
        text = h.scrape_metrics(p)
        chk = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(chk.returncode, 0, chk.stdout.decode() + text)
        # The router is still serving and counted nothing as malformed.
        self.assertEqual(got.get('hamustro_route_sink_malformed_total'
                                 '{route="archive",sink="file"}'), 0)
        self.assertEqual(got.get('hamustro_route_sink_instances{route="archive",sink="file"}'), 4)
        # Field 12: the recent errors of this version's and the newer sink,
        # none of the older one's, in the status (never in /metrics).
        errors = {e["sink_instance"]: e for e in p.router_status()["recent_errors"]
                  if "sink_instance" in e}
        self.assertEqual(sorted(errors), ["archive:6", "archive:7"])
        self.assertEqual((errors["archive:6"]["message"], errors["archive:6"]["level"],
                          errors["archive:6"]["repeats"]),
                         ("disk \x1b[31mfull\ufffd", "error", 2))
        self.assertGreaterEqual(errors["archive:6"]["age_s"], 2)
        self.assertEqual((errors["archive:7"]["message"], errors["archive:7"]["level"]),
                         ("newer", "warn"))
        self.assertNotIn("newer", text)


if __name__ == "__main__":
    unittest.main()
