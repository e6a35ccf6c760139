"""hamustro-queue-sink end to end against azurite (which checks every
request's Shared Key): each event sent through ingest becomes one queue
message whose text is the event's JSON line (base64 by default, XML-escaped
plain text with encoding "xml"), equal field by field to what was sent; an
event whose message text is over 64 KiB goes to the dead-letter file with
its reason while one exactly at the limit is delivered; a wrong account
key gets 403 and nothing is acknowledged until the key is fixed; the
emulator away for 20 s loses nothing. Delivery is at least once, so
duplicates are counted and reported, not failed."""

import base64
import collections
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import azure_emulator as az  # noqa: E402

ORDER = ["device_id", "client_id", "session", "nr", "env", "system_version", "product_version",
         "at", "timezone", "event", "device_make", "device_model", "system", "system_language",
         "browser", "browser_version", "product_git_hash", "product_language", "user_id",
         "tenant_id", "ip", "country", "parameters"]
LIMIT = 65536


def aqs_route(endpoint, queue, key=az.KEY, **extra):
    section = {"account": az.ACCOUNT, "access_key": key, "queue_name": queue,
               "endpoint": endpoint}
    section.update(extra)
    return {"sink": "aqs", "max_events": 50, "max_age": 0.3, "aqs": section}


def json_line(e):
    """The event's JSON line as the sink writes it (keys in section 5's order)."""
    ordered = collections.OrderedDict((k, e[k]) for k in ORDER if k in e)
    return az.go_json_ordered(ordered)


def failed(test):
    outcome = test._outcome
    if hasattr(outcome, "errors"):  # Python <= 3.10
        return any(exc for _, exc in outcome.errors)
    result = outcome.result
    return any(t is test for t, _ in result.errors + result.failures)


class QueueSink(unittest.TestCase):
    def setUp(self):
        self.p = h.Pipeline(routes={}, ingest={"max_body_bytes": 4 * 1048576})
        self.addCleanup(self.p.close)
        self.az = az.Azurite("queue", self.p.dir)
        # Cleanups run last first: the emulator (whose pid file is in the
        # pipeline's directory) stops before that directory goes.
        self.addCleanup(self.az.stop)
        self.az.start()
        self.pending = collections.defaultdict(list)

    def tearDown(self):
        if failed(self):
            for name in list(self.p.logs):
                print("---- %s log ----\n%s" % (name, self.p.log_text(name)[-4000:]))

    def create_queue(self, name):
        self.az.ok("PUT", "/" + name)

    def receive(self, queue, count, encoding="base64", timeout=90):
        """Dequeues (and deletes) until count distinct events arrived;
        returns a Counter of (session, nr) and {(session, nr): event}."""
        seen, events = collections.Counter(), {}
        deadline = time.time() + timeout
        while time.time() < deadline and len(seen) < count:
            texts = self.az.get_messages(queue, 32)
            if not texts:
                try:
                    self.p.flush()
                except (AssertionError, OSError):
                    pass
                time.sleep(0.3)
                continue
            for t in texts:
                line = base64.b64decode(t, validate=True).decode() if encoding == "base64" else t
                self.assertNotIn("\n", line)
                e = json.loads(line)
                key = (e["session"], e["nr"])
                seen[key] += 1
                events[key] = e
        self.assertGreaterEqual(len(seen), count, "only %d of %d events on queue %s"
                                % (len(seen), count, queue))
        return seen, events

    def check(self, seen, events, want, label):
        self.assertEqual(set(seen), set(want), "%s: events missing or extra" % label)
        for key, e in events.items():
            self.assertEqual(e, want[key])
        dups = sum(n - 1 for n in seen.values() if n > 1)
        print("%s: %d events, %d duplicates (at least once)" % (label, len(seen), dups))

    def dead_letters(self, route):
        path = os.path.join(self.p.config["router"]["data_dir"], "dead-letter", route + ".jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    @h.dump_on_failure
    def test_messages_limit_and_xml(self):
        self.create_queue("events-b64")
        self.create_queue("events-xml")
        ep = self.az.endpoint
        self.p.config["routes"] = {"b64": aqs_route(ep, "events-b64"),
                                   "xml": aqs_route(ep, "events-xml", encoding="xml")}
        self.p.write_config()
        self.p.start_all()

        sent = az.make_collections(10, 10, tag="q")
        sent[0]["payloads"][0]["event"] = 'odd <event> & "quotes"'
        sent[0]["payloads"][1]["parameters"] = [("z", "last\u2028é"), ("a", "1<2&3>0")]
        # Two events whose base64 message text is exactly the limit and 4
        # bytes over (a 49,152-byte JSON line is 65,536 bytes of base64).
        edge = az.make_collections(1, 2, tag="edge")[0]
        want = az.expected_events([edge])
        for p, line_len in zip(edge["payloads"], (LIMIT // 4 * 3, LIMIT // 4 * 3 + 1)):
            e = want[(edge["session"], p["nr"])]
            e["parameters"] = az.go_json({"pad": ""})
            base = len(json_line(e).encode())
            p["parameters"] = [("pad", "x" * (line_len - base))]
        az.send_all(self.p, sent + [edge])
        want = az.expected_events(sent + [edge])
        at_limit = (edge["session"], 1)
        over = (edge["session"], 2)
        self.assertEqual(len(json_line(want[at_limit]).encode()), 49152)
        self.assertEqual(len(base64.b64encode(json_line(want[at_limit]).encode())), LIMIT)
        self.assertEqual(len(base64.b64encode(json_line(want[over]).encode())), LIMIT + 4)

        seen, events = self.receive("events-b64", len(want) - 1)
        b64_want = dict(want)
        del b64_want[over]
        self.check(seen, events, b64_want, "base64")

        dead = self.dead_letters("b64")
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual((dead[0]["event"]["session"], dead[0]["event"]["nr"]), over)
        self.assertIn("65540 bytes", dead[0]["reason"])
        self.assertIn("65536", dead[0]["reason"])
        self.assertEqual(dead[0]["event"], want[over])

        # Plain text: the same line is far below the limit, nothing dead.
        seen, events = self.receive("events-xml", len(want), encoding="xml")
        self.check(seen, events, want, "xml")
        self.assertEqual(self.dead_letters("xml"), [])

    @h.dump_on_failure
    def test_wrong_key_then_fixed(self):
        self.create_queue("events")
        self.p.config["routes"] = {"q": aqs_route(self.az.endpoint, "events", key=az.WRONG_KEY)}
        self.p.write_config()
        self.p.start_all()
        sent = az.make_collections(5, 10, tag="key")
        az.send_all(self.p, sent)
        az.expect_refused(self, "queue-sink", "AuthenticationFailed")
        self.assertEqual(self.az.get_messages("events"), [], "put with a wrong key")

        self.p.config["routes"]["q"]["aqs"]["access_key"] = az.KEY
        self.p.write_config()
        self.p.start("queue-sink", "--route", "q")
        seen, events = self.receive("events", 50)
        self.check(seen, events, az.expected_events(sent), "after the key was fixed")

    @h.dump_on_failure
    def test_emulator_away_20s(self):
        self.create_queue("events")
        self.p.config["routes"] = {"q": aqs_route(self.az.endpoint, "events")}
        self.p.write_config()
        self.p.start_all()
        first = az.make_collections(4, 10, tag="before")
        az.send_all(self.p, first)
        seen1, events1 = self.receive("events", 40)

        self.az.stop()
        later = az.make_collections(6, 10, tag="during")
        az.send_all(self.p, later)
        self.p.flush()
        time.sleep(20)
        self.assertRegex(self.p.log_text("queue-sink"), r"attempt \d+ failed: .*curl")
        self.az.start()
        seen2, events2 = self.receive("events", 60)
        seen = seen1 + seen2
        events1.update(events2)
        self.check(seen, events1, az.expected_events(first + later), "across the outage")


if __name__ == "__main__":
    unittest.main(verbosity=2)
