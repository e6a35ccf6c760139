"""The original Hamustro's config file, unchanged: its dialect and section
become one route, every program reads it, and events arrive. Nothing of
ours is added to the file: the listener comes from HAMUSTRO_PORT as with
the original's makefile, and the log and sockets go to the default var/
under the working directory."""

import gzip
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402

# The original's sample: every dialect's section, placeholders and all.
SAMPLE = {
    "dialect": "?",
    "logfile": "",
    "max_worker_size": 5,
    "max_queue_size": 100,
    "retry_attempt": 3,
    "buffer_size": 10000,
    "spread_buffer_size": False,
    "shared_secret": h.SECRET,
    "signature": "required",
    "maintenance_key": "mk",
    "auto_flush_interval": 1,
    "aqs": {"account": "", "access_key": "", "queue_name": "name of the queue"},
    "abs": {"account": "", "access_key": "", "container": "name of the container",
            "blob_path": "path/to/dir/{date}/", "file_format": "json|csv"},
    "sns": {"region": "", "access_key_id": "", "secret_access_key": "", "topic_arn": "sns:..."},
    "s3": {"region": "", "endpoint": "", "access_key_id": "", "secret_access_key": "",
           "bucket": "name of the bucket", "blob_path": "path/to/dir/{date}/",
           "file_format": "json|csv"},
}


class OriginalConfig(unittest.TestCase):
    def start(self, p, cfg, sink):
        p.config = cfg
        p.write_config()
        env = {"HAMUSTRO_PORT": str(p.port)}
        for name in ("router", sink, "ingest"):
            p.start(name, env_extra=env)
        p.wait_healthy()

    def test_file_dialect(self):
        with h.Pipeline() as p:
            cfg = dict(SAMPLE, dialect="file",
                       file={"file_path": "out/{date}/", "file_format": "json",
                             "compress": True})
            self.start(p, cfg, "file-sink")
            sent = [h.make_collection(3, device="orig-%d" % i) for i in range(4)]
            for c in sent:
                self.assertEqual(p.track_retry(h.encode_collection(c))[0], 200)
            p.flush()
            events, deadline = [], h.time.time() + 30
            while len(events) < 12 and h.time.time() < deadline:
                events = []
                for root, _, names in os.walk(os.path.join(p.dir, "out")):
                    for n in names:
                        if n.endswith(".json.gz"):
                            data = h.read_bytes(os.path.join(root, n))
                            events += [json.loads(x) for x in
                                       gzip.decompress(data).decode().splitlines()]
                h.time.sleep(0.2)
            got = sorted((e["device_id"], e["nr"]) for e in events)
            self.assertEqual(got, sorted(("orig-%d" % i, n) for i in range(4) for n in (1, 2, 3)))
            # The defaults of an original config: the log under var/data.
            self.assertTrue(os.path.isdir(os.path.join(p.dir, "var", "data", "log")))

    def test_s3_dialect(self):
        with h.Pipeline() as p:
            emu = aws.Emulators(os.path.join(p.dir, "emulators"))
            s3_port, proxy_port = h.free_port(), h.free_port()
            try:
                emu.start("s3rver", s3_port)
                emu.start("sigv4-proxy", proxy_port, s3_port)
                aws.s3_create_bucket(proxy_port, "orig-bucket")
                cfg = dict(SAMPLE, dialect="s3")
                cfg["s3"] = {"region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % proxy_port,
                             "access_key_id": aws.AKID, "secret_access_key": aws.SECRET,
                             "bucket": "orig-bucket", "blob_path": "path/{date}/",
                             "file_format": "json"}
                self.start(p, cfg, "s3-sink")
                sent = [h.make_collection(2, device="orig-s3-%d" % i) for i in range(5)]
                for c in sent:
                    aws.track(p, c)
                want = aws.expected_events(sent)
                got, deadline = {}, h.time.time() + 60
                while len(got) < len(want) and h.time.time() < deadline:
                    p.flush()
                    got = {}
                    for key in aws.s3_list(proxy_port, "orig-bucket", "path/"):
                        _, body = aws.s3_get(proxy_port, "orig-bucket", key)
                        for line in gzip.decompress(body).decode().splitlines():
                            e = json.loads(line)
                            got[(e["session"], e["nr"])] = e
                    h.time.sleep(0.3)
                self.assertEqual(got, want)
            finally:
                emu.stop_all()


if __name__ == "__main__":
    unittest.main(verbosity=2)
