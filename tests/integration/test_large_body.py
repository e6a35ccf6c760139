"""A 413 the client can read (issue 14, item 2). A client that POSTs a body
over max_body_bytes without Expect: 100-continue (Python's urllib, curl told
not to, most mobile SDKs) sends the whole body before it reads anything. If
the ingest answered and closed while the body was still arriving, the kernel
would reset the connection (unread data pending) and the client would see
"connection reset by peer" instead of the 413. The ingest reads and drops
the rest of the body (bounded: linger_max_bytes, linger_timeout) and then
answers, so the client reads the 413 and its JSON; nothing of the body is
kept, so the ingest's memory stays flat."""

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

MIB = 1 << 20
KEY = {"X-Hamustro-Maintenance-Key": hashlib.sha256(b"mk").hexdigest()}


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class LargeBody(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = h.Pipeline()  # max_body_bytes 1 MiB, linger defaults
        cls.p.start_all()
        cls.url = "http://127.0.0.1:%d/api/v1/track" % cls.p.port
        cls.files = {}
        cls.tmp = tempfile.mkdtemp(prefix="hm-large-")
        for mib in (2, 50):
            path = os.path.join(cls.tmp, "%d.bin" % mib)
            with open(path, "wb") as f:
                f.write(b"\x0a" * (mib * MIB))
            cls.files[mib] = path

    @classmethod
    def tearDownClass(cls):
        cls.p.close()
        for path in cls.files.values():
            os.unlink(path)
        os.rmdir(cls.tmp)

    def assert413(self, body):
        self.assertIn("max_body_bytes", json.loads(body)["error"])

    def urllib_post(self, mib):
        with open(self.files[mib], "rb") as f:
            data = f.read()
        req = urllib.request.Request(self.url, data=data, method="POST",
                                     headers={"Content-Type": "application/protobuf"})
        try:
            urllib.request.urlopen(req, timeout=60)
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        raise AssertionError("a %d MiB body was accepted" % mib)

    def curl_post(self, mib, expect):
        cmd = ["curl", "-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}",
               "-H", "Content-Type: application/protobuf",
               "--data-binary", "@" + self.files[mib], self.url]
        if not expect:
            cmd[1:1] = ["-H", "Expect:"]  # no 100-continue: the body goes at once
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code), body

    @h.dump_on_failure
    def test_urllib_reads_413(self):
        for mib in (2, 50):
            status, body = self.urllib_post(mib)
            self.assertEqual(status, 413, mib)
            self.assert413(body)

    @h.dump_on_failure
    def test_curl_reads_413(self):
        for mib in (2, 50):
            for expect in (False, True):
                status, body = self.curl_post(mib, expect)
                self.assertEqual(status, 413, (mib, expect))
                self.assert413(body)

    @h.dump_on_failure
    def test_chunked_body_reads_413(self):
        # No Content-Length: the body goes past max_body_bytes while it is
        # read; the rest is dropped and the 413 answered at its end.
        def chunks():
            for _ in range(2 * 16):
                yield b"\x0a" * (64 << 10)
        # http.client sends a generator chunked (it adds the header).
        status, _, body = self.p.request("POST", "/api/v1/track", body=chunks(), headers={
            "Content-Type": "application/protobuf"}, timeout=60)
        self.assertEqual(status, 413)
        self.assert413(body)

    @h.dump_on_failure
    def test_memory_stays_flat(self):
        pid = self.p.procs["ingest"].pid
        self.urllib_post(2)  # warm up: buffers, pools
        before = vm_rss_kib(pid)
        for _ in range(4):
            self.assertEqual(self.urllib_post(50)[0], 413)
            self.assertEqual(self.curl_post(50, False)[0], 413)
        after = vm_rss_kib(pid)
        print("\ningest VmRSS before %d KiB, after 400 MiB of dropped bodies %d KiB" % (
            before, after))
        # 400 MiB went through; a body kept would show as 50 MiB at least.
        self.assertLess(after - before, 8 * 1024)

    @h.dump_on_failure
    def test_good_request_after_413_on_same_connection(self):
        # The body was read to its end: the connection is in step and can
        # carry the next request.
        conn = http.client.HTTPConnection("127.0.0.1", self.p.port, timeout=60)
        try:
            conn.request("POST", "/api/v1/track", body=b"\x0a" * (2 * MIB),
                         headers={"Content-Type": "application/protobuf"})
            r = conn.getresponse()
            self.assertEqual(r.status, 413)
            self.assert413(r.read())
            body = h.encode_collection(h.make_collection(1))
            t = "1454514088"
            conn.request("POST", "/api/v1/track", body=body, headers={
                "Content-Type": "application/protobuf", "X-Hamustro-Time": t,
                "X-Hamustro-Signature": h.signature(body, t)})
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.read())
        finally:
            conn.close()


class LingerBounds(unittest.TestCase):
    """Past its bounds the ingest stops reading: a body announced larger
    than linger_max_bytes is answered at once (the client may then see a
    reset), and one still coming after linger_timeout is cut."""

    # (the with block prints the logs on a failure)
    def test_announced_past_bound_answered_at_once(self):
        with h.Pipeline(ingest={"linger_max_bytes": 4 * MIB}) as p:
            p.start_all()
            s = socket.create_connection(("127.0.0.1", p.port), timeout=30)
            try:
                s.sendall(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/protobuf\r\n"
                          b"Content-Length: %d\r\n\r\n" % (8 * MIB))
                # Not a byte of the body sent: the answer comes anyway.
                answer = b""
                while b"\r\n\r\n" not in answer:
                    data = s.recv(4096)
                    self.assertTrue(data, "closed without an answer")
                    answer += data
                self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer)
            finally:
                s.close()

    def test_linger_deadline(self):
        with h.Pipeline(ingest={"linger_timeout": 1}) as p:
            p.start_all()
            s = socket.create_connection(("127.0.0.1", p.port), timeout=60)
            try:
                s.sendall(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/protobuf\r\n"
                          b"Content-Length: %d\r\n\r\n" % (2 * MIB) + b"\x0a" * (64 << 10))
                # The rest of the body never comes: closed after linger_timeout.
                try:
                    while s.recv(4096):
                        pass
                except ConnectionResetError:
                    pass
            finally:
                s.close()
            status, _, body = p.request("GET", "/api/stats", headers=KEY)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["closed_slow"]["linger"], 1)


if __name__ == "__main__":
    unittest.main()
