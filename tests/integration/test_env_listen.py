"""HAMUSTRO_HOST and HAMUSTRO_PORT (README, "Two commands"): they move the
ingest's listener over what the config says; HAMUSTRO_HOST=localhost means
every interface, as in the original; hamustro-send, without --url, follows
them too; a bad HAMUSTRO_PORT stops the program with the reason.

Every interface vs loopback only is told apart with 127.0.0.2: a listener
bound to 127.0.0.1 does not take connections to it, one bound to 0.0.0.0
does, and it needs no network besides lo."""

import http.client
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def health(host, port):
    """(status, body) of GET /api/health at host:port; None if refused."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/api/health")
        r = conn.getresponse()
        return r.status, r.read()
    except ConnectionRefusedError:
        return None
    finally:
        conn.close()


def listeners(port):
    """Local addresses ("0.0.0.0", "127.0.0.1", ...) of TCP listeners on port."""
    found = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            addr, p = cols[1].split(":")
            if int(p, 16) == port and cols[3] == "0A":
                raw = bytes.fromhex(addr)[::-1]  # little-endian on the hosts we run on
                found.append(".".join(str(b) for b in raw))
    return found


class EnvListen(unittest.TestCase):
    def start(self, p, env):
        p.start("router")
        p.start("file-sink", "--route", "archive")
        p.start("ingest", env_extra=env)

    def test_localhost_means_every_interface(self):
        with h.Pipeline() as p:
            self.assertEqual(p.config["ingest"]["host"], "127.0.0.1")
            self.start(p, {"HAMUSTRO_HOST": "localhost"})
            p.wait_healthy()
            self.assertEqual(listeners(p.port), ["0.0.0.0"])
            self.assertIn("listening on 0.0.0.0:%d" % p.port, p.log_text("ingest"))
            status, body = health("127.0.0.2", p.port)
            self.assertEqual(status, 200, body)
            self.assertIs(json.loads(body)["up"], True)

    def test_host_and_port_override_the_config(self):
        with h.Pipeline() as p:
            configured = p.port
            p.port = h.free_port()
            # The config says 127.0.0.1 too: set another host first to see
            # HAMUSTRO_HOST win over it.
            p.config["ingest"]["host"] = "0.0.0.0"
            p.write_config()
            self.start(p, {"HAMUSTRO_HOST": "127.0.0.1", "HAMUSTRO_PORT": str(p.port)})
            p.wait_healthy()
            self.assertEqual(listeners(p.port), ["127.0.0.1"])
            self.assertEqual(listeners(configured), [])
            self.assertIsNone(health("127.0.0.2", p.port), "listening beyond 127.0.0.1")
            # hamustro-send without --url goes where the variables say.
            env = dict(os.environ, HAMUSTRO_HOST="127.0.0.1", HAMUSTRO_PORT=str(p.port))
            r = subprocess.run([os.path.join(h.BIN, "hamustro-send"), "--config",
                                p.config_path, "--count", "5", "--payloads", "2", "--quiet",
                                "--json-summary"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(h.send_summary(r.stdout.decode())["ok"], 5, r.stdout)
            self.assertEqual(len(p.wait_events(10)), 10)

    def test_bad_port_stops_the_program(self):
        with h.Pipeline() as p:
            for value in ("99999", "http", "0"):
                env = {k: v for k, v in os.environ.items() if not k.startswith("HAMUSTRO_")}
                env["HAMUSTRO_PORT"] = value
                for prog in ("ingest", "send"):
                    args = ["--count", "1"] if prog == "send" else []
                    r = subprocess.run([os.path.join(h.BIN, "hamustro-" + prog), "--config",
                                        p.config_path] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, timeout=20)
                    self.assertNotEqual(r.returncode, 0, (prog, value))
                    self.assertIn('environment: HAMUSTRO_PORT: "%s" is not a port' % value,
                                  r.stderr.decode(), (prog, value))


if __name__ == "__main__":
    unittest.main(verbosity=2)
