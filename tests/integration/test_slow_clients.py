"""Slow clients (issue 14, item 1): 1,100 sockets that send a request line
and then one header byte per second (or a whole head and then one body byte
per second) fill ingest.max_connections (1024). libmicrohttpd's own timeout
counts idle time and a trickling client is never idle, so without the
ingest's police (ingest/police.c) they hold their slots and a normal client
waits in the listen backlog forever. With it: the trickling sockets are
closed by the server (head deadline, body rate, or, while the table is full,
the slowest first), and a normal client keeps getting its 200 meanwhile.

Latencies are printed (bench/RESULTS.md records them), never asserted."""

import hashlib
import json
import os
import resource
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

SOCKETS = 1100
KEY = {"X-Hamustro-Maintenance-Key": hashlib.sha256(b"mk").hexdigest()}


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        hard = need  # root may raise it; anyone else gets a clear error here
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class Trickler(threading.Thread):
    """Opens n sockets, sends each `first`, then one byte of `drip` per
    second to each until the server closes it; records when each closed."""

    def __init__(self, port, n, first, drip=b"a"):
        super().__init__(daemon=True)
        self.port, self.n, self.first, self.drip = port, n, first, drip
        self.socks = {}      # fd -> socket, still open
        self.opened = {}     # fd -> time the socket connected
        self.lifetimes = []  # seconds each closed socket lived
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def open_count(self):
        with self.lock:
            return len(self.socks)

    def _closed(self, fd):
        s = self.socks.pop(fd)
        self.lifetimes.append(time.time() - self.opened.pop(fd))
        s.close()

    def run(self):
        poller = select.poll()
        for _ in range(self.n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            s.sendall(self.first)
            s.setblocking(False)
            with self.lock:
                self.socks[s.fileno()] = s
                self.opened[s.fileno()] = time.time()
            poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        self.ready.set()
        next_drip = time.time() + 1
        while not self.stop.is_set() and self.open_count():
            for fd, _ in poller.poll(100):
                with self.lock:
                    s = self.socks.get(fd)
                    if s is None:
                        continue
                    try:
                        if s.recv(4096):
                            continue  # an answer (none is expected): wait for the close
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    poller.unregister(fd)
                    self._closed(fd)
            if time.time() >= next_drip:
                next_drip += 1
                with self.lock:
                    for fd, s in list(self.socks.items()):
                        try:
                            s.send(self.drip)
                        except BlockingIOError:
                            pass
                        except OSError:
                            poller.unregister(fd)
                            self._closed(fd)
        with self.lock:
            for s in self.socks.values():
                s.close()


class SlowClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The test's sockets, the ingest's (it inherits this limit) and spare.
        raise_nofile(4 * SOCKETS)

    def setUp(self):
        # Defaults: max_connections 1024, header_timeout 10, body_timeout
        # 10, body_min_rate 500.
        self.p = h.Pipeline()
        self.p.start_all()
        self.body = h.encode_collection(h.make_collection(1))

    def tearDown(self):
        self.p.close()

    def stats(self):
        status, _, body = self.p.request("GET", "/api/stats", headers=KEY, timeout=60)
        self.assertEqual(status, 200)
        return json.loads(body)

    def attack(self, first, drip, kinds):
        cfg_deadline = 10  # header_timeout and body_timeout defaults
        before = self.stats()["closed_slow"]
        t = Trickler(self.p.port, SOCKETS, first, drip)
        t.start()
        self.assertTrue(t.ready.wait(120), "could not open the trickling sockets")
        latencies, offsets = [], []
        t0 = time.time()
        try:
            # A normal client, one new connection per request, until the
            # server has closed every trickling socket (generous deadline).
            deadline = time.time() + cfg_deadline + 120
            while t.open_count() and time.time() < deadline:
                start = time.time()
                status, _, answer = self.p.track(self.body)
                latencies.append(time.time() - start)
                offsets.append(start - t0)
                self.assertEqual(status, 200, answer)
                time.sleep(0.2)
            h.wait_for(lambda: not t.open_count(), timeout=max(0, deadline - time.time()))
            self.assertEqual(t.open_count(), 0, "trickling sockets still open")
        finally:
            t.stop.set()
            t.join(30)
        after = self.stats()["closed_slow"]
        closed = sum(after[k] - before[k] for k in kinds)
        lat = sorted(latencies)
        worst = max(range(len(latencies)), key=latencies.__getitem__)
        print("\n%s: %d trickling sockets, all closed by the server; lifetimes min %.1f s, "
              "max %.1f s; normal client: %d requests, all 200, latency median %.3f s, "
              "p90 %.3f s, max %.3f s (sent %.1f s into the attack); closed_slow delta %s" % (
                  self._testMethodName, SOCKETS, min(t.lifetimes), max(t.lifetimes),
                  len(lat), lat[len(lat) // 2], lat[len(lat) * 9 // 10], lat[-1],
                  offsets[worst], {k: after[k] - before[k] for k in after}))
        self.assertGreater(len(latencies), 0)
        self.assertGreaterEqual(closed, SOCKETS)
        self.assertIn("slow connection", self.p.log_text("ingest"))

    @h.dump_on_failure
    def test_slow_heads(self):
        self.attack(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a",
                    ["head", "full"])

    @h.dump_on_failure
    def test_slow_bodies(self):
        head = (b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/protobuf\r\nContent-Length: 100000\r\n\r\n")
        self.attack(head, b"\x0a", ["body", "full"])



class KeepAlive(unittest.TestCase):
    """On a keep-alive connection the head deadline runs from the next
    head's first byte (the kernel's last-data-received time), not from the
    end of the last request: a quiet connection is left to
    connection_timeout, a trickling second head is closed."""

    def track_on(self, conn, body):
        t = "1454514088"
        conn.request("POST", "/api/v1/track", body=body, headers={
            "Content-Type": "application/protobuf", "X-Hamustro-Time": t,
            "X-Hamustro-Signature": h.signature(body, t)})
        r = conn.getresponse()
        self.assertEqual(r.status, 200, r.read())
        r.read()

    def test_trickling_second_head(self):
        import http.client
        with h.Pipeline(ingest={"header_timeout": 2}) as p:
            p.start_all()
            body = h.encode_collection(h.make_collection(1))
            quiet = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
            slow = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
            try:
                self.track_on(quiet, body)
                self.track_on(slow, body)
                slow.sock.sendall(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.sock.setblocking(False)
                deadline = time.time() + 60
                closed = False
                while not closed and time.time() < deadline:
                    try:
                        slow.sock.send(b"a")
                        closed = slow.sock.recv(4096) == b""
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed = True
                    time.sleep(0.5)  # the trickle's pace, not a wait for a condition
                self.assertTrue(closed, "the trickling head was not closed")
                # The quiet connection, idle since before the slow head
                # began, is still open and serves its next request.
                self.track_on(quiet, body)
                status, _, stats = p.request("GET", "/api/stats", headers=KEY)
                self.assertEqual(json.loads(stats)["closed_slow"],
                                 {"head": 1, "body": 0, "linger": 0, "full": 0})
            finally:
                quiet.close()
                slow.close()



class RouterWait(unittest.TestCase):
    """A request handed to the router is never closed by the police: not by
    the body deadline while it waits, nor when the table is full. The
    router is stopped (SIGSTOP) so the request waits its router_timeout_ms
    (3 s) and gets 503, three times the body and head deadlines (1 s),
    while silent sockets keep the table (8) full."""

    def test_waiting_request_answered(self):
        import signal
        with h.Pipeline(ingest={"max_connections": 8, "header_timeout": 1, "body_timeout": 1,
                                "body_min_rate": 0}) as p:
            p.start_all()
            body = h.encode_collection(h.make_collection(1))
            router = p.procs["router"]
            router.send_signal(signal.SIGSTOP)
            answer = {}
            silent = []
            try:
                def send():
                    try:
                        answer["r"] = p.track(body)
                    except OSError as e:
                        answer["r"] = e
                sender = threading.Thread(target=send)
                sender.start()
                # Silent sockets fill the table while the request waits.
                while sender.is_alive():
                    silent = [x for x in silent if x.fileno() >= 0]
                    silent.append(socket.create_connection(("127.0.0.1", p.port), timeout=30))
                    time.sleep(0.05)  # a steady trickle of new sockets, not a wait
                sender.join()
            finally:
                router.send_signal(signal.SIGCONT)
                for x in silent:
                    x.close()
            self.assertIsInstance(answer["r"], tuple, answer["r"])
            status, _, reply = answer["r"]
            self.assertEqual(status, 503, reply)
            self.assertIn("did not answer", json.loads(reply)["error"])
            status, _, stats = p.request("GET", "/api/stats", headers=KEY)
            closed = json.loads(stats)["closed_slow"]
            # The police was busy meanwhile: the silent sockets were closed.
            self.assertGreater(closed["head"] + closed["full"], 0, closed)


if __name__ == "__main__":
    unittest.main()
