"""hamustro-sns-sink end to end against fauxqs behind the SigV4-verifying
proxy (tests/emulators): every event sent through the ingest becomes one
SNS message; an SQS queue subscribed with raw delivery receives them and
each body is compared field by field with the event sent (duplicates are
allowed, at least once, and reported). Every request's signature is
checked by the proxy. Also: a FIFO topic, an event over 256 KiB going to
the dead-letter file while the rest is delivered, a wrong secret (403,
nothing published, everything published once the secret is fixed and the
sink restarted), and fauxqs away for 20 s."""

import collections
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402


def sns_route(proxy_port, topic_arn, **section):
    sns = {"region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % proxy_port,
           "access_key_id": aws.AKID, "secret_access_key": aws.SECRET, "topic_arn": topic_arn}
    sns.update(section)
    return {"sink": "sns", "max_events": 100, "max_age": 0.3, "sns": sns}


def send(p, count, start=0, payloads=10):
    sent = []
    for i in range(count):
        c = h.make_collection(payloads, start_nr=1 + (start + i) * payloads)
        aws.track(p, c)
        sent.append(c)
    return sent


class SnsSink(unittest.TestCase):
    def setUp(self):
        self.p = h.Pipeline(sink={"retry_min_ms": 50, "retry_max_ms": 1000})
        self.emu = aws.Emulators(os.path.join(self.p.dir, "emulators"))
        self.fq_port = h.free_port()
        self.proxy_port = h.free_port()
        self.emu.start("fauxqs", self.fq_port)
        self.emu.start("sigv4-proxy", self.proxy_port, self.fq_port)
        self.received = []

    def tearDown(self):
        self.emu.stop_all()
        self.p.close()

    def receive(self, url, want_keys, timeout=90):
        """Receives until every (session, nr) of want_keys arrived; returns
        the Counter of what arrived."""
        deadline = time.time() + timeout
        got = collections.Counter()
        while time.time() < deadline:
            try:
                self.p.flush()
            except (AssertionError, OSError):
                pass
            for body in aws.sqs_receive_all(self.proxy_port, url, wait=1):
                e = json.loads(body)
                self.received.append(e)
                got[(e["session"], e["nr"])] += 1
            if all(k in got for k in want_keys):
                return got
        missing = [k for k in want_keys if k not in got]
        raise AssertionError("%d of %d events did not arrive, e.g. %r" % (
            len(missing), len(want_keys), missing[:3]))

    def check(self, url, sent):
        want = aws.expected_events(sent)
        got = self.receive(url, list(want))
        for e in self.received:
            k = (e["session"], e["nr"])
            self.assertIn(k, want, "an event nobody sent: %r" % (k,))
            self.assertEqual(e, want[k], "event %r differs" % (k,))
        dups = sum(n - 1 for n in got.values())
        print("%d events, %d messages received, %d duplicates" % (
            len(want), sum(got.values()), dups))
        return got

    @h.dump_on_failure
    def test_messages_field_by_field(self):
        arn, url = aws.sns_topic_with_queue(self.proxy_port, "hm-events")
        self.p.config["routes"] = {"sns": sns_route(self.proxy_port, arn)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 50)                      # 500 events
        self.check(url, sent)
        stats = aws.proxy_stats(self.proxy_port)
        self.assertEqual(stats["rejected"], 0, stats)
        self.assertGreaterEqual(stats["verified"], 50)  # >= 500 / 10 PublishBatch

    @h.dump_on_failure
    def test_fifo_topic(self):
        arn, url = aws.sns_topic_with_queue(self.proxy_port, "hm-fifo", fifo=True)
        self.assertTrue(arn.endswith(".fifo"), arn)
        self.p.config["routes"] = {"sns": sns_route(self.proxy_port, arn)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 10, payloads=5)           # 50 events, one session
        got = self.check(url, sent)
        # Deduplication ids from (session, nr): SNS/SQS drop repeats.
        self.assertEqual(max(got.values()), 1, "a FIFO topic delivered an event twice")
        self.assertEqual(aws.proxy_stats(self.proxy_port)["rejected"], 0)

    @h.dump_on_failure
    def test_oversized_event_dead_lettered(self):
        arn, url = aws.sns_topic_with_queue(self.proxy_port, "hm-big")
        self.p.config["ingest"]["max_body_bytes"] = 4 << 20
        self.p.config["routes"] = {"sns": sns_route(self.proxy_port, arn)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 3)
        big = h.make_collection(3, start_nr=1001)
        big["payloads"][1]["parameters"] = [("blob", "x" * 300000)]
        aws.track(self.p, big)
        sent += send(self.p, 3, start=3)
        small = dict(big)
        small["payloads"] = [big["payloads"][0], big["payloads"][2]]
        self.check(url, sent + [small])
        big_key = (big["session"], 1002)
        self.assertNotIn(big_key, [(e["session"], e["nr"]) for e in self.received])
        dl = os.path.join(self.p.dir, "data", "dead-letter", "sns.jsonl")
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(dl):
            time.sleep(0.2)
        with open(dl) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0]["reason"], r"message of \d+ bytes is over SNS's 262144-byte")
        self.assertEqual((lines[0]["event"]["session"], lines[0]["event"]["nr"]), big_key)
        self.assertEqual(json.loads(lines[0]["event"]["parameters"]), {"blob": "x" * 300000})
        # The router's metrics count it (the sink's ACK says how many): of
        # the 63 events, 1 dead-lettered, 62 delivered, none left.
        lab = '{route="sns",sink="sns"}'
        want = {"hamustro_route_events_dead_lettered_total" + lab: 1,
                "hamustro_route_events_delivered_total" + lab: 62,
                "hamustro_route_events_accepted_total" + lab: 63,
                "hamustro_route_lag_events" + lab: 0,
                'hamustro_sink_dead_lettered_total{route="sns",sink="sns",'
                'sink_instance="sns:0"}': 1}
        self.assertTrue(h.wait_for(lambda: h.metrics_match(self.p, want), timeout=30),
                        h.scrape_metrics(self.p))

    @h.dump_on_failure
    def test_wrong_secret_then_fixed(self):
        arn, url = aws.sns_topic_with_queue(self.proxy_port, "hm-secret")
        self.p.config["routes"] = {"sns": sns_route(self.proxy_port, arn,
                                                    secret_access_key="not-the-secret")}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 10)
        deadline = time.time() + 30
        while time.time() < deadline and aws.proxy_stats(self.proxy_port)["rejected"] < 10:
            self.p.flush()
            time.sleep(0.3)
        stats = aws.proxy_stats(self.proxy_port)
        self.assertGreaterEqual(stats["reasons"].get("SignatureDoesNotMatch", 0), 10, stats)
        self.assertEqual(aws.sqs_receive_all(self.proxy_port, url, wait=1), [],
                         "published with a wrong secret")
        self.assertIn("HTTP 403", self.p.log_text("sns-sink"))
        self.assertEqual(self.p.stop("sns-sink"), 0)
        self.p.config["routes"]["sns"]["sns"]["secret_access_key"] = aws.SECRET
        self.p.write_config()
        before = aws.proxy_stats(self.proxy_port)["rejected"]
        self.p.start("sns-sink", "--route", "sns")
        self.check(url, sent)
        self.assertEqual(aws.proxy_stats(self.proxy_port)["rejected"], before)

    @h.dump_on_failure
    def test_emulator_away_20s(self):
        arn, url = aws.sns_topic_with_queue(self.proxy_port, "hm-away")
        self.p.config["routes"] = {"sns": sns_route(self.proxy_port, arn)}
        self.p.write_config()
        self.p.start_all()
        sent = send(self.p, 5)
        self.check(url, sent)
        self.emu.stop("fauxqs", self.fq_port)
        away = time.time()
        more = send(self.p, 10, start=5)
        while time.time() - away < 20:
            self.p.flush()
            time.sleep(1)
        self.assertEqual(self.p.procs["sns-sink"].poll(), None, "the sink exited")
        self.assertRegex(self.p.log_text("sns-sink"), r"attempt \d+ failed: \d+ of \d+ events "
                         r"not published yet: HTTP 50\d", "no failed attempt while SNS was away")
        self.emu.start("fauxqs", self.fq_port)
        more += send(self.p, 5, start=15)
        self.received = []
        self.check(url, more)


if __name__ == "__main__":
    unittest.main(verbosity=2)
