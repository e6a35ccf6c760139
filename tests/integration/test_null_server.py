"""hamustro-null-server, the bench's ceiling (bench/run.sh): it reads each
body and answers 200 with an empty body, on keep-alive connections; with
--defer (the bench's floor) every answer goes through libmicrohttpd's
suspend and resume first and still arrives, request after request on one
connection. A bad option stops it with the reason."""

import http.client
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

NULL = os.path.join(h.BIN, "hamustro-null-server")


class NullServer(unittest.TestCase):
    def serve(self, *args):
        port = h.free_port()
        proc = subprocess.Popen([NULL, "--port", str(port), "--threads", "1", *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.connect()
                return proc, conn
            except ConnectionRefusedError:
                self.assertIsNone(proc.poll(), "the null server exited")
                self.assertLess(time.monotonic(), deadline, "the null server never listened")
                time.sleep(0.05)

    def stop(self, proc):
        """SIGTERM: exits 0 with no sanitizer report; returns its stderr."""
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        err = err.decode(errors="replace")
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(h.sanitizer_reports_in(err), [])
        return err

    def answers(self, conn, n):
        for i in range(n):
            body = b"x" * (i * 997 % 5000)
            conn.request("POST", "/api/v1/track", body=body)
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"")

    def test_plain(self):
        proc, conn = self.serve()
        self.answers(conn, 50)
        conn.close()
        self.assertNotIn("deferred answers", self.stop(proc))

    def test_defer(self):
        proc, conn = self.serve("--defer")
        self.answers(conn, 50)
        conn.close()
        self.assertIn("deferred answers", self.stop(proc))

    def test_help_and_bad_option(self):
        out = subprocess.run([NULL, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--defer", out.stdout)
        bad = subprocess.run([NULL, "--defer=1"], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("hamustro-null-server:", bad.stderr)


if __name__ == "__main__":
    unittest.main()
