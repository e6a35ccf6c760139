"""`make bench` (bench/run.sh), in a one-second run per target: for each
load it measures the pipeline, the null server (the ceiling) and the floor,
and prints one table row for each, with the figures the README and
bench/RESULTS.md quote: req/s, p99, RSS, the ratio, the CPU per event and,
in the notes, the share of the CPUs' time that was idle and stolen. With
STEAL_WARN=0 every load is named after the table as one whose ratio a
stolen share may have moved. A run with NO_RESULTS=1 leaves
bench/RESULTS.md alone. Only the shape and the
sense of the figures are checked here, never their size: speed is the
bench's business, not a test's."""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

RUN = os.path.join(h.SRC, "bench", "run.sh")
RESULTS = os.path.join(h.SRC, "bench", "RESULTS.md")
LOADS = {"1": "protobuf, 1 event", "3": "json, 1 event"}
HOST_NOTE = re.compile(r"CPUs idle ([0-9.]+) %, stolen ([0-9.]+) %")


def two_free_ports():
    """A port p with p + 1 free too (the bench's null server takes PORT + 1)."""
    for _ in range(50):
        p = h.free_port()
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no two free consecutive ports")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Bench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("wrk"):
            h.skip("wrk is not installed (make deps installs it)")
        env = dict(os.environ, DURATION="1", REPEAT="1", FLOOR="1", LOADS=" ".join(LOADS),
                   WRK_CONNECTIONS="4", WRK_THREADS="1", CORPUS_COUNT="20", NO_RESULTS="1",
                   KEEP="1", STEAL_WARN="0", PORT=str(two_free_ports()))
        before = digest(RESULTS)
        proc = subprocess.run(["bash", RUN, os.path.dirname(h.BIN)], env=env,
                              capture_output=True, text=True, timeout=600)
        cls.out, cls.err, cls.rc = proc.stdout, proc.stderr, proc.returncode
        cls.results_unchanged = digest(RESULTS) == before
        kept = re.search(r"^kept (\S+)$", cls.err, re.M)
        cls.tmp = kept.group(1) if kept else None
        cls.reports = []
        if cls.tmp:
            logs = [os.path.join(d, f) for d, _, fs in os.walk(cls.tmp) for f in fs
                    if f.endswith(".log")]
            cls.reports = h.sanitizer_reports(logs)
            shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.rows = [[c.strip() for c in line.strip().strip("|").split("|")]
                    for line in cls.out.splitlines()
                    if line.startswith("| ") and not line.startswith("| load")]

    def row(self, load, target):
        found = [r for r in self.rows if r[0].startswith(load) and r[2] == target]
        self.assertEqual(len(found), 1, "one %r row for %r in:\n%s" % (target, load, self.out))
        return found[0]

    def host_note(self, notes):
        m = HOST_NOTE.search(notes)
        self.assertIsNotNone(m, "no idle / stolen share in %r" % notes)
        idle, stolen = float(m.group(1)), float(m.group(2))
        self.assertTrue(0 <= idle <= 100 and 0 <= stolen <= 100, notes)

    def test_runs_and_leaves_results_alone(self):
        self.assertEqual(self.rc, 0, "bench/run.sh failed:\n%s\n%s" % (self.out, self.err[-4000:]))
        self.assertTrue(self.results_unchanged, "NO_RESULTS=1 still wrote bench/RESULTS.md")
        self.assertIsNotNone(self.tmp, "KEEP=1 did not say where it kept its files")
        self.assertEqual(self.reports, [])

    def test_stolen_note_names_each_load(self):
        note = re.search(r"^At least 0 % of the CPU time was stolen by the hypervisor during: "
                         r"(.*)\. Their ratios measured a slower machine\.$", self.out, re.M)
        self.assertIsNotNone(note, self.out)
        self.assertEqual(note.group(1).split("; "),
                         ["%s at 4 connections" % name for name in LOADS.values()])

    def test_bad_steal_warn(self):
        out = subprocess.run(["bash", RUN, os.path.dirname(h.BIN)],
                             env=dict(os.environ, STEAL_WARN="five", DURATION="1", REPEAT="1",
                                      FLOOR="0", LOADS="1", WRK_CONNECTIONS="1",
                                      CORPUS_COUNT="5", NO_RESULTS="1",
                                      PORT=str(two_free_ports())),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2)
        self.assertIn("STEAL_WARN must be a whole per cent", out.stderr)

    def test_pipeline_rows(self):
        for load in LOADS.values():
            r = self.row(load, "pipeline")
            self.assertEqual(r[1], "4")
            self.assertGreater(float(r[3]), 0, r)            # req/s
            self.assertGreater(float(r[4]), 0, r)            # events/s
            self.assertLessEqual(float(r[5]), float(r[6]))   # p50 <= p99
            self.assertEqual(r[7], "0 / 0", "non-2xx or socket errors: %r" % r)
            rss = re.fullmatch(r"([0-9.]+) / ([0-9.]+) / ([0-9.]+) = \*\*([0-9.]+)\*\*", r[8])
            self.assertIsNotNone(rss, r[8])
            self.assertAlmostEqual(sum(float(x) for x in rss.groups()[:3]), float(rss.group(4)),
                                   delta=0.15)
            self.assertGreater(float(r[9]), 0, r)            # ratio to the ceiling
            cpu = re.fullmatch(r"([0-9.]+) / ([0-9.]+) / ([0-9.]+) = \*\*([0-9.]+)\*\*", r[10])
            self.assertIsNotNone(cpu, r[10])
            self.assertGreater(float(cpu.group(1)), 0, "the ingest used no CPU: %r" % r)
            self.host_note(r[12])
            self.assertRegex(r[12], r"CPU bound on the ratio: as built [0-9.]+, "
                                    r"with a floor ingest [0-9.]+")

    def test_ceiling_and_floor_rows(self):
        for load in LOADS.values():
            ceiling = self.row(load, "null server")
            self.assertGreater(float(ceiling[3]), 0, ceiling)
            self.assertEqual(ceiling[7], "0 / 0", ceiling)
            self.assertEqual(ceiling[9], "1.00")
            self.host_note(ceiling[12])
            floor = self.row(load, "null server --defer (floor)")
            self.assertGreater(float(floor[3]), 0, floor)
            self.assertEqual(floor[7], "0 / 0", floor)
            self.host_note(floor[12])


if __name__ == "__main__":
    unittest.main()
