"""`hamustro-ctl replay` end to end through the real programs, while the
log's segments are being deleted (issue 18 item 7).

Two file routes share one log: "archive" and "mirror". mirror's sink is
stopped, so the log keeps everything while archive delivers the first
records. Then archive is replayed from offset 2 with hamustro-ctl, more
records are sent, and mirror's sink comes back: mirror's progress deletes
segments while archive delivers its replay. archive must deliver every
record of before the replay twice (once before, once replayed) and every
later one at least once; mirror every record; and segments must have been
deleted after the replay (so the replay ran while the log shrank)."""

import collections
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

BEFORE = 120  # records sent before the replay
AFTER = 120   # records sent after it
PARAM = "x" * 6000  # ~6 KiB a record: about ten records to a 64 KiB segment


def ctl(p, *args):
    cmd = [os.path.join(h.BIN, "hamustro-ctl"), "--config", p.config_path] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def status(p):
    rc, out = ctl(p, "status", "--json")
    assert rc == 0, out
    return json.loads(out)


def route(st, name):
    return [r for r in st["routes"] if r["name"] == name][0]


def send(p, nr):
    """One request, one event numbered nr: one log record."""
    c = h.make_collection(1, start_nr=nr)
    c["payloads"][0]["parameters"] = [("k", PARAM)]
    code, _, body = p.track_retry(h.encode_collection(c))
    assert code == 200, (code, body)


def nrs(p, name):
    return collections.Counter(e["nr"] for e in p.read_events(name))


class Replay(unittest.TestCase):
    def file_route(self, p_dir, name):
        return {"sink": "file", "max_events": 50, "max_age": 0.3,
                "file": {"file_path": os.path.join(p_dir, name, "{date}"),
                         "file_format": "json", "compress": False}}

    def test_replay_while_segments_are_deleted(self):
        with h.Pipeline() as p:
            p.config["routes"] = {"archive": self.file_route(p.dir, "archive"),
                                  "mirror": self.file_route(p.dir, "mirror")}
            p.config["router"]["segment_bytes"] = 65536
            p.write_config()
            self.p = p
            p.start_all()
            p.stop("file-sink#mirror")
            for nr in range(1, BEFORE + 1):
                send(p, nr)
            p.wait_events(BEFORE, "archive")
            st = status(p)
            # One request is one record, in order: record n holds event nr n.
            self.assertEqual(st["log"]["next_seq"], BEFORE + 1, st["log"])
            self.assertEqual(st["log"]["first_seq"], 1, st["log"])
            self.assertGreater(st["log"]["segments"], 5, st["log"])
            self.assertTrue(h.wait_for(lambda: route(status(p), "archive")["committed"] == BEFORE,
                                       timeout=30))
            deleted_before = st["counters"]["segments_deleted"]

            # From 2, not 1: replayed batches then never have the offsets of
            # the first ones, so their files cannot take the same names
            # (names derive from offsets and seal second, ARCHITECTURE 5).
            rc, out = ctl(p, "replay", "archive", "2")
            self.assertEqual(rc, 0, out)
            p.start("file-sink#mirror", "--route", "mirror")
            for nr in range(BEFORE + 1, BEFORE + AFTER + 1):
                send(p, nr)

            total = BEFORE + AFTER
            p.wait_events(total, "mirror", timeout=120)
            p.wait_events(2 * BEFORE - 1 + AFTER, "archive", timeout=120)
            got = nrs(p, "archive")
            once_more = [n for n in range(2, BEFORE + 1) if got[n] < 2]
            self.assertEqual(once_more[:10], [], "%d records not replayed" % len(once_more))
            missing = [n for n in range(BEFORE + 1, total + 1) if got[n] < 1]
            self.assertEqual(missing[:10], [], "%d later records missing" % len(missing))
            mirror = nrs(p, "mirror")
            missing = [n for n in range(1, total + 1) if mirror[n] < 1]
            self.assertEqual(missing[:10], [], "mirror lacks %d records" % len(missing))
            # Both routes committed everything: the log let go of the
            # segments behind them, after the replay.
            self.assertTrue(h.wait_for(
                lambda: all(r["committed"] == total for r in status(p)["routes"]), timeout=30))
            self.assertTrue(h.wait_for(
                lambda: status(p)["counters"]["segments_deleted"] > deleted_before, timeout=30),
                "no segment was deleted after the replay")
            st = status(p)
            for r in st["routes"]:
                self.assertEqual(r["missing"], 0, r)
                self.assertEqual(r["read_errors"], 0, r)
            self.assertEqual(p.stop_all(), {"ingest": 0, "router": 0, "file-sink": 0,
                                            "file-sink#mirror": 0})


if __name__ == "__main__":
    unittest.main()
