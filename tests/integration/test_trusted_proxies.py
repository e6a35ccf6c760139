"""trusted_proxies through the whole pipeline (ARCHITECTURE section 5): the
ingest reads X-Forwarded-For and X-Real-IP only from a listed proxy, walking
X-Forwarded-For from the right past trusted hops; a client outside the list
records its own address whatever headers it sends. The test connects from
127.0.0.2 (the trusted proxy) and from 127.0.0.1 (a stranger, whose own
loopback address is private, so nothing is recorded for it)."""

import http.client
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


# Headers as repeated lines: a proxy such as HAProxy adds its own
# X-Forwarded-For line after the one the client sent; the lines join in order.
LINES = [
    ("Proxy.TwoLines", [("X-Forwarded-For", "81.2.69.170"), ("X-Forwarded-For", "81.2.69.171")],
     "81.2.69.171"),
    ("Proxy.ThreeLines", [("X-Forwarded-For", "81.2.69.172"), ("X-Forwarded-For", "81.2.69.173"),
                          ("X-Forwarded-For", "127.0.0.2")], "81.2.69.173"),
    # over the 2 KiB bound: the trusted peer itself (private here: none)
    ("Proxy.TooLong", [("X-Forwarded-For", ", ".join(["127.0.0.2"] * 300)),
                       ("X-Forwarded-For", "81.2.69.174")], ""),
]


def track_lines(p, body, lines, source):
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.putrequest("POST", "/api/v1/track")
        t = "1454514088"
        for name, value in [("Content-Type", "application/protobuf"),
                            ("Content-Length", str(len(body))), ("X-Hamustro-Time", t),
                            ("X-Hamustro-Signature", h.signature(body, t))] + lines:
            conn.putheader(name, value)
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


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
            for nr, (name, lines, _) in enumerate(LINES, start=len(CASES) + 1):
                c = h.make_collection(1, start_nr=nr)
                c["payloads"][0]["event"] = name
                body = h.encode_collection(c)
                status, answer = track_lines(p, body, lines, "127.0.0.2")
                if status == 503:  # the router link still coming up
                    self.assertTrue(h.wait_for(
                        lambda: track_lines(p, body, lines, "127.0.0.2")[0] == 200))
                else:
                    self.assertEqual(status, 200, answer)
            events = p.wait_events(len(CASES) + len(LINES))
            got = {e["event"]: e.get("ip", "") for e in events}
            self.assertEqual(len(events), len(CASES) + len(LINES), events)
            for name, source, headers, want in CASES:
                self.assertEqual(got[name], want, (name, source, headers))
            for name, lines, want in LINES:
                self.assertEqual(got[name], want, name)


if __name__ == "__main__":
    unittest.main()
