"""hamustro-s3-sink end to end against s3rver behind the SigV4-verifying
proxy (tests/emulators): events sent through the ingest land as gzip'd
objects whose keys follow blob_path + the batch name, read back through
S3's API and compared field by field; every request's signature is
checked by the proxy. Also: CSV with the multipart path (a tiny
part_size), a wrong secret (403, nothing stored, everything stored once the
secret is fixed and the sink restarted), and s3rver away for 20 s."""

import gzip
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402

BUCKET = "hm-events"


def s3_route(proxy_port, **section):
    s3 = {"region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % proxy_port,
          "access_key_id": aws.AKID, "secret_access_key": aws.SECRET, "bucket": BUCKET,
          "blob_path": "events/{date}/", "file_format": "json"}
    s3.update(section)
    return {"sink": "s3", "max_events": 50, "max_age": 0.3, "s3": s3}


def send(p, count, start=0, payloads=10, big=0):
    """count collections of payloads events each, distinct (session, nr)."""
    sent = []
    for i in range(count):
        c = h.make_collection(payloads, start_nr=1 + (start + i) * payloads)
        if big:
            for k, pl in enumerate(c["payloads"]):
                # Random-looking text so gzip cannot squeeze it below a part.
                noise = hashlib_hex("%d:%d" % (pl["nr"], k), big)
                pl["parameters"] = [("k", str(k)), ("noise", noise)]
        aws.track(p, c)
        sent.append(c)
    return sent


def hashlib_hex(seed, n):
    import hashlib
    out = ""
    while len(out) < n:
        out += hashlib.sha256((seed + str(len(out))).encode()).hexdigest()
    return out[:n]


class S3Sink(unittest.TestCase):
    def setUp(self):
        self.p = h.Pipeline(sink={"retry_min_ms": 50, "retry_max_ms": 1000})
        self.emu = aws.Emulators(os.path.join(self.p.dir, "emulators"))
        self.s3_port = h.free_port()
        self.proxy_port = h.free_port()
        self.emu.start("s3rver", self.s3_port)
        self.emu.start("sigv4-proxy", self.proxy_port, self.s3_port)
        aws.s3_create_bucket(self.proxy_port, BUCKET)

    def tearDown(self):
        self.emu.stop_all()
        self.p.close()

    def objects(self, prefix=""):
        """{key: (headers, bytes un-gzipped)}"""
        out = {}
        for key in aws.s3_list(self.proxy_port, BUCKET, prefix):
            headers, body = aws.s3_get(self.proxy_port, BUCKET, key)
            out[key] = (headers, gzip.decompress(body).decode())
        return out

    def wait_objects(self, want, prefix="", timeout=90):
        deadline = time.time() + timeout
        n = -1
        while time.time() < deadline:
            try:
                self.p.flush()
            except (AssertionError, OSError):
                pass
            keys = aws.s3_list(self.proxy_port, BUCKET, prefix)
            objs = self.objects(prefix) if keys else {}
            n = sum(len(text.splitlines()) for _, text in objs.values())
            if n >= want:
                return objs
            time.sleep(0.5)
        raise AssertionError("only %d of %d events arrived in S3" % (n, want))

    def check_json(self, objs, sent, key_re):
        want = aws.expected_events(sent)
        got = {}
        for key, (headers, text) in objs.items():
            self.assertRegex(key, key_re)
            self.assertEqual(headers.get("content-encoding"), "gzip", key)
            self.assertEqual(headers.get("content-type"), "application/x-ndjson", key)
            for line in text.splitlines():
                e = h.json.loads(line)
                k = (e["session"], e["nr"])
                self.assertNotIn(k, got, "event %r stored twice" % (k,))
                got[k] = e
        self.assertEqual(sorted(got), sorted(want))
        for k, e in want.items():
            self.assertEqual(got[k], e, "event %r differs" % (k,))

    @h.dump_on_failure
    def test_json_objects_field_by_field(self):
        self.p.config["routes"] = {"s3": s3_route(self.proxy_port)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 30)                      # 300 events, batches of <= 50
        objs = self.wait_objects(300)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        self.check_json(objs, sent, r"^events/%s/\d{10}-[a-zA-Z]{20}\.json\.gz$" % today)
        self.assertGreaterEqual(len(objs), 6)
        stats = aws.proxy_stats(self.proxy_port)
        self.assertEqual(stats["rejected"], 0, stats)
        self.assertGreater(stats["verified"], len(objs))

    @h.dump_on_failure
    def test_fan_out_to_file_and_s3(self):
        """Two routes, two sinks at once: every event reaches both, and the
        file route keeps its own format and batches."""
        archive = dict(self.p.config["routes"]["archive"])
        self.p.config["routes"] = {"s3": s3_route(self.proxy_port), "archive": archive}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 12)                      # 120 events
        objs = self.wait_objects(120)
        self.check_json(objs, sent, r"^events/\d{4}-\d{2}-\d{2}/\d{10}-[a-zA-Z]{20}\.json\.gz$")
        files = self.p.wait_events(120)
        want = aws.expected_events(sent)
        self.assertEqual(sorted((e["session"], e["nr"]) for e in files), sorted(want))

    @h.dump_on_failure
    def test_csv_multipart(self):
        # 1 KiB parts: every object of ~50 events with 300 bytes of noise
        # each is a multipart upload of several parts.
        self.p.config["routes"] = {"s3csv": s3_route(
            self.proxy_port, file_format="csv", part_size=1024, blob_path="csv/{year}/{month}")}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 10, payloads=20, big=300)  # 200 events
        objs = self.wait_objects(200, prefix="csv/")
        want = aws.expected_events(sent)
        got = {}
        month = time.strftime("%Y/%m", time.gmtime())
        for key, (headers, text) in objs.items():
            self.assertRegex(key, r"^csv/%s/\d{10}-[a-zA-Z]{20}\.csv\.gz$" % month)
            self.assertEqual(headers.get("content-type"), "text/csv")
            self.assertEqual(headers.get("content-encoding"), "gzip")
            # s3rver gives a multipart object a plain MD5 ETag (S3 would add
            # "-<parts>"), so the sink's own line tells how it was stored.
            self.assertRegex(self.p.log_text("s3-sink"), r"stored s3://%s/%s: \d+ bytes in "
                             r"([2-9]|\d\d+) parts \(multipart\)" % (BUCKET, re.escape(key)))
            for e in aws.csv_events(text):
                got[(e["session"], e["nr"])] = e
        self.assertEqual(sorted(got), sorted(want))
        for k, e in want.items():
            self.assertEqual(got[k], e, "event %r differs" % (k,))
        self.assertEqual(aws.proxy_stats(self.proxy_port)["rejected"], 0)

    @h.dump_on_failure
    def test_wrong_secret_then_fixed(self):
        self.p.config["routes"] = {"s3": s3_route(self.proxy_port,
                                                  secret_access_key="not-the-secret")}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 10)
        deadline = time.time() + 30
        while time.time() < deadline and aws.proxy_stats(self.proxy_port)["rejected"] < 3:
            self.p.flush()
            time.sleep(0.3)
        stats = aws.proxy_stats(self.proxy_port)
        self.assertGreaterEqual(stats["reasons"].get("SignatureDoesNotMatch", 0), 3, stats)
        self.assertEqual(aws.s3_list(self.proxy_port, BUCKET), [], "stored with a wrong secret")
        # The refusal as the sink saw it ("403" alone also matches a port).
        self.assertRegex(self.p.log_text("s3-sink"),
                         r"attempt \d+ failed: PutObject: HTTP 403 SignatureDoesNotMatch")
        # Fix the secret, restart the sink: every batch is delivered.
        self.assertEqual(self.p.stop("s3-sink"), 0)
        self.p.config["routes"]["s3"]["s3"]["secret_access_key"] = aws.SECRET
        self.p.write_config()
        self.p.start("s3-sink", "--route", "s3")
        before = aws.proxy_stats(self.proxy_port)["rejected"]
        objs = self.wait_objects(100)
        self.check_json(objs, sent, r"^events/.*\.json\.gz$")
        self.assertEqual(aws.proxy_stats(self.proxy_port)["rejected"], before)

    @h.dump_on_failure
    def test_emulator_away_20s(self):
        self.p.config["routes"] = {"s3": s3_route(self.proxy_port)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 5)
        self.wait_objects(50)
        self.emu.stop("s3rver", self.s3_port)
        away = time.time()
        sent += send(self.p, 10, start=5)            # accepted while S3 is away
        while time.time() - away < 20:
            self.p.flush()
            time.sleep(1)
        self.assertEqual(self.p.procs["s3-sink"].poll(), None, "the sink exited")
        self.assertRegex(self.p.log_text("s3-sink"), r"attempt \d+ failed: PutObject: HTTP 50\d",
                         "no failed attempt while S3 was away")
        self.emu.start("s3rver", self.s3_port)
        sent += send(self.p, 5, start=15)
        objs = self.wait_objects(200)
        self.check_json(objs, sent, r"^events/.*\.json\.gz$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
