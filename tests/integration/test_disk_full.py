"""A full disk (ARCHITECTURE section 4): it may cost a 503, never an event
answered 200, and the pipeline comes back by itself once there is room.

The disks are real: small ext4 file systems on loop devices (mkfs.ext4 -m 0,
so root gets no reserved blocks either), mounted under the test's directory.
Three cases:
- the router's own log fills its disk while the sink is down: clients get
  503 with the reason, the router stays up, and when the sink returns the
  delivered segments are deleted and 200s resume;
- another file fills the router's disk, then goes away;
- the file sink's output disk is full: nothing is acknowledged to the
  router, the sink retries, and everything lands once there is room.
In each case the events answered 200 are exactly the events in the files.
These tests need root (mount); without it they fail, they do not skip."""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


class SmallDisk:
    """An ext4 file system of `mib` MiB mounted at `path`."""

    def __init__(self, path, mib):
        self.path = path
        self.image = path + ".img"
        os.makedirs(path, exist_ok=True)
        with open(self.image, "wb") as f:
            f.truncate(mib << 20)
        self._run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image])
        self._run(["mount", "-o", "loop", self.image, path])
        # A dot-file: the harness reads every other file under a route's path.
        self.filler = os.path.join(path, ".filler")

    @staticmethod
    def _run(cmd):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise AssertionError("%s failed (these tests need root and loop devices): %s"
                                 % (" ".join(cmd), p.stdout.decode(errors="replace")))

    def fill(self):
        """Writes a file until the disk has no free block left. Small ext4
        images have 1 KiB blocks, and ext4 gives back blocks it had reserved
        for delayed allocation once the data is written out: so the filling
        goes down to single bytes and is done again after each fsync until a
        round after an fsync writes nothing (a gzip'd batch fits in the 3 KiB
        a 4 KiB-chunk fill left, and the sink's output then landed)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for _round in range(20):
                wrote = 0
                for size in (64 << 10, 4096, 512, 1):
                    chunk = b"\xff" * size
                    try:
                        while True:
                            n = os.write(fd, chunk)  # unbuffered: a short write is seen
                            if n <= 0:
                                break
                            wrote += n
                    except OSError:
                        pass
                try:
                    os.fsync(fd)
                except OSError:
                    pass
                if not wrote:
                    return
            raise AssertionError("the disk kept giving back room after 20 fills")
        finally:
            os.close(fd)

    def unfill(self):
        if os.path.exists(self.filler):
            os.unlink(self.filler)

    def close(self):
        subprocess.run(["umount", "-l", self.path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.path.exists(self.image):
            os.unlink(self.image)
        # The pipeline's directory could not be removed while mounted on.
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


def body(i, payloads=10):
    """A collection of `payloads` events with nrs unique to request i."""
    c = h.make_collection(payloads, start_nr=i * payloads + 1)
    return h.encode_collection(c), [(c["session"], i * payloads + k + 1)
                                    for k in range(payloads)]


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.disks = []

    def tearDown(self):
        for d in self.disks:
            d.close()

    def disk(self, path, mib):
        d = SmallDisk(path, mib)
        self.disks.append(d)
        return d

    def send(self, p, first, count, acked, refused):
        """Sends requests first..first+count-1 once each; files the events of
        each 200 in acked and the error of each 503 in refused."""
        for i in range(first, first + count):
            data, events = body(i)
            status, headers, text = p.track(data)
            if status == 200:
                acked.extend(events)
            else:
                self.assertEqual(status, 503, text)
                self.assertIn("retry-after", headers)
                refused.append(json.loads(text)["error"])

    def send_until_ok(self, p, first, acked, timeout=60):
        """Sends request `first` until it is answered 200 (as a client retries)."""
        deadline = time.time() + timeout
        data, events = body(first)
        while True:
            status, _, text = p.track(data)
            if status == 200:
                acked.extend(events)
                return
            self.assertEqual(status, 503, text)
            self.assertLess(time.time(), deadline, "still 503 after %ds: %s" % (timeout, text))
            time.sleep(0.2)

    def check_exact(self, p, acked):
        self.assertGreater(len(acked), 0)
        p.wait_events(len(acked), timeout=120)
        p.wait_committed()  # the files are final: a late duplicate would be there now
        landed = collections.Counter((e["session"], e["nr"]) for e in p.read_events())
        self.assertEqual([k for k, n in landed.items() if n > 1], [], "events written twice")
        missing = [k for k in acked if k not in landed]
        self.assertEqual(missing[:10], [], "%d events answered 200 are missing" % len(missing))
        # A 503'd request was not resent with the same nrs, so nothing else may be there.
        self.assertEqual(len(landed), len(set(acked)))
        self.assertEqual(p.temp_files(), [], "temporary files left behind")

    def test_log_fills_its_own_disk_then_recovers(self):
        with h.Pipeline(router={"segment_bytes": 256 << 10, "max_log_bytes": 1 << 40}) as p:
            self.disk(p.config["router"]["data_dir"], 8)
            p.start("router")
            p.start("ingest")
            p.wait_healthy()
            acked, refused = [], []
            # No sink: the log only grows. 8 MiB of disk, ~2 KiB per request.
            i = 0
            while not refused and i < 20000:
                self.send(p, i, 50, acked, refused)
                i += 50
            self.assertTrue(refused, "the disk never filled")
            self.assertTrue(any("No space left" in r for r in refused), refused[:3])
            self.assertIsNone(p.procs["router"].poll(), "the router died on a full disk")
            self.assertIn("No space left on device", p.log_text("router"))
            # More requests while full: 503, never a crash.
            self.send(p, i, 20, acked, refused)
            i += 20
            self.assertIsNone(p.procs["router"].poll())
            # One refusal per request, but the failing writes are logged as one
            # episode (a line when it starts, then one per 10 s), not per round.
            failed_lines = p.log_text("router").count("log: write of")
            self.assertGreaterEqual(failed_lines, 1)
            self.assertLess(failed_lines, len(refused) // 2,
                            "%d lines for %d refusals" % (failed_lines, len(refused)))
            # The sink comes back: it drains the log, the delivered segments
            # go, and 200s resume without anyone touching the disk.
            p.start("file-sink", "--route", "archive")
            self.send_until_ok(p, i, acked, timeout=90)
            self.send(p, i + 1, 20, acked, refused)
            self.assertIn("log: writes succeed again after", p.log_text("router"))
            # An append is accepted only while the 1 MiB reserve is held
            # (ARCHITECTURE section 4), so it is back: the next full disk
            # can save route state again.
            reserve = os.path.join(p.config["router"]["data_dir"], "reserve")
            self.assertEqual(os.path.getsize(reserve), 1 << 20)
            self.check_exact(p, acked)
            # And a restart finds the log whole: nothing cut, nothing lost.
            rcs = p.stop_all()
            self.assertEqual(set(rcs.values()), {0}, rcs)
            p.start_all()
            starts = [l for l in p.log_text("router").splitlines() if "] info: started:" in l]
            self.assertEqual(len(starts), 2)
            self.assertIn("(0 torn bytes cut)", starts[1])
            self.check_exact(p, acked)

    def test_other_file_fills_the_log_disk(self):
        with h.Pipeline(router={"segment_bytes": 256 << 10}) as p:
            disk = self.disk(p.config["router"]["data_dir"], 16)
            p.start_all()
            acked, refused = [], []
            self.send(p, 0, 50, acked, refused)
            self.assertEqual(refused, [])
            disk.fill()
            i = 50
            while not refused and i < 5000:
                self.send(p, i, 20, acked, refused)
                i += 20
            self.assertTrue(refused, "writes never failed on a full disk")
            self.assertIsNone(p.procs["router"].poll(), "the router died on a full disk")
            disk.unfill()
            self.send_until_ok(p, i, acked)
            self.send(p, i + 1, 50, acked, refused)
            self.check_exact(p, acked)
            rcs = p.stop_all()
            self.assertEqual(set(rcs.values()), {0}, rcs)

    def test_sink_output_disk_full(self):
        with h.Pipeline() as p:
            out = os.path.join(p.dir, "out")
            disk = self.disk(out, 4)
            # The date directories exist before the disk fills, so the sink
            # gets past mkdir and opens its temporary file: the write (or its
            # fsync) is what fails, and the file must go. Tomorrow's too, for
            # a run across midnight UTC.
            for t in (time.time(), time.time() + 86400):
                os.makedirs(os.path.join(out, time.strftime("%Y-%m-%d", time.gmtime(t))))
            disk.fill()
            p.start_all()
            acked, refused = [], []
            self.send(p, 0, 100, acked, refused)
            self.assertEqual(refused, [], "the router's disk is not the full one")
            # The sink cannot write: it retries, nothing is acknowledged.
            # Its failure is the write of the temporary file in the date
            # directory (not a mkdir or an open), twice: retried, not stuck.
            failed_write = re.compile(r"attempt \d+ failed: write %s/\d{4}-\d\d-\d\d/"
                                      r"\.\S+\.tmp: No space left on device" % re.escape(out))
            deadline = time.time() + 60
            while len(failed_write.findall(p.log_text("file-sink"))) < 2:
                self.assertLess(time.time(), deadline, "the sink never failed a write on the "
                                "full disk:\n" + p.log_text("file-sink")[-2000:])
                try:
                    p.flush()
                except AssertionError:
                    pass
                time.sleep(0.3)
            self.assertEqual(p.read_events(), [])
            self.assertEqual(p.temp_files(), [], "a failed write left its temporary file")
            self.assertIsNone(p.procs["file-sink"].poll(), "the sink died on a full disk")
            disk.unfill()
            self.send(p, 100, 20, acked, refused)
            self.assertEqual(refused, [])
            self.check_exact(p, acked)


if __name__ == "__main__":
    unittest.main(verbosity=2)
