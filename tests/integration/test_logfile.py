"""The config's logfile and SIGHUP, as logrotate uses them: after the file is
moved away and the daemons get SIGHUP, their next lines go to a new file at
the configured path. SIGHUP never ends a daemon, with or without a logfile."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

DAEMONS = ["router", "file-sink", "ingest"]


def read(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


class Logfile(unittest.TestCase):
    def hup_all(self, p):
        """SIGHUP to every daemon; none may end on it."""
        for name in DAEMONS:
            p.procs[name].send_signal(signal.SIGHUP)
        for name in DAEMONS:
            # Taken (not pending any more): had it ended the daemon, the
            # process would be gone (or going: the requests that follow
            # in each test need every daemon).
            self.assertTrue(h.wait_for(
                lambda: not h.signal_pending(p.procs[name].pid, signal.SIGHUP), 30), name)
            self.assertIsNone(p.procs[name].poll(), "%s ended on SIGHUP" % name)

    def test_sighup_reopens_the_moved_logfile(self):
        with h.Pipeline() as p:
            log = os.path.join(p.dir, "hamustro.log")
            p.config["logfile"] = log
            p.write_config()
            p.start_all()
            self.assertEqual(p.request("GET", "/before-rotation")[0], 404)
            self.assertTrue(h.wait_for(lambda: "/before-rotation" in read(log)), read(log))
            for name in ["[router]", "[ingest]", "[sink:file:archive]"]:
                self.assertIn(name, read(log))

            os.rename(log, log + ".1")
            self.hup_all(p)
            # Still serving, and the next line goes to a new file at the path.
            self.assertEqual(p.track(h.encode_collection(h.make_collection(2)))[0], 200)
            self.assertEqual(p.request("GET", "/after-rotation")[0], 404)
            self.assertTrue(h.wait_for(lambda: os.path.exists(log) and "/after-rotation" in read(log)))
            self.assertEqual(len(p.wait_events(2)), 2)

            rcs = p.stop_all()
            self.assertEqual(rcs, {"ingest": 0, "router": 0, "file-sink": 0})
            new, old = read(log), read(log + ".1")
            # Every daemon wrote its stop lines to the new file, nothing after
            # the rotation went to the old one.
            self.assertRegex(new, r"\[ingest\] info: .*stopping")
            self.assertRegex(new, r"\[router\] info: stopping")
            self.assertRegex(new, r"\[sink:file:archive\] info: delivered 1 batches, 2 events")
            self.assertNotIn("/after-rotation", old)
            self.assertNotIn("stopped", old)
            self.assertNotIn("/before-rotation", new)

    def test_sighup_without_logfile_is_harmless(self):
        with h.Pipeline() as p:
            p.start_all()
            for _ in range(3):
                self.hup_all(p)
            self.assertEqual(p.track(h.encode_collection(h.make_collection(3)))[0], 200)
            self.assertEqual(len(p.wait_events(3)), 3)
            self.assertEqual(p.stop_all(), {"ingest": 0, "router": 0, "file-sink": 0})

    def test_unwritable_path_after_rotation_keeps_the_old_file(self):
        """If the path cannot be opened again, lines keep going to the old
        file, with one line saying why, and nothing stops."""
        with h.Pipeline() as p:
            logdir = os.path.join(p.dir, "logs")
            os.mkdir(logdir)
            log = os.path.join(logdir, "hamustro.log")
            p.config["logfile"] = log
            p.write_config()
            p.start_all()
            moved = os.path.join(p.dir, "moved.log")
            os.rename(log, moved)
            os.rmdir(logdir)  # the path's directory is gone: fopen fails
            p.procs["ingest"].send_signal(signal.SIGHUP)
            self.assertTrue(h.wait_for(
                lambda: not h.signal_pending(p.procs["ingest"].pid, signal.SIGHUP), 30))
            self.assertEqual(p.request("GET", "/after-failed-reopen")[0], 404)
            self.assertTrue(h.wait_for(lambda: "/after-failed-reopen" in read(moved)), read(moved))
            self.assertIn("cannot open logfile %s again" % log, read(moved))
            self.assertIsNone(p.procs["ingest"].poll())
            self.assertEqual(p.track(h.encode_collection(h.make_collection(1)))[0], 200)


if __name__ == "__main__":
    unittest.main()
