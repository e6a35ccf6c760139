"""CurveZMQ between the programs (ARCHITECTURE section 3): with a "curve"
section every link is encrypted and the router talks only to clients that
hold its public key and, with allowed_clients, only to those client keys.
The links here are tcp:// on 127.0.0.1, as between hosts."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def keygen():
    out = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "keygen"], check=True,
                         stdout=subprocess.PIPE).stdout
    pair = json.loads(out)
    assert len(pair["public_key"]) == 40 and len(pair["secret_key"]) == 40, pair
    return pair


def tcp():
    return "tcp://127.0.0.1:%d" % h.free_port()


class Curve(unittest.TestCase):
    def setUp(self):
        self.server, self.client, self.stranger = keygen(), keygen(), keygen()
        self.p = h.Pipeline(
            router={"endpoint": tcp(), "tap": tcp(), "inject": tcp(), "control": tcp()},
            curve=self.good_curve())
        self.p.config["routes"]["archive"]["endpoint"] = tcp()
        self.p.write_config()

    def tearDown(self):
        self.p.close()

    def good_curve(self):
        return {"server_public_key": self.server["public_key"],
                "server_secret_key": self.server["secret_key"],
                "client_public_key": self.client["public_key"],
                "client_secret_key": self.client["secret_key"],
                "allowed_clients": [self.client["public_key"]]}

    def client_config(self, curve):
        """The pipeline's config as another client would have it."""
        cfg = json.loads(json.dumps(self.p.config))
        if curve is None:
            del cfg["curve"]
        else:
            cfg["curve"] = curve
        path = os.path.join(self.p.dir, "client-%d.json" % len(os.listdir(self.p.dir)))
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def push(self, config_path, collections):
        lines = b"".join(h.collection_json(c) + b"\n" for c in collections)
        return subprocess.run([os.path.join(h.BIN, "hamustro-push"), "--config", config_path,
                               "--timeout", "1500", "--retries", "1"],
                              input=lines, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)

    def status(self):
        out = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "--config",
                              self.p.config_path, "status", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        self.assertEqual(out.returncode, 0, out.stdout)
        return json.loads(out.stdout)

    def appended(self):
        return self.status()["counters"]["events"]

    @h.dump_on_failure
    def test_encrypted_links_deliver_everything(self):
        self.p.start_all()
        sent = []
        for i in range(20):
            c = h.make_collection(5, start_nr=1 + i * 5)
            status, _, body = self.p.track_retry(h.encode_collection(c))
            self.assertEqual(status, 200, body)
            sent.append(c)
        events = self.p.wait_events(100)
        self.assertEqual(sorted(e["nr"] for e in events), list(range(1, 101)))
        # hamustro-push, hamustro-tap and the control socket work with the
        # client pair too.
        tap = h.Tap(self.p.config_path)
        self.addCleanup(tap.close)
        probe = [0]

        def publish_probe():
            probe[0] += 1
            r = self.push(self.p.config_path,
                          [h.make_collection(1, device="probe", start_nr=probe[0])])
            self.assertEqual(r.returncode, 0, r.stdout)
        probes = tap.wait_subscribed(publish_probe)
        extra = [h.make_collection(3, start_nr=1001)]
        result = self.push(self.p.config_path, extra)
        self.assertEqual(result.returncode, 0, result.stdout)
        wanted = lambda: sorted(e["nr"] for e in tap.events() if e["device_id"] != "probe")
        self.assertTrue(h.wait_for(lambda: wanted() == [1001, 1002, 1003], 30), tap.lines)
        rc, err = tap.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(wanted(), [1001, 1002, 1003])
        self.assertEqual(self.appended(), 103 + probes)
        self.assertNotIn("refused a client", self.p.log_text("router"))
        self.assertEqual(self.status()["counters"]["curve_refused"], 0)

    @h.dump_on_failure
    def test_other_clients_are_refused(self):
        self.p.start_all()
        before = self.appended()
        c = [h.make_collection(2, start_nr=500)]
        # A client pair the router does not list: the handshake is refused.
        stranger = dict(self.p.config["curve"], client_public_key=self.stranger["public_key"],
                        client_secret_key=self.stranger["secret_key"])
        del stranger["server_secret_key"]
        result = self.push(self.client_config(stranger), c)
        self.assertEqual(result.returncode, 1, result.stdout)
        deadline = time.time() + 10
        while time.time() < deadline and "refused a client" not in self.p.log_text("router"):
            time.sleep(0.2)
        self.assertIn("curve: refused a client with key %s" % self.stranger["public_key"],
                      self.p.log_text("router"))
        self.assertGreaterEqual(self.status()["counters"]["curve_refused"], 1)
        # A client that believes in another server key, and one without
        # CurveZMQ at all, get nowhere either.
        wrong_server = dict(self.p.config["curve"], server_public_key=self.stranger["public_key"])
        del wrong_server["server_secret_key"]
        self.assertEqual(self.push(self.client_config(wrong_server), c).returncode, 1)
        self.assertEqual(self.push(self.client_config(None), c).returncode, 1)
        self.assertEqual(self.appended(), before)
        # The pipeline itself is unaffected.
        status, _, body = self.p.track_retry(h.encode_collection(h.make_collection(1)))
        self.assertEqual(status, 200, body)

    def test_missing_keys_stop_the_programs(self):
        curve = dict(self.p.config["curve"])
        del curve["server_secret_key"]
        self.p.config["curve"] = curve
        self.p.write_config()
        r = subprocess.run([os.path.join(h.BIN, "hamustro-router"), "--config",
                            self.p.config_path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("%s: curve.server_secret_key: missing" % self.p.config_path,
                      r.stdout.decode())
        del curve["client_public_key"], curve["client_secret_key"]
        self.p.write_config()
        for prog in ["ingest", "file-sink", "push", "tap", "ctl"]:
            args = ["status"] if prog == "ctl" else []
            r = subprocess.run([os.path.join(h.BIN, "hamustro-" + prog), "--config",
                                self.p.config_path] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            self.assertNotEqual(r.returncode, 0, prog)
            self.assertIn("%s: curve.client_public_key: missing" % self.p.config_path,
                          r.stdout.decode(), prog)

    def test_bad_keys_are_config_errors(self):
        cases = [
            ({"server_public_key": "short"}, "curve.server_public_key: not a CurveZMQ key"),
            ({"server_secret_key": self.stranger["secret_key"]},
             "curve.server_secret_key: is not the secret key of curve.server_public_key"),
            ({"client_secret_key": self.server["secret_key"]},
             "curve.client_secret_key: is not the secret key of curve.client_public_key"),
            ({"allowed_clients": ["|" * 40]}, "curve.allowed_clients[0]: not a CurveZMQ key"),
            ({"allowed_clients": "all"}, "curve.allowed_clients: must be a list"),
            ({"server_pub": "x"}, "curve.server_pub: unknown key"),
        ]
        for change, want in cases:
            self.p.config["curve"] = dict(self.good_curve(), **change)
            self.p.write_config()
            r = subprocess.run([os.path.join(h.BIN, "hamustro-router"), "--config",
                                self.p.config_path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
            self.assertNotEqual(r.returncode, 0, change)
            self.assertIn("%s: %s" % (self.p.config_path, want), r.stdout.decode(), change)


if __name__ == "__main__":
    unittest.main()
