"""hamustro-blob-sink end to end against azurite (which checks every
request's Shared Key): events sent through ingest land as gzip'd block
blobs named by the route's blob_path template and the batch name, equal
field by field to what was sent, in JSON lines and CSV, through Put Blob
and through Put Block + Put Block List; a wrong account key gets 403 and
nothing is stored until the key is fixed; the emulator away for 20 s
loses nothing."""

import collections
import csv
import gzip
import io
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import azure_emulator as az  # noqa: E402

CONTAINER = "hamustro"
COLUMNS = ["device_id", "client_id", "session", "nr", "env", "system_version",
           "product_version", "at", "timezone", "event", "device_make", "device_model",
           "system", "system_language", "browser", "browser_version", "product_git_hash",
           "product_language", "user_id", "tenant_id", "ip", "country", "parameters"]
NAME = r"\d{10}-[a-zA-Z]{20}\.(json|csv)\.gz"


def abs_route(endpoint, blob_path, fmt="json", key=az.KEY, **extra):
    section = {"account": az.ACCOUNT, "access_key": key, "container": CONTAINER,
               "blob_path": blob_path, "file_format": fmt, "endpoint": endpoint}
    section.update(extra)
    return {"sink": "abs", "max_events": 50, "max_age": 0.3, "abs": section}


def failed(test):
    """Whether the running test has failed so far (for logs in tearDown)."""
    outcome = test._outcome
    if hasattr(outcome, "errors"):  # Python <= 3.10
        return any(exc for _, exc in outcome.errors)
    result = outcome.result
    return any(t is test for t, _ in result.errors + result.failures)


class BlobSink(unittest.TestCase):
    def setUp(self):
        self.p = h.Pipeline(routes={})
        self.addCleanup(self.p.close)
        self.az = az.Azurite("blob", self.p.dir)
        # Cleanups run last first: the emulator (whose pid file is in the
        # pipeline's directory) stops before that directory goes.
        self.addCleanup(self.az.stop)
        self.az.start()
        self.az.ok("PUT", "/" + CONTAINER, "restype=container")

    def tearDown(self):
        if failed(self):
            for name in list(self.p.logs):
                print("---- %s log ----\n%s" % (name, self.p.log_text(name)[-4000:]))

    # -- reading back --------------------------------------------------------
    def read_blobs(self, prefix, fmt="json"):
        """{blob name: [event dicts]} of every blob under prefix."""
        out = {}
        for name in self.az.list_blobs(CONTAINER, prefix):
            hdrs, data = self.az.get_blob(CONTAINER, name)
            self.assertEqual(hdrs.get("content-encoding"), "gzip", name)
            self.assertEqual(hdrs.get("content-type"),
                             "application/x-ndjson" if fmt == "json" else "text/csv", name)
            self.assertTrue(hdrs.get("content-md5"), name)
            text = gzip.decompress(data).decode()
            if fmt == "json":
                out[name] = [json.loads(line) for line in text.splitlines()]
            else:
                rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\x01"))
                events = []
                for row in rows:
                    self.assertEqual(len(row), len(COLUMNS), row)
                    e = {k: v for k, v in zip(COLUMNS, row) if v != "" or k == "timezone"}
                    e["nr"] = int(e["nr"])
                    events.append(e)
                out[name] = events
        return out

    def wait_blob_events(self, prefix, count, fmt="json", timeout=90):
        deadline = time.time() + timeout
        n = -1
        while time.time() < deadline:
            try:
                self.p.flush()
            except (AssertionError, OSError):
                pass
            blobs = self.read_blobs(prefix, fmt)
            n = sum(len(v) for v in blobs.values())
            if n >= count:
                return blobs
            time.sleep(0.5)
        raise AssertionError("only %d of %d events in blobs under %s" % (n, count, prefix))

    def check_exact(self, blobs, sent, template_prefix):
        want = az.expected_events(sent)
        got = collections.Counter()
        for name, events in blobs.items():
            self.assertTrue(name.startswith(template_prefix), name)
            self.assertRegex(name[len(template_prefix):], "^" + NAME + "$")
            for e in events:
                key = (e["session"], e["nr"])
                got[key] += 1
                self.assertIn(key, want)
                self.assertEqual(e, want[key])
        self.assertEqual(set(got), set(want), "events missing or extra")
        self.assertEqual([k for k, n in got.items() if n > 1], [], "events stored twice")

    # -- tests ---------------------------------------------------------------
    @h.dump_on_failure
    def test_json_put_blob_and_csv_blocks(self):
        ep = self.az.endpoint
        self.p.config["routes"] = {
            "blob": abs_route(ep, "json/{date}/"),
            # A tiny part size sends every batch as blocks + a block list.
            "blocks": abs_route(ep, "csv/{year}/{month}/", fmt="csv", part_size=300),
        }
        self.p.write_config()
        self.p.start_all()
        sent = az.make_collections(12, 10, tag="put")
        sent[0]["payloads"][0]["event"] = 'odd <event> & "quotes"'
        sent[0]["payloads"][1]["parameters"] = [("z", "last\u2028é"), ("a", "1,2\x01")]
        sent[0]["payloads"][2]["timezone"] = " lead"
        az.send_all(self.p, sent)

        prefix = "json/" + time.strftime("%Y-%m-%d", time.gmtime()) + "/"
        blobs = self.wait_blob_events("json/", 120)
        self.check_exact(blobs, sent, prefix)
        cprefix = "csv/" + time.strftime("%Y/%m", time.gmtime()) + "/"
        cblobs = self.wait_blob_events("csv/", 120, fmt="csv")
        self.check_exact(cblobs, sent, cprefix)

        # Put Blob for the JSON route: a blob stored whole has no committed
        # block list (a Put Block List would have left one).
        for name in blobs:
            self.assertEqual(self.az.committed_blocks(CONTAINER, name), [], name)
        # Put Block + Put Block List for the CSV one, one block per 300
        # bytes; a batch whose gzip is 300 bytes or less goes as a Put Blob
        # (how batches are cut depends on timing: a busy host seals smaller
        # ones by age).
        multi = 0
        for name in cblobs:
            _, data = self.az.get_blob(CONTAINER, name)
            blocks = self.az.committed_blocks(CONTAINER, name)
            if len(data) <= 300:
                self.assertEqual(blocks, [], name)
                continue
            self.assertEqual(len(blocks), (len(data) + 299) // 300, name)
            self.assertEqual(len(set(len(b) for b in blocks)), 1, blocks)
            multi += 1
        self.assertGreater(multi, 0, "no CSV blob went through Put Block")
        print("json: %d blobs, csv: %d blobs (%d of several blocks)"
              % (len(blobs), len(cblobs), multi))

    @h.dump_on_failure
    def test_wrong_key_then_fixed(self):
        self.p.config["routes"] = {"blob": abs_route(self.az.endpoint, "k/", key=az.WRONG_KEY)}
        self.p.write_config()
        self.p.start_all()
        sent = az.make_collections(5, 10, tag="key")
        az.send_all(self.p, sent)
        az.expect_refused(self, "blob-sink", "AuthorizationFailure")
        self.assertEqual(self.az.list_blobs(CONTAINER), [], "stored with a wrong key")
        self.p.config["routes"]["blob"]["abs"]["access_key"] = az.KEY
        self.p.write_config()
        self.p.start("blob-sink", "--route", "blob")
        blobs = self.wait_blob_events("k/", 50)
        self.check_exact(blobs, sent, "k/")

    @h.dump_on_failure
    def test_emulator_away_20s(self):
        self.p.config["routes"] = {"blob": abs_route(self.az.endpoint, "away/",
                                                     part_size=500)}
        self.p.write_config()
        self.p.start_all()
        first = az.make_collections(4, 10, tag="before")
        az.send_all(self.p, first)
        self.wait_blob_events("away/", 40)

        self.az.stop()
        later = az.make_collections(6, 10, tag="during")
        az.send_all(self.p, later)
        self.p.flush()
        time.sleep(20)
        self.assertRegex(self.p.log_text("blob-sink"), r"attempt \d+ failed: .*curl")
        self.az.start()
        blobs = self.wait_blob_events("away/", 100)
        self.check_exact(blobs, first + later, "away/")


if __name__ == "__main__":
    unittest.main(verbosity=2)
