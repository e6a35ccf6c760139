"""deploy/supervisord.conf, the one `make run` uses, with the programs
`hamustro-ctl supervisord-conf` derives from the config, under the real
supervisord: the pipeline comes up, a killed program is restarted, and
SIGTERM stops everything cleanly with the open batches written out.
(tests/integration/test_make_run.py runs `make run` itself.)"""

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
                         stdout=subprocess.PIPE, env=p.sup_env, timeout=20).stdout.decode()
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
            # What make run does: the checkout's conf, its includes written
            # into this test's directory (HAMUSTRO_RUN_HOME).
            run = os.path.join(p.dir, "var", "run")
            os.makedirs(run, exist_ok=True)
            with open(os.path.join(run, "programs.conf"), "wb") as f:
                subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "supervisord-conf",
                                "--directory", p.dir, p.config_path], stdout=f, check=True,
                               timeout=20)
            with open(os.path.join(run, "supervisord-user.conf"), "w") as f:
                f.write("[supervisord]\nuser=%d\n" % os.getuid())
            p.sup_conf = os.path.join(h.SRC, "deploy", "supervisord.conf")
            p.sup_env = dict(os.environ, HAMUSTRO_RUN_HOME=p.dir,
                             HAMUSTRO_SUPERVISOR_LOGLEVEL="warn")
            log = open(os.path.join(p.dir, "supervisord.out"), "wb")
            sup = subprocess.Popen(["supervisord", "-n", "-c", p.sup_conf], env=p.sup_env,
                                   stdout=log, stderr=subprocess.STDOUT)
            try:
                p.wait_healthy(30)
                body = h.encode_collection(h.make_collection(5, device="sup-1"))
                self.assertEqual(p.track_retry(body)[0], 200)

                # kill -9 the router: supervisord restarts it.
                before = wait_running(p, ["router", "ingest", "sink-archive:sink-archive-1"])
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
            out = h.read_bytes(os.path.join(p.dir, "supervisord.out")).decode(errors="replace")
            self.assertNotIn("CRIT", out)
            events = p.read_events()
            got = sorted((e["device_id"], e["nr"]) for e in events)
            self.assertEqual(got, sorted([("sup-1", n) for n in range(1, 6)]
                                         + [("sup-2", n) for n in range(1, 6)]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
