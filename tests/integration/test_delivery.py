"""The delivery contract (ARCHITECTURE section 4) end to end: what
hamustro-send was answered 200 for is exactly what lands in the files, also
when the pipeline is stopped with SIGTERM under load or the router is killed
and restarted mid-run."""

import collections
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

ALWAYS = ["device_id", "client_id", "session", "nr", "env", "system_version",
          "product_version", "at", "timezone", "event", "parameters"]


def start_load(p, record, seconds, concurrency=4, payloads="1-10"):
    cmd = [os.path.join(h.BIN, "hamustro-send"), "--config", p.config_path,
           "--url", "http://127.0.0.1:%d/api/v1/track" % p.port,
           "--concurrency", str(concurrency), "--duration", str(seconds),
           "--payloads", payloads, "--record", record]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Delivery(unittest.TestCase):
    def check_delivered(self, p, record, exact, temp_files_allowed=False):
        acked = h.read_record(record)
        self.assertGreater(len(acked), 0, "the load generator got no 200 at all")
        p.wait_events(len(acked), timeout=120)
        # Every route committed the whole log: the files are final, so a
        # late duplicate would be there now.
        p.wait_committed()
        events = p.read_events()
        for e in events[:1000]:
            for key in ALWAYS:
                self.assertIn(key, e)
        landed = collections.Counter((e["session"], e["nr"]) for e in events)
        dups = [k for k, n in landed.items() if n > 1]
        self.assertEqual(dups, [], "events written twice")
        missing = [k for k in acked if k not in landed]
        self.assertEqual(missing[:10], [], "%d events answered 200 are missing" % len(missing))
        if exact:
            self.assertEqual(len(landed), len(acked))
        if not temp_files_allowed:  # a kill -9 mid-write may leave one
            self.assertEqual(p.temp_files(), [], "temporary files left behind")
        return len(acked), len(landed)

    def test_100k_events_exactly_once(self):
        with h.Pipeline() as p:
            p.start_all()
            record = os.path.join(p.dir, "acked.tsv")
            rc, out = h.send_tool(p, "--count", "10000", "--payloads", "10",
                                  "--concurrency", "8", "--record", record)
            self.assertEqual(rc, 0, out)
            acked, landed = self.check_delivered(p, record, exact=True)
            self.assertEqual(acked, 100000, out)

    def test_sigterm_under_load_loses_nothing(self):
        with h.Pipeline() as p:
            p.start_all()
            record = os.path.join(p.dir, "acked.tsv")
            load = start_load(p, record, seconds=8)
            p.wait_appended(200)  # under load
            rcs = p.stop_all(signal.SIGTERM)
            self.assertEqual(set(rcs.values()), {0}, rcs)
            p.start_all()
            load.communicate(timeout=60)
            self.check_delivered(p, record, exact=False)

    def test_router_killed_and_restarted_mid_run(self):
        with h.Pipeline(ingest={"router_timeout_ms": 1000}) as p:
            p.start_all()
            record = os.path.join(p.dir, "acked.tsv")
            load = start_load(p, record, seconds=8)
            p.wait_appended(200)  # under load
            p.stop("router", sig=signal.SIGKILL)
            # Clients see the router gone before it comes back.
            self.assertTrue(h.wait_for(
                lambda: p.request("GET", "/api/health")[0] == 503, 60))
            p.start("router")
            load.communicate(timeout=60)
            self.check_delivered(p, record, exact=False)

    def test_sink_killed_mid_run(self):
        with h.Pipeline() as p:
            p.start_all()
            record = os.path.join(p.dir, "acked.tsv")
            load = start_load(p, record, seconds=8)
            p.wait_appended(200)  # under load
            p.stop("file-sink", sig=signal.SIGKILL)
            # Events accepted while the sink is away.
            p.wait_appended(p.router_status()["counters"]["events"] + 1, timeout=60)
            p.start("file-sink", "--route", "archive")
            load.communicate(timeout=60)
            self.check_delivered(p, record, exact=True, temp_files_allowed=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
