"""SIGTERM to every program at once, as a container or a machine stop
sends it, ends every one of them with status 0 (README: "SIGTERM or Ctrl-C
stops a daemon cleanly"), in rounds with traffic and a flush just before.

The ingest used to hang for good in about one round of eight: it closed
the socket receiving its router link's monitor events before stopping the
monitor, and the router's going away at that moment made libzmq's I/O
thread block sending the event while holding the lock the stop needed.
Found once the harness stopped programs with SIGTERM instead of SIGKILL."""

import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

ROUNDS = 60


class StopTogether(unittest.TestCase):
    def test_sigterm_to_all_at_once(self):
        hung = []
        for i in range(ROUNDS):
            with h.Pipeline() as p:
                p.start_all()
                c = h.make_collection(2, start_nr=1)
                self.assertEqual(p.track_retry(h.encode_collection(c))[0], 200)
                p.wait_events(2)
                p.flush()
                for proc in p.procs.values():
                    proc.send_signal(signal.SIGTERM)
                for name, proc in list(p.procs.items()):
                    try:
                        rc = proc.wait(30)
                    except subprocess.TimeoutExpired:
                        hung.append("round %d: %s" % (i, name))
                        proc.kill()
                        proc.wait()
                        continue
                    self.assertEqual(rc, 0, "round %d: %s exited %s" % (i, name, rc))
                    del p.procs[name]
        self.assertEqual(hung, [], "did not exit within 30 s of SIGTERM")


if __name__ == "__main__":
    unittest.main(verbosity=2)
