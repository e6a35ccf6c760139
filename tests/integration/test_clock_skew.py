"""The replay window (top-level max_clock_skew_s, ARCHITECTURE section 2)
through the real ingest, router and file sink: a signed request whose
X-Hamustro-Time is just inside now +- skew is taken, one just outside (behind
or ahead) gets 401 with a reason that says which; a captured request sent
again after the window is refused; under "signature": "optional" unsigned
requests still pass. Without the key (the default) old times pass, as in the
original: test_status_codes signs everything with a 2016 time."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

SKEW = 300
# The ingest reads its clock after the test reads its own: "just inside"
# and "just outside" keep this margin for the request's way there.
MARGIN = 10


class ClockSkew(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = h.Pipeline(max_clock_skew_s=SKEW).start_all()
        cls.p.wait_healthy()

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def assertError(self, answer, status, *reason_parts):
        got, headers, body = answer
        self.assertEqual(got, status, body)
        self.assertIn("application/json", headers.get("content-type", ""))
        err = json.loads(body)["error"]
        for part in reason_parts:
            self.assertIn(part, err)

    def body(self, device):
        return h.encode_collection(h.make_collection(1, device=device))

    def test_inside_the_window_both_ways(self):
        for offset in (0, -(SKEW - MARGIN), SKEW - MARGIN):
            t = str(int(time.time()) + offset)
            status, _, body = self.p.track_retry(self.body("dev-in-%d" % offset), t=t)
            self.assertEqual(status, 200, (offset, body))

    def test_outside_the_window_both_ways(self):
        t = str(int(time.time()) - (SKEW + MARGIN))
        self.assertError(self.p.track(self.body("dev-behind"), t=t), 401,
                         "behind the server's clock", "max_clock_skew_s (300 s)")
        t = str(int(time.time()) + SKEW + MARGIN)
        self.assertError(self.p.track(self.body("dev-ahead"), t=t), 401,
                         "ahead of the server's clock", "max_clock_skew_s (300 s)")

    def test_replayed_request_refused(self):
        # A request captured years ago (the original's sample time), sent
        # again byte for byte: its signature is still valid, its time is not.
        body = self.body("dev-replay")
        self.assertError(self.p.track(body, t="1454514088"), 401, "behind")
        self.assertError(self.p.track(body, t="not-a-time"), 401, "not epoch seconds")

    def test_accepted_events_stored(self):
        t = str(int(time.time()) - (SKEW - MARGIN))
        status, _, body = self.p.track_retry(self.body("dev-stored"), t=t)
        self.assertEqual(status, 200, body)
        self.p.track(self.body("dev-not-stored"), t="1454514088")
        events = self.p.wait_events(1)
        devices = {e.get("device_id") for e in events}
        self.assertIn("dev-stored", devices)
        self.assertNotIn("dev-not-stored", devices)


class ClockSkewOptionalSignature(unittest.TestCase):
    """Under "signature": "optional" an unsigned request carries no time to
    check and passes as before; a signed one is checked like any other."""

    @classmethod
    def setUpClass(cls):
        cls.p = h.Pipeline(signature="optional", max_clock_skew_s=SKEW).start_all()
        cls.p.wait_healthy()

    @classmethod
    def tearDownClass(cls):
        cls.p.close()

    def test_unsigned_passes_signed_is_checked(self):
        body = h.encode_collection(h.make_collection(1, device="dev-opt"))
        status, _, answer = self.p.track_retry(body, signed=False)
        self.assertEqual(status, 200, answer)
        status, _, answer = self.p.track_retry(body, t=str(int(time.time())))
        self.assertEqual(status, 200, answer)
        status, _, answer = self.p.track(body, t="1454514088")
        self.assertEqual(status, 401, answer)
        self.assertIn("behind", json.loads(answer)["error"])
        # A time without a signature (or the reverse) is still a 401.
        status, _, answer = self.p.track(body, signed=False,
                                         extra={"X-Hamustro-Time": str(int(time.time()))})
        self.assertEqual(status, 401, answer)
        self.assertIn("Signature header is missing", json.loads(answer)["error"])


if __name__ == "__main__":
    unittest.main()
