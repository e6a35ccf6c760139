"""`hamustro-ctl status` for people (issue 15 part 3), against the real
router, ingest and file sink: the table shows a route's lag once its sink
is stopped; --json still parses (what scripts read); --watch redraws (a
clear screen before each table) --count times and exits 0, ends at once
on SIGINT with 0, and exits 1 once the router stops answering. Recent
errors: a file sink whose output directory cannot be made (a regular file
stands where a directory of its path should be: ENOTDIR, also for root)
fails every attempt, and `status` shows that failure for its instance in
the table and in --json, without anyone reading the sink's log."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

CLEAR = "\x1b[H\x1b[2J"


class CtlStatus(unittest.TestCase):
    def ctl(self, *args, timeout=60):
        return subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "--config",
                               self.p.config_path] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)

    def route_row(self, table, name="archive"):
        rows = [line.split() for line in table.splitlines() if line.startswith(name + " ")]
        self.assertEqual(len(rows), 1, table)
        head = [line.split() for line in table.splitlines() if line.startswith("ROUTE ")][0]
        return dict(zip(head, rows[0]))

    @h.dump_on_failure
    def test_table_json_watch(self):
        p = self.p = h.Pipeline().start_all()
        self.addCleanup(p.close)
        for i in range(3):
            self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(2)))[0], 200)
        p.wait_committed()
        r = self.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.route_row(r.stdout)
        self.assertEqual((row["SINK"], row["COMMITTED"], row["LAG"], row["RATE/s"]),
                         ("file", "3", "0", "-"))
        self.assertIn("counters: appended 3, events 6", r.stdout)

        # The sink stopped: what arrives next waits, and the table says so.
        p.stop("file-sink", sig=signal.SIGKILL)
        for i in range(4):
            self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(1)))[0], 200)
        deadline = time.time() + 60
        while True:
            row = self.route_row(self.ctl("status").stdout)
            if row["LAG"] == "4" or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((row["COMMITTED"], row["LAG"]), ("3", "4"))

        # --json: today's output, one JSON object with the same numbers.
        r = self.ctl("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual((st["routes"][0]["committed"], st["routes"][0]["lag"]), (3, 4))
        # The ingest's last report to the router (about once a second):
        # its 7 accepted requests, 10 events, in the JSON and the table.
        def ingest():
            ing = json.loads(self.ctl("status", "--json").stdout)["ingests"]
            return ing[0] if len(ing) == 1 else {}
        self.assertTrue(h.wait_for(lambda: ingest().get("accepted_events") == 10, 30),
                        ingest())
        self.assertEqual(ingest()["accepted_requests"], 7)
        # 200s: the 7 requests and the start's health check(s).
        self.assertGreaterEqual(ingest()["answers"]["200"], 7)
        self.assertRegex(self.ctl("status").stdout,
                         r"\nINGESTS\n  \S+:%d: \d+ requests \(200: \d+.*\), 10 events accepted"
                         % p.port)
        self.assertNotIn(CLEAR, r.stdout)

        # --watch --count 3: three redraws, each a whole table, then exit 0.
        r = self.ctl("status", "--watch=1", "--count", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        frames = r.stdout.split(CLEAR)
        self.assertEqual(frames[0], "")
        self.assertEqual(len(frames), 4, r.stdout)
        for f in frames[1:]:
            self.assertEqual(self.route_row(f)["LAG"], "4")
        # From the second table on, the rate comes from two samples.
        self.assertEqual(self.route_row(frames[2])["RATE/s"], "0.0")

        # --watch until Ctrl-C: wait for a second table, then SIGINT ends it with 0.
        w = subprocess.Popen([os.path.join(h.BIN, "hamustro-ctl"), "--config", p.config_path,
                              "status", "--watch=1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: w.poll() is None and w.kill())
        seen = b""
        while seen.count(CLEAR.encode()) < 2:
            chunk = os.read(w.stdout.fileno(), 65536)
            if not chunk:
                self.fail("watch ended early: %r" % w.stderr.read())
            seen += chunk
        w.send_signal(signal.SIGINT)
        self.assertEqual(w.wait(30), 0)

        # The router gone: --watch gives up after --timeout with 1.
        p.stop("router")
        r = self.ctl("--timeout", "500", "status", "--watch=1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("no answer within 500 ms", r.stderr)

        # Options that do not go together are usage errors.
        for args in (["flush", "--json"], ["status", "--json", "--watch"],
                     ["status", "--watch=0"], ["status", "--count", "x"]):
            self.assertEqual(self.ctl(*args).returncode, 2, args)

    @h.dump_on_failure
    def test_recent_errors(self):
        p = self.p = h.Pipeline()
        self.addCleanup(p.close)
        blocked = os.path.join(p.dir, "blocked")
        with open(blocked, "w") as f:
            f.write("a file, not a directory\n")
        p.config["routes"]["archive"]["file"]["file_path"] = os.path.join(blocked, "{date}")
        p.write_config()
        p.start_all()
        self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(1)))[0], 200)

        # The sink's retry warning reaches the router with its next message.
        def sink_errors():
            st = json.loads(self.ctl("status", "--json").stdout)
            return [e for e in st["recent_errors"] if e.get("sink_instance") == "archive:0"]
        self.assertTrue(h.wait_for(lambda: sink_errors(), 60),
                        self.ctl("status", "--json").stdout)
        e = sink_errors()[0]
        self.assertEqual((e["program"], e["level"]), ("file-sink", "warn"))
        self.assertIn("Not a directory", e["message"])
        self.assertIn(blocked, e["message"])
        self.assertRegex(e["message"], r"^batch 1\.\.1 attempt \d+ failed: mkdir ")
        self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertGreaterEqual(e["age_s"], 0)
        self.assertGreaterEqual(e["repeats"], 1)
        # The same message is in the sink's own log.
        self.assertIn(e["message"].split("; retry")[0], p.log_text("file-sink"))

        # The table: a RECENT ERRORS section with the instance and the message.
        out = self.ctl("status").stdout
        self.assertIn("\nRECENT ERRORS (newest first)\n", out)
        lines = [line for line in out.split("RECENT ERRORS")[1].splitlines()
                 if "file-sink archive:0 warn: batch 1..1 attempt" in line]
        self.assertTrue(lines, out)
        self.assertRegex(lines[0], r"^ +\d+s ago  file-sink archive:0 warn: batch 1\.\.1 "
                                   r"attempt \d+ failed: mkdir .*Not a directory")
        # Not a terminal: a message is cut at 160 bytes ("..." at its end).
        self.assertLessEqual(len(lines[0].split(" warn: ", 1)[1]), 160 + len(" (x999)"))

        # Error text never becomes a label: /metrics has no such series.
        # (The router renders /metrics now and then: wait for the sink's series.)
        scraped = [""]
        def sink_series():
            scraped[0] = h.scrape_metrics(p)
            return "hamustro_sink_retries_total{" in scraped[0]
        self.assertTrue(h.wait_for(sink_series, 30), scraped[0])
        self.assertNotIn("Not a directory", scraped[0])

        # The ingest's: a request with a wrong signature is refused and
        # logged; its next report (about once a second) carries the line.
        code = p.track(h.encode_collection(h.make_collection(1)), secret="wrong")[0]
        self.assertGreaterEqual(code, 400)
        def ingest_errors():
            st = json.loads(self.ctl("status", "--json").stdout)
            return [e for e in st["recent_errors"] if e.get("ingest_instance")
                    and e["message"].startswith("%d /api/v1/track: " % code)]
        self.assertTrue(h.wait_for(lambda: ingest_errors(), 30),
                        self.ctl("status", "--json").stdout)
        self.assertEqual(ingest_errors()[0]["program"], "ingest")
        self.assertEqual(ingest_errors()[0]["ingest_instance"], "%s:%d" % (os.uname().nodename,
                                                                           p.port))

        # The router's own: the sink killed, the router declares it dead.
        p.stop("file-sink", sig=signal.SIGKILL)
        def router_errors():
            st = json.loads(self.ctl("status", "--json").stdout)
            return [e for e in st["recent_errors"] if e["program"] == "router"
                    and "sink instance" in e["message"] and "dead" in e["message"]]
        self.assertTrue(h.wait_for(lambda: router_errors(), 30),
                        self.ctl("status", "--json").stdout)
        st = json.loads(self.ctl("status", "--json").stdout)
        self.assertNotIn("sink_instance", router_errors()[0])
        # Newest first: times never go up along the list.
        times = [e["time"] for e in st["recent_errors"]]
        self.assertEqual(times, sorted(times, reverse=True))
        out = self.ctl("status").stdout
        self.assertRegex(out, r"\n +\d+s ago  router warn: route archive: sink instance \S+ dead")
        self.assertRegex(out, r"\n +\d+s ago  ingest \S+ warn: %d /api/v1/track: " % code)


if __name__ == "__main__":
    unittest.main()
