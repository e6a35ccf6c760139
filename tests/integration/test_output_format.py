"""What the file sink writes, byte for byte, as the original Hamustro wrote
it (ARCHITECTURE section 5): JSON lines (gzip'd) and \\001-CSV (plain), file
names and path templates, the client IP rules, through the whole pipeline."""

import gzip
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

SESSION = "0e350a2cc31648bb24ba61eb14be337c"
HEAD = ('{"device_id":"a73b1c37-2c24-4786-af7a-16de88fbe23a",'
        '"client_id":"bce44f67b2661fd445d469b525b04f68",'
        '"session":"%s",' % SESSION)


class OutputFormat(unittest.TestCase):
    def test_json_and_csv_bytes(self):
        with h.Pipeline() as p:
            out = os.path.join(p.dir, "out")
            p.config["routes"] = {
                "archive": {"sink": "file", "max_events": 100, "max_age": 0.2,
                            "file": {"file_path": os.path.join(out, "json", "{date}"),
                                     "file_format": "json", "compress": True}},
                "csv": {"sink": "file", "max_events": 100, "max_age": 0.2,
                        "file": {"file_path": os.path.join(out, "csv", "{year}", "{month}"),
                                 "file_format": "csv", "compress": False}},
            }
            p.config["masked_ip"] = True
            # the test talks from 127.0.0.1: a proxy whose X-Forwarded-For counts
            p.config["trusted_proxies"] = ["127.0.0.1"]
            p.write_config()
            p.start_all()

            c = h.make_collection(2)
            c["payloads"][1]["event"] = 'a<b>&"c"'
            c["payloads"][1]["parameters"] = [("z", "last\u2028é"), ("a", "1"), ("z", "x")]
            c["payloads"][1]["timezone"] = " lead"
            c["payloads"][1]["user_id"] = "u1"
            status, _, body = p.track_retry(h.encode_collection(c),
                                      extra={"X-Forwarded-For": "10.0.0.1, 81.2.69.160"})
            self.assertEqual(status, 200, body)

            deadline = time.time() + 20
            while time.time() < deadline and not (p.output_files("archive")
                                                  and p.output_files("csv")):
                p.flush()
                time.sleep(0.2)
            json_files = p.output_files("archive")
            csv_files = p.output_files("csv")
            self.assertEqual(len(json_files), 1, json_files)
            self.assertEqual(len(csv_files), 1, csv_files)

            today = time.strftime("%Y-%m-%d", time.gmtime())
            self.assertEqual(os.path.basename(os.path.dirname(json_files[0])), today)
            self.assertRegex(os.path.basename(json_files[0]), r"^\d{10}-[a-zA-Z]{20}\.json\.gz$")
            self.assertRegex(os.path.basename(csv_files[0]), r"^\d{10}-[a-zA-Z]{20}\.csv$")
            self.assertTrue(csv_files[0].startswith(
                os.path.join(out, "csv", time.strftime("%Y/%m", time.gmtime()))))

            got = gzip.decompress(h.read_bytes(json_files[0])).decode()
            want = (
                HEAD + '"nr":1,"env":"DEVELOPMENT","system_version":"10.10",'
                '"product_version":"1.1.2","at":"2016-02-03 15:41:28","timezone":"+01:00",'
                '"event":"Client.Test","ip":"81.2.69.0","parameters":"{\\"k\\":\\"0\\"}"}\n'
                + HEAD + '"nr":2,"env":"DEVELOPMENT","system_version":"10.10",'
                '"product_version":"1.1.2","at":"2016-02-03 15:41:29","timezone":" lead",'
                '"event":"a\\u003cb\\u003e\\u0026\\"c\\"","user_id":"u1","ip":"81.2.69.0",'
                '"parameters":"{\\"a\\":\\"1\\",\\"z\\":\\"x\\"}"}\n')
            self.assertEqual(got, want)

            got = h.read_bytes(csv_files[0]).decode()
            sep = "\x01"
            row1 = ["a73b1c37-2c24-4786-af7a-16de88fbe23a", "bce44f67b2661fd445d469b525b04f68",
                    SESSION, "1", "DEVELOPMENT", "10.10", "1.1.2", "2016-02-03 15:41:28",
                    "+01:00", "Client.Test", "", "", "", "", "", "", "", "", "", "",
                    "81.2.69.0", "", '"{""k"":""0""}"']
            row2 = row1[:3] + ["2", "DEVELOPMENT", "10.10", "1.1.2", "2016-02-03 15:41:29",
                               '" lead"', '"a<b>&""c"""', "", "", "", "", "", "", "", "",
                               "u1", "", "81.2.69.0", "", '"{""a"":""1"",""z"":""x""}"']
            self.assertEqual(got, sep.join(row1) + "\n" + sep.join(row2) + "\n")

    def test_sealed_batches_survive_router_kill(self):
        """Batches sealed while the route's sink is down survive a kill -9 of
        the router and arrive exactly once when the sink starts."""
        with h.Pipeline() as p:
            p.start_all()
            p.stop("file-sink")
            for i in range(5):
                c = h.make_collection(3, device="dev-%d" % i)
                self.assertEqual(p.track_retry(h.encode_collection(c))[0], 200)
            p.flush()
            # The batches are sealed (in the route's saved state) before the kill.
            self.assertTrue(h.wait_for(lambda: (lambda st: st and all(
                r["open_events"] == 0 and r["batches_sealed"] >= 1 for r in st["routes"]))(
                    p.router_status()), 60), p.router_status())
            p.stop("router", sig=9)
            p.start("router")
            p.start("file-sink", "--route", "archive")
            p.wait_healthy()
            p.wait_events(15)
            p.wait_committed()  # the files are final: a late duplicate would be there now
            events = p.read_events()
            pairs = sorted((e["device_id"], e["nr"]) for e in events)
            self.assertEqual(pairs, sorted(("dev-%d" % i, n) for i in range(5) for n in (1, 2, 3)))
            self.assertTrue(all(re.search(r"/\d{10}-[a-zA-Z]{20}\.json\.gz$", n)
                                for n in p.output_files()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
