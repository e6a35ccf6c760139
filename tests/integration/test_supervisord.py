"""deploy/supervisord.conf, the one `make run` uses, under the real
supervisord: the pipeline comes up, a killed program is restarted, and
SIGTERM (what Ctrl-C does to `make run`) stops everything cleanly with the
open batches written out."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def wait_running(p, names, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = pids(p)
        if all(n in now for n in names):
            return now
        time.sleep(0.2)
    raise AssertionError("not all of %s RUNNING: %s" % (names, pids(p)))


def pids(p):
    out = {}
    ctl = subprocess.run(["supervisorctl", "-c", p.sup_conf, "status"], stderr=subprocess.STDOUT,
                         stdout=subprocess.PIPE, timeout=20).stdout.decode()
    for line in ctl.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING":
            out[parts[0]] = int(parts[3].rstrip(","))
    return out


class Supervisord(unittest.TestCase):
    def test_run_restart_and_stop(self):
        with h.Pipeline() as p:
            # Batches never seal by age here: only the stop can write them.
            p.config["routes"]["archive"]["max_age"] = 3600
            p.write_config()
            # The checkout's conf with its paths pointed at this test's
            # binaries and directory; nothing else changed.
            conf = h.read_bytes(os.path.join(h.SRC, "deploy", "supervisord.conf")).decode()
            conf = conf.replace("%(here)s/../build/bin", os.path.abspath(h.BIN))
            conf = conf.replace("%(here)s/..", p.dir)
            p.sup_conf = os.path.join(p.dir, "supervisord.conf")
            with open(p.sup_conf, "w") as f:
                f.write(conf)
            os.makedirs(os.path.join(p.dir, "var", "run"), exist_ok=True)
            env = dict(os.environ, HAMUSTRO_CONFIG=p.config_path)
            log = open(os.path.join(p.dir, "supervisord.out"), "wb")
            sup = subprocess.Popen(["supervisord", "-n", "-c", p.sup_conf], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
            try:
                p.wait_healthy(30)
                body = h.encode_collection(h.make_collection(5, device="sup-1"))
                self.assertEqual(p.track_retry(body)[0], 200)

                # kill -9 the router: supervisord restarts it.
                before = wait_running(p, ["router", "ingest", "file-sink:file-sink-0"])
                os.kill(before["router"], signal.SIGKILL)
                deadline = time.time() + 20
                while time.time() < deadline:
                    now = pids(p)
                    if now.get("router") and now["router"] != before["router"]:
                        break
                    time.sleep(0.2)
                self.assertNotEqual(pids(p).get("router"), before["router"])
                p.wait_healthy(20)
                body = h.encode_collection(h.make_collection(5, device="sup-2"))
                self.assertEqual(p.track_retry(body)[0], 200)
            finally:
                # Ctrl-C: every program stops, the open batches are sealed and written.
                sup.send_signal(signal.SIGTERM)
                rc = sup.wait(60)
                log.close()
            self.assertEqual(rc, 0)
            events = p.read_events()
            got = sorted((e["device_id"], e["nr"]) for e in events)
            self.assertEqual(got, sorted([("sup-1", n) for n in range(1, 6)]
                                         + [("sup-2", n) for n in range(1, 6)]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
