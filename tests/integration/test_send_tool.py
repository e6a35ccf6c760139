#!/usr/bin/env python3
"""hamustro-send's resend and --record against a scripted collector: a
stdlib HTTP server on 127.0.0.1 that answers 503 (Retry-After: 1) to the
requests it is told to, or reads one and closes the connection without an
answer ("drop", what HAProxy does to a kept-alive client connection when
the edge behind it dies), 200 to the rest. The fault suite counts on the
record's third column to tell a client's resend from a duplicate; this pins
that column down on its own."""
import http.server
import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class Scripted(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answers):
        self.answers = list(answers)  # status of request 1, 2, ...; then 200
        self.seen = []                # X-Hamustro-Signature of each request
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        srv = self.server
        with srv.lock:
            srv.seen.append((self.headers.get("X-Hamustro-Signature"), body))
            status = srv.answers.pop(0) if srv.answers else 200
        if status == "drop":
            self.close_connection = True
            return
        reply = b"{}" if status == 200 else b'{"error": "scripted"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(reply)


def run_send(port, record, *args):
    cmd = [os.path.join(h.BIN, "hamustro-send"), "--secret", "s", "--quiet", "--json-summary",
           "--url", "http://127.0.0.1:%d/api/v1/track" % port, "--record", record,
           "--format", "protobuf", "--payloads", "3", "--concurrency", "1", "--seed", "7"]
    p = h.subprocess.run(cmd + list(args), stdout=h.subprocess.PIPE, stderr=h.subprocess.PIPE,
                         timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class SendRecord(unittest.TestCase):
    def serve(self, answers):
        srv = Scripted(answers)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv

    def test_resent_request_records_its_sends(self):
        # Request 1 is answered 503 twice, then 200: sent three times.
        # Request 2 gets 200 at once: two columns only.
        srv = self.serve([503, 503])
        with tempfile.TemporaryDirectory() as d:
            record = os.path.join(d, "acked.tsv")
            rc, out, err = run_send(srv.server_address[1], record, "--count", "2", "--retry", "5")
            self.assertEqual(rc, 0, out + err)
            summary = json.loads(out.strip().splitlines()[-1])
            self.assertEqual(summary["retries"], 2, summary)
            with open(record) as f:
                lines = [line.rstrip("\n").split("\t") for line in f]
            # harness.read_record hands the sends to the fault suite's accounting.
            sends = {}
            pairs = h.read_record(record, sends)
        self.assertEqual(len(srv.seen), 4)
        # A resend is the same request: same body, same signature.
        self.assertEqual(srv.seen[0], srv.seen[1])
        self.assertEqual(srv.seen[1], srv.seen[2])
        self.assertNotEqual(srv.seen[2], srv.seen[3])
        self.assertEqual(len(lines), 6, lines)  # 2 requests x 3 payloads
        self.assertEqual([len(cols) for cols in lines], [3, 3, 3, 2, 2, 2], lines)
        self.assertEqual([cols[2] for cols in lines[:3]], ["3", "3", "3"])
        self.assertEqual(len(pairs), 6)
        self.assertEqual(sorted(sends.values()), [3, 3, 3])
        self.assertEqual(set(sends), set(pairs[:3]))

    def test_resend_by_libcurl_is_recorded(self):
        # Request 2 goes on the connection request 1 was answered on; the
        # server reads it and closes without answering. libcurl sends it
        # again on a fresh connection by itself (no 503, no --retry): the
        # server may have stored the first send, so the record must say
        # that the request went twice (issue 16: the copies on two edges).
        srv = self.serve([200, "drop"])
        with tempfile.TemporaryDirectory() as d:
            record = os.path.join(d, "acked.tsv")
            rc, out, err = run_send(srv.server_address[1], record, "--count", "2", "--retry", "0")
            self.assertEqual(rc, 0, out + err)
            summary = json.loads(out.strip().splitlines()[-1])
            with open(record) as f:
                lines = [line.rstrip("\n").split("\t") for line in f]
        self.assertEqual(len(srv.seen), 3)
        self.assertEqual(srv.seen[1], srv.seen[2])  # the same request, sent again
        self.assertEqual(summary["status"], {"200": 2}, summary)
        self.assertEqual(summary["retries"], 0, summary)
        self.assertEqual(summary["reconnect_resends"], 1, summary)
        self.assertEqual(lines[:3], [[c[0], c[1]] for c in lines[:3]], lines)
        self.assertEqual([cols[2:] for cols in lines[3:]], [["2"]] * 3, lines)

    def test_request_out_of_retries_is_not_recorded(self):
        srv = self.serve([503, 503, 503])
        with tempfile.TemporaryDirectory() as d:
            record = os.path.join(d, "acked.tsv")
            rc, out, err = run_send(srv.server_address[1], record, "--count", "1", "--retry", "2")
            self.assertEqual(rc, 0, out + err)
            summary = json.loads(out.strip().splitlines()[-1])
            with open(record) as f:
                self.assertEqual(f.read(), "")
        self.assertEqual(len(srv.seen), 3)
        self.assertEqual(summary["retries"], 2, summary)


if __name__ == "__main__":
    unittest.main()
