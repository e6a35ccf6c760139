"""Every status code of the client protocol (ARCHITECTURE section 2), for
protobuf and JSON bodies, one and many payloads, signature required and
optional, against the real ingest, router and file sink."""

import hashlib
import http.client
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


class StatusCodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = h.Pipeline(ingest={"max_body_bytes": 65536}).start_all()

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def assertError(self, answer, status, reason_part):
        got, headers, body = answer
        self.assertEqual(got, status, body)
        self.assertIn("application/json", headers.get("content-type", ""))
        err = json.loads(body)["error"]
        self.assertIn(reason_part.lower(), err.lower())

    def test_200_protobuf_one_and_many(self):
        for n in (1, 25):
            c = h.make_collection(n, device="dev-pb-%d" % n)
            status, _, body = self.p.track_retry(h.encode_collection(c))
            self.assertEqual(status, 200, body)

    def test_200_json_original_and_camel_names(self):
        for camel in (False, True):
            c = h.make_collection(3, device="dev-json-%s" % camel)
            status, _, body = self.p.track_retry(h.collection_json(c, camel), "application/json")
            self.assertEqual(status, 200, body)

    def test_content_type_parameters_accepted(self):
        c = h.make_collection(1, device="dev-charset")
        status, _, body = self.p.track_retry(h.encode_collection(c),
                                       "application/protobuf; charset=binary")
        self.assertEqual(status, 200, body)

    def test_204_no_payloads(self):
        c = h.make_collection(0)
        self.assertEqual(self.p.track(h.encode_collection(c))[0], 204)
        self.assertEqual(self.p.track(h.collection_json(c), "application/json")[0], 204)

    def test_400_malformed_bodies(self):
        self.assertError(self.p.track(b"\xff\xff\xff garbage"), 400, "protobuf")
        self.assertError(self.p.track(b"{not json", "application/json"), 400, "json")
        # A body that is not what its Content-Type says.
        c = h.make_collection(1)
        self.assertEqual(self.p.track(h.collection_json(c), "application/protobuf")[0], 400)
        self.assertEqual(self.p.track(h.encode_collection(c), "application/json")[0], 400)

    def test_400_missing_required_fields(self):
        for field in ("device_id", "client_id", "session", "system_version",
                      "product_version", "env"):
            c = h.make_collection(1)
            del c[field]
            self.assertEqual(self.p.track(h.encode_collection(c))[0], 400, field)
            self.assertError(self.p.track(h.collection_json(c), "application/json"), 400, field)
        for field in ("at", "event", "nr"):
            c = h.make_collection(1)
            del c["payloads"][0][field]
            self.assertEqual(self.p.track(h.encode_collection(c))[0], 400, field)
            self.assertError(self.p.track(h.collection_json(c), "application/json"), 400, field)

    def test_400_wrong_session(self):
        c = h.make_collection(1)
        c["session"] = "0" * 32
        self.assertError(self.p.track(h.encode_collection(c)), 400, "session")

    def test_401_signature(self):
        body = h.encode_collection(h.make_collection(1))
        self.assertError(self.p.track(body, signed=False), 401, "X-Hamustro")
        self.assertError(self.p.track(body, secret="wrong"), 401, "signature")
        self.assertError(self.p.track(body, signed=False, extra={"X-Hamustro-Time": "1"}),
                         401, "X-Hamustro-Signature")
        sig = h.signature(body, "1")
        self.assertError(self.p.track(body, signed=False, extra={"X-Hamustro-Signature": sig}),
                         401, "X-Hamustro-Time")

    def test_405_wrong_method_with_allow(self):
        status, headers, _ = self.p.request("GET", "/api/v1/track")
        self.assertEqual(status, 405)
        self.assertIn("POST", headers.get("allow", ""))
        status, headers, _ = self.p.request("GET", "/api/flush")
        self.assertEqual(status, 405)
        self.assertIn("POST", headers.get("allow", ""))

    def test_413_body_too_large(self):
        body = b"x" * 70000
        self.assertError(self.p.track(body), 413, "larger than max_body_bytes")

    def test_415_content_type(self):
        body = h.encode_collection(h.make_collection(1))
        self.assertError(self.p.track(body, content_type=None), 415, "content-type")
        self.assertError(self.p.track(body, content_type="text/plain"), 415, "content-type")

    def test_health(self):
        status, _, body = self.p.request("GET", "/api/health")
        self.assertEqual(status, 200)
        self.assertIs(json.loads(body)["up"], True)

    def test_flush_keys(self):
        good = hashlib.sha256(b"mk").hexdigest()
        self.assertEqual(self.p.request("POST", "/api/flush",
                                        headers={"X-Hamustro-Maintenance-Key": good})[0], 200)
        self.assertError(self.p.request("POST", "/api/flush"), 401,
                         "X-Hamustro-Maintenance-Key header is invalid")
        self.assertError(self.p.request("POST", "/api/flush",
                                        headers={"X-Hamustro-Maintenance-Key": "00" * 32}),
                         401, "X-Hamustro-Maintenance-Key header is invalid")

    def test_404_unknown_path(self):
        self.assertEqual(self.p.request("GET", "/nope")[0], 404)


def connections_by_epoll(pid, port):
    """{epoll fd: [remote port, ...]} of the established TCP connections to
    `port` that each epoll set of process pid watches (/proc fdinfo's tfd
    lines): one epoll set per ingest thread."""
    inodes = {}
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if int(local.split(":")[1], 16) == port and state == "01":
                inodes["socket:[%s]" % inode] = int(remote.split(":")[1], 16)
    fds = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            fds[fd] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    owners = {}
    for fd, target in fds.items():
        if target != "anon_inode:[eventpoll]":
            continue
        with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
            watched = [line.split()[1] for line in f if line.startswith("tfd:")]
        held = [inodes[fds[w]] for w in watched if fds.get(w) in inodes]
        if held:
            owners[int(fd)] = sorted(held)
    return owners


class Stats(unittest.TestCase):
    """GET /api/stats: every answer counted by status, accepted track
    requests and their events, across all ingest threads."""

    KEY = {"X-Hamustro-Maintenance-Key": hashlib.sha256(b"mk").hexdigest()}

    def stats(self, p):
        status, headers, body = p.request("GET", "/api/stats", headers=self.KEY)
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", headers.get("content-type", ""))
        return json.loads(body)

    def check_counts(self, threads):
        with h.Pipeline(ingest={"threads": threads}) as p:
            p.start_all()
            before = self.stats(p)
            one = h.encode_collection(h.make_collection(1))
            self.assertEqual(p.track(one)[0], 200)
            # Several requests, each on its own connection, so that with two
            # threads both take some (the kernel spreads connections).
            for _ in range(6):
                self.assertEqual(p.track(h.encode_collection(h.make_collection(3)))[0], 200)
            self.assertEqual(p.track(one, secret="wrong")[0], 401)
            self.assertEqual(p.track(one, content_type="text/plain")[0], 415)
            self.assertEqual(p.track(b"\xff\xff")[0], 400)
            self.assertEqual(p.request("GET", "/nope")[0], 404)
            self.assertEqual(p.request("POST", "/api/stats", headers=self.KEY)[0], 405)
            self.assertEqual(p.request("GET", "/api/stats")[0], 401)
            after = self.stats(p)
            delta = {k: after["answers"][k] - before["answers"][k] for k in after["answers"]}
            # 200: the 7 track requests and the second stats request itself.
            self.assertEqual(delta, {"200": 8, "204": 0, "400": 1, "401": 2, "404": 1, "405": 1,
                                     "413": 0, "415": 1, "503": 0, "other": 0})
            self.assertEqual(after["requests"] - before["requests"], 14)
            self.assertEqual(after["track_accepted"] - before["track_accepted"], 7)
            self.assertEqual(after["events_accepted"] - before["events_accepted"], 1 + 6 * 3)
            self.assertGreaterEqual(after["uptime_s"], before["uptime_s"])

    def test_counts_one_thread(self):
        self.check_counts(1)

    def test_counts_two_threads(self):
        self.check_counts(2)

    def test_two_threads_both_serve_and_count(self):
        """Connections held open are each owned by one thread (MHD puts a
        connection in its own thread's epoll set): with both threads holding
        some, requests on all of them must all be counted."""
        with h.Pipeline(ingest={"threads": 2}) as p:
            p.start_all()
            conns = []
            try:
                # SO_REUSEPORT spreads connections by a hash of their ports:
                # 32 all landing on one thread has odds of 2^-31.
                for _ in range(32):
                    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
                    conn.request("GET", "/api/health")
                    self.assertEqual(conn.getresponse().read()[:10], b'{"up":true')
                    conns.append(conn)
                owners = connections_by_epoll(p.procs["ingest"].pid, p.port)
                self.assertEqual(sum(len(v) for v in owners.values()), 32, owners)
                self.assertEqual(len(owners), 2, "connections not spread over both threads: "
                                 "%s" % owners)
                before = self.stats(p)
                body = h.encode_collection(h.make_collection(2))
                headers = {"Content-Type": "application/protobuf",
                           "X-Hamustro-Time": "1454514088",
                           "X-Hamustro-Signature": h.signature(body, "1454514088")}
                for conn in conns:
                    conn.request("POST", "/api/v1/track", body=body, headers=headers)
                    r = conn.getresponse()
                    self.assertEqual(r.status, 200, r.read())
                    r.read()
                after = self.stats(p)
            finally:
                for conn in conns:
                    conn.close()
            self.assertEqual(after["answers"]["200"] - before["answers"]["200"], 33)
            self.assertEqual(after["track_accepted"] - before["track_accepted"], 32)
            self.assertEqual(after["events_accepted"] - before["events_accepted"], 64)

    def test_key_required(self):
        with h.Pipeline(maintenance_key="") as p:
            p.start_all()
            status, _, body = p.request("GET", "/api/stats", headers={
                "X-Hamustro-Maintenance-Key": hashlib.sha256(b"").hexdigest()})
            self.assertEqual(status, 503)
            self.assertIn("maintenance_key", json.loads(body)["error"])
        with h.Pipeline() as p:
            p.start_all()
            status, _, body = p.request("GET", "/api/stats", headers={
                "X-Hamustro-Maintenance-Key": "00" * 32})
            self.assertEqual(status, 401)
            self.assertNotIn(b"answers", body)


class SignatureOptional(unittest.TestCase):
    def test_unsigned_accepted_signed_checked(self):
        with h.Pipeline(signature="optional", maintenance_key="") as p:
            p.start_all()
            body = h.encode_collection(h.make_collection(2))
            self.assertEqual(p.track_retry(body, signed=False)[0], 200)
            self.assertEqual(p.track_retry(body)[0], 200)
            # A client that sends either header has both checked.
            self.assertEqual(p.track(body, secret="wrong")[0], 401)
            self.assertEqual(p.track(body, signed=False, extra={"X-Hamustro-Time": "1"})[0], 401)
            # No maintenance key configured: flush is unavailable.
            self.assertEqual(p.request("POST", "/api/flush",
                                       headers={"X-Hamustro-Maintenance-Key": "x"})[0], 503)


class RouterDown(unittest.TestCase):
    def test_503_when_router_down(self):
        with h.Pipeline(ingest={"router_timeout_ms": 300}) as p:
            p.start_all()
            p.stop("router")
            body = h.encode_collection(h.make_collection(1))
            status, headers, _ = p.track(body)
            self.assertEqual(status, 503)
            self.assertIn("retry-after", headers)
            status, _, _ = p.request("GET", "/api/health")
            deadline = time.time() + 5
            while status != 503 and time.time() < deadline:
                time.sleep(0.2)
                status, _, _ = p.request("GET", "/api/health")
            self.assertEqual(status, 503)

    def test_health_up_means_a_track_is_taken(self):
        """Up promises that a request sent now is taken: the ingest's append
        socket must be connected, not only the control one. No resends here."""
        with h.Pipeline() as p:
            p.start("ingest")

            def health():
                try:
                    return p.request("GET", "/api/health", timeout=5)
                except OSError:  # not listening yet
                    return None
            self.assertTrue(h.wait_for(lambda: health() is not None, 30))
            status, _, body = health()
            self.assertEqual(status, 503)
            self.assertIn("router", json.loads(body)["error"])
            body = h.encode_collection(h.make_collection(1))
            p.start("file-sink", "--route", "archive")
            for _ in range(3):
                p.start("router")
                p.wait_healthy()
                self.assertEqual(p.track(body)[0], 200)
                p.stop("router", sig=signal.SIGKILL)
                # Once a track is refused for want of a router, health must
                # agree at once (not serve a cached "up").
                deadline = time.time() + 5
                while p.track(body)[0] != 503:
                    self.assertLess(time.time(), deadline, "tracks taken with the router killed")
                    time.sleep(0.05)
                status, _, text = p.request("GET", "/api/health")
                self.assertEqual(status, 503, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
