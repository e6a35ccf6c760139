"""trusted_proxies through the whole pipeline (ARCHITECTURE section 5): the
ingest reads X-Forwarded-For and X-Real-IP only from a listed proxy, walking
X-Forwarded-For from the right past trusted hops; a client outside the list
records its own address whatever headers it sends. The test connects from
127.0.0.2 (the trusted proxy) and from 127.0.0.1 (a stranger, whose own
loopback address is private, so nothing is recorded for it)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

CASES = [
    # (event name, connect from, headers, recorded ip)
    ("Proxy.Chain", "127.0.0.2",
     {"X-Forwarded-For": "8.8.8.8, 81.2.69.160, 127.0.0.2"}, "81.2.69.160"),
    ("Proxy.RealIp", "127.0.0.2", {"X-Real-IP": "81.2.69.161"}, "81.2.69.161"),
    ("Proxy.Garbage", "127.0.0.2", {"X-Forwarded-For": "81.2.69.160, unknown"}, ""),
    ("Stranger.Spoof", "127.0.0.1",
     {"X-Forwarded-For": "81.2.69.162", "X-Real-IP": "81.2.69.163"}, ""),
]


class TrustedProxies(unittest.TestCase):
    def test_only_trusted_peers_forward(self):
        with h.Pipeline(trusted_proxies=["127.0.0.2"]) as p:
            p.start_all()
            for nr, (name, source, headers, _) in enumerate(CASES, start=1):
                c = h.make_collection(1, start_nr=nr)
                c["payloads"][0]["event"] = name
                status, _, body = p.track_retry(h.encode_collection(c), extra=headers,
                                                source=source)
                self.assertEqual(status, 200, body)
            events = p.wait_events(len(CASES))
            got = {e["event"]: e.get("ip", "") for e in events}
            self.assertEqual(len(events), len(CASES), events)
            for name, source, headers, want in CASES:
                self.assertEqual(got[name], want, (name, source, headers))


if __name__ == "__main__":
    unittest.main()
