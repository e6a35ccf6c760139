"""router.cpu_latency_us: while the router runs, the kernel's CPU wake-up
latency request (/dev/cpu_dma_latency, PM QoS) holds the configured value;
it goes back when the router stops, is killed, or never had the key; a
router that may not write the device says so in its log and still serves.

Reads the device, so it needs it and root (as .ci/run has); otherwise it
exits 77, which ctest reports as skipped, not passed (and 1 under CI=true,
which must run it: harness.skip)."""

import os
import shutil
import signal
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

DEVICE = "/dev/cpu_dma_latency"
HELD = 13  # microseconds; anything below the machine's current value


def current():
    fd = os.open(DEVICE, os.O_RDONLY)
    try:
        return struct.unpack("i", os.read(fd, 4))[0]
    finally:
        os.close(fd)


def wait_value(want, timeout=10):
    return h.wait_for(lambda: current() == want, timeout)


class CpuLatency(unittest.TestCase):
    def setUp(self):
        self.before = current()
        if self.before <= HELD:
            self.fail("another process already holds %s at %d us" % (DEVICE, self.before))

    def pipeline(self, **router):
        p = h.Pipeline(router=router)
        self.addCleanup(p.close)
        return p

    @h.dump_on_failure
    def test_held_while_running_and_released_on_stop(self):
        p = self.pipeline(cpu_latency_us=HELD)
        self.p = p
        p.start_all()
        self.assertTrue(wait_value(HELD), "device reads %d, not %d" % (current(), HELD))
        self.assertIn("holding CPU wake-up latency at %d us" % HELD, p.log_text("router"))
        # The pipeline still does its work.
        self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(3)))[0], 200)
        self.assertEqual(len(p.wait_events(3)), 3)
        self.assertEqual(p.stop("router"), 0)
        self.assertTrue(wait_value(self.before), "still %d after a clean stop" % current())

    @h.dump_on_failure
    def test_released_when_killed(self):
        p = self.pipeline(cpu_latency_us=HELD)
        self.p = p
        p.start("router")
        self.assertTrue(wait_value(HELD), "device reads %d, not %d" % (current(), HELD))
        p.stop("router", signal.SIGKILL)
        self.assertTrue(wait_value(self.before), "still %d after kill -9" % current())

    @h.dump_on_failure
    def test_untouched_without_the_key(self):
        p = self.pipeline()
        self.p = p
        p.start_all()
        self.assertEqual(current(), self.before)
        self.assertNotIn("wake-up latency", p.log_text("router"))

    @h.dump_on_failure
    def test_without_permission_warns_and_serves(self):
        nobody = shutil.which("setpriv")
        self.assertIsNotNone(nobody, "setpriv (util-linux) is needed")
        p = self.pipeline(cpu_latency_us=HELD)
        self.p = p
        os.chmod(p.dir, 0o777)
        # The router as user nobody: it may not write the device (root's, 0600).
        router = [nobody, "--reuid=65534", "--regid=65534", "--clear-groups",
                  os.path.join(h.BIN, "hamustro-router"), "--config", p.config_path]
        log = open(os.path.join(p.dir, "router.log"), "ab")
        proc = subprocess.Popen(router, stdout=log, stderr=subprocess.STDOUT, cwd=p.dir)
        p.procs["router"] = proc
        p.logs["router"] = log
        p.start("file-sink", "--route", "archive")
        p.start("ingest")
        p.wait_healthy()
        self.assertEqual(current(), self.before)
        self.assertIn("router.cpu_latency_us: cannot hold %s at %d us: Permission denied"
                      % (DEVICE, HELD), p.log_text("router"))
        self.assertEqual(p.track_retry(h.encode_collection(h.make_collection(1)))[0], 200)


if __name__ == "__main__":
    if not os.path.exists(DEVICE) or os.geteuid() != 0:
        h.skip("needs %s and root" % DEVICE)
    unittest.main()
