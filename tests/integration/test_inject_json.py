"""Open formats on the router's ZeroMQ sockets (issue 15, part 4), driven by
a ZeroMQ client the project did not write (pyzmq, Debian's python3-zmq):
single-frame JSON messages into inject (one flat event as hamustro-push
reads it, or one JSON Collection as a client posts it) come out of the file
sink and, as the file sink's JSON lines, out of the JSON tap
(router.tap_json) to a plain SUB socket; garbage is refused and counted in
hamustro-ctl status (inject.refused) and the router keeps going; strings
with NUL bytes stay whole."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

try:
    import zmq
except ImportError:
    # python3-zmq is built for Debian's interpreter; ctest may have found
    # another python3 first in PATH (pyenv): run under Debian's instead.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    h.skip("python3-zmq is not installed (make deps installs it)")

FLAT = {"device_id": "dev-1", "client_id": "cli-1", "session": "s-flat", "nr": 1,
        "env": "DEVELOPMENT", "system_version": "1", "product_version": "2",
        "at": 1454514088, "timezone": "+01:00", "event": "Flat.Event",
        "parameters": {"k": "v\u0000w"}}


class InjectJson(unittest.TestCase):
    def setUp(self):
        self.p = h.Pipeline()
        run = self.p.config["router"]["run_dir"]
        self.tap_ep = "ipc://%s/tap_json.ipc" % run
        self.p.config["router"]["tap_json"] = self.tap_ep
        self.p.write_config()
        self.p.start_all()
        self.ctx = zmq.Context()
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 5000)
        self.push.connect("ipc://%s/inject.ipc" % run)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(self.tap_ep)

    def tearDown(self):
        self.push.close()
        self.sub.close()
        self.ctx.term()
        self.p.close()

    def tapped(self, want, timeout=60):
        """JSON tap messages until one has event == want (all of them)."""
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.sub.poll(500):
                got.append(self.sub.recv(zmq.NOBLOCK))
                if json.loads(got[-1])["event"] == want:
                    return got
        raise AssertionError("JSON tap: no %r within %ds; got %r" % (want, timeout, got))

    @h.dump_on_failure
    def test_json_in_json_out(self):
        # PUB/SUB passes only what comes after the subscription: inject
        # probes until the tap shows one.
        deadline = time.time() + 60
        probes = 0
        while True:
            probes += 1
            self.push.send(json.dumps(dict(FLAT, event="Probe", nr=probes)).encode())
            if self.sub.poll(1000):
                self.sub.recv()
                break
            self.assertLess(time.time(), deadline, "the JSON tap never showed a probe")
        while self.sub.poll(1000):  # the other probes' lines
            self.sub.recv()

        # Garbage: none of it reaches the log, each counted, the router lives.
        garbage = [b"", b"not json", b"[1,2]", b'{"payloads":[{"nr":1}]}',
                   json.dumps(dict(FLAT, nr=-1)).encode(), b"\xff\xfe{",
                   json.dumps({"device_id": "x"}).encode()]
        for g in garbage:
            self.push.send(g)

        # A flat event, with NUL bytes in its name and a parameter.
        self.push.send(json.dumps(dict(FLAT, event="Flat\u0000Event")).encode())
        # A JSON Collection (the client's body format) of three payloads.
        c = h.make_collection(3, start_nr=10)
        c["payloads"][2]["event"] = "Coll.Last"
        self.push.send(h.collection_json(c))

        # A late probe's line may still come first: only ours are checked.
        lines = [x for x in self.tapped("Coll.Last") if json.loads(x)["event"] != "Probe"]
        events = [json.loads(x) for x in lines]
        self.assertEqual([e["event"] for e in events],
                         ["Flat\u0000Event", "Client.Test", "Client.Test", "Coll.Last"])
        for raw in lines:  # the file sink's line, one per message
            self.assertTrue(raw.endswith(b"\n") and raw.count(b"\n") == 1, raw)
        self.assertIn(b'"Flat\\u0000Event"', lines[0])
        self.assertEqual(json.loads(events[0]["parameters"]), {"k": "v\u0000w"})
        self.assertEqual([e["nr"] for e in events[1:]], [10, 11, 12])

        # The same events, byte for byte the same lines, in the file sink's files.
        files = self.p.wait_events(probes + 4)
        raw_out = [line for _, line in self.p.output_lines()]
        for line in lines:
            self.assertIn(line.rstrip(b"\n"), [x.rstrip(b"\n") for x in raw_out])
        self.assertEqual(len(files), probes + 4, "garbage reached the files")

        st = self.p.router_status()
        self.assertEqual(st["inject"]["refused"], len(garbage), st)
        self.assertEqual(st["counters"]["injected"], probes + 2, st)
        self.assertTrue(st["tap_json"]["enabled"], st)
        self.assertIsNone(self.p.procs["router"].poll(), "the router died")


class TapJsonOff(unittest.TestCase):
    def test_off_by_default(self):
        with h.Pipeline() as p:
            p.start("router")
            self.assertTrue(h.wait_for(lambda: p.router_status() is not None, 30))
            st = p.router_status()
            self.assertFalse(st["tap_json"]["enabled"], st)
            self.assertFalse(os.path.exists(os.path.join(p.config["router"]["run_dir"],
                                                         "tap_json.ipc")))


if __name__ == "__main__":
    unittest.main()
