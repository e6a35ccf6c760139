"""hamustro-ctl replay end to end (README, "The programs"): after every
event was delivered, `replay ROUTE OFFSET` from the log's first offset
makes the router deliver the route again, the sink writes every event
again, and the route commits the whole log again. An offset the log does
not hold is refused with the range it holds.

What a replay does not do (seen here, see the report of issue 18): land
on the first delivery's file names. It re-seals the records into batches
of the route's limits at the time of the replay, and a file's name carries
its batch's seal time and offsets, so a replay writes new files beside the
old ones (here three batches came back as one), and two replays of the
same range need not seal the same batches either (under ASan they did
not): every replay adds a copy of its events to the output."""

import collections
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def ctl(p, *args):
    r = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "--config", p.config_path] +
                       list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode()


def files(p):
    """{name: (inode, bytes)} of the route's output files."""
    return {f: (os.stat(f).st_ino, h.read_bytes(f)) for f in p.output_files()}


class Replay(unittest.TestCase):
    def test_replay_delivers_the_route_again(self):
        with h.Pipeline() as p:
            p.start_all()
            want = collections.Counter()
            # Three batches, each sealed and written before the next is sent.
            for i in range(3):
                c = h.make_collection(4, start_nr=1 + 4 * i)
                self.assertEqual(p.track_retry(h.encode_collection(c))[0], 200)
                want.update((c["session"], e["nr"]) for e in c["payloads"])
                p.wait_events(4 * (i + 1))
            st = p.wait_committed()
            first, last = st["log"]["first_seq"], st["log"]["next_seq"] - 1
            delivered = files(p)
            self.assertEqual(len(delivered), 3, sorted(delivered))
            route = st["routes"][0]

            # An offset outside the log: refused, with what it holds.
            rc, out = ctl(p, "replay", "archive", str(last + 100))
            self.assertEqual(rc, 1, out)
            self.assertIn("is not in the log (it holds %d..%d)" % (first, last), out)
            # Offsets start at 1: 0 is not "from the start" but refused the same way.
            rc, out = ctl(p, "replay", "archive", "0")
            self.assertEqual(rc, 1, out)
            self.assertIn("offset 0 is not in the log (it holds %d..%d)" % (first, last), out)
            rc, out = ctl(p, "replay", "nope", str(first))
            self.assertEqual(rc, 1, out)

            rc, out = ctl(p, "replay", "archive", str(first))
            self.assertEqual((rc, out), (0, "ok\n"))
            self.assertIn("route archive: replaying from offset %d" % first,
                          p.log_text("router"))
            st = p.wait_committed()
            again = st["routes"][0]
            self.assertEqual(again["records"] - route["records"], last - first + 1)
            self.assertEqual(again["events_in"] - route["events_in"], 12)
            self.assertGreater(again["batches_acked"], route["batches_acked"])
            # The first delivery's files are untouched; the events are there again.
            after = files(p)
            for name, (inode, data) in delivered.items():
                self.assertEqual(after[name], (inode, data), name)
            landed = collections.Counter((e["session"], e["nr"]) for e in p.read_events())
            self.assertEqual(landed, want + want)
            replayed = {n: v for n, v in after.items() if n not in delivered}
            self.assertTrue(replayed)

            # The same replay again: delivered once more, in full.
            rc, out = ctl(p, "replay", "archive", str(first))
            self.assertEqual((rc, out), (0, "ok\n"))
            st = p.wait_committed()
            self.assertGreater(st["routes"][0]["batches_acked"], again["batches_acked"])
            self.assertEqual(st["routes"][0]["events_in"] - again["events_in"], 12)
            third = files(p)
            for name, value in after.items():
                if name in third and name in replayed:
                    continue  # a batch of the same offsets and seal second: rewritten
                self.assertEqual(third[name], value, name)
            landed = collections.Counter((e["session"], e["nr"]) for e in p.read_events())
            self.assertEqual(set(landed), set(want))
            self.assertTrue(all(n >= 2 for n in landed.values()), landed)
            self.assertEqual(p.temp_files(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
