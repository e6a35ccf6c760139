"""Strings holding NUL bytes go through the whole pipeline whole (issue 19).

The original Hamustro (Go) kept such strings: for the value
"ctl\\x00\\x01\\x1f\\x7f" it wrote "ctl\\u0000\\u0001\\u001f" and the raw 0x7f
byte in its JSON files, and the bytes as they are in its CSV files (Go's
encoding/csv gives a NUL no meaning). A NUL in every string field of a
Collection and a Payload, in a parameter's name and value, sent as protobuf
and as JSON ("\\u0000"), must come out byte for byte so: in the file sink's
JSON and CSV files, through a route whose event filter ("ctl?*") must see
the whole name, and in the queue sink's messages on azurite."""

import base64
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import azure_emulator as az  # noqa: E402

V = "ctl\x00\x01\x1f\x7f"
# The value as the original wrote it in JSON: control bytes escaped, DEL raw.
VJ = b'"ctl\\u0000\\u0001\\u001f\x7f"'
# ... and inside the parameters' JSON text, itself a JSON string.
PJ = b'"{\\"ctl\\\\u0000\\\\u0001\\\\u001f\x7f\\":\\"ctl\\\\u0000\\\\u0001\\\\u001f\x7f\\"}"'
# CSV: V holds \001, the separator, so Go quoted it; the NUL stays raw.
VC = b'"' + V.encode() + b'"'
PC = b'"{""ctl\\u0000\\u0001\\u001f\x7f"":""ctl\\u0000\\u0001\\u001f\x7f""}"'
OTHER = "a\x00b"  # an event name without the separator: raw and unquoted in CSV
OPTIONAL = ["device_make", "device_model", "system", "system_language", "browser",
            "browser_version", "product_git_hash", "product_language"]


def nul_collection(start_nr, session_fields=V):
    """Every string field holds V (the session is the MD5 of them; the four
    fields it is made of hold session_fields), two payloads: event V and
    event OTHER."""
    s = session_fields
    c = h.make_collection(2, device=s, client=s, start_nr=start_nr,
                          **{k: V for k in OPTIONAL})
    c["system_version"] = c["product_version"] = s
    c["session"] = h.session(s, s, s, s, c["env"])
    for p, event in zip(c["payloads"], (V, OTHER)):
        p.update(event=event, timezone=V, tenant_id=V, user_id=V, ip=V, country=V,
                 parameters=[(V, V)])
    return c


def json_line(c, p):
    """The event's JSON line as the original wrote it (without the newline)."""
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["at"])).encode()
    ev = VJ if p["event"] == V else b'"a\\u0000b"'
    sj = VJ if c["device_id"] == V else b'"%s"' % c["device_id"].encode()
    fields = [(b"device_id", sj), (b"client_id", sj), (b"session", b'"%s"' % c["session"].encode()),
              (b"nr", b"%d" % p["nr"]), (b"env", b'"DEVELOPMENT"'), (b"system_version", sj),
              (b"product_version", sj), (b"at", b'"%s"' % at), (b"timezone", VJ), (b"event", ev)]
    fields += [(k.encode(), VJ) for k in OPTIONAL]
    fields += [(b"user_id", VJ), (b"tenant_id", VJ), (b"ip", VJ), (b"country", VJ),
               (b"parameters", PJ)]
    return b"{" + b",".join(b'"%s":%s' % kv for kv in fields) + b"}"


def csv_line(c, p):
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["at"])).encode()
    ev = VC if p["event"] == V else OTHER.encode()
    sc = VC if c["device_id"] == V else c["device_id"].encode()
    row = [sc, sc, c["session"].encode(), b"%d" % p["nr"], b"DEVELOPMENT", sc, sc, at, VC, ev]
    row += [VC] * len(OPTIONAL) + [VC, VC, VC, VC, PC]
    return b"\x01".join(row)


def send_both(p):
    """Payloads nr 1, 2 as a protobuf body and nr 3, 4 as a JSON body (the
    NULs as \\u0000); returns the two collections."""
    pb, js = nul_collection(1), nul_collection(3)
    status, _, body = p.track_retry(h.encode_collection(pb))
    assert status == 200, (status, body)
    text = h.collection_json(js, camel=True)
    assert b"\\u0000" in text
    status, _, body = p.track_retry(text, "application/json")
    assert status == 200, (status, body)
    return pb, js


def raw_lines(p, route):
    out = []
    for path in p.output_files(route):
        out += [line for line in h.read_bytes(path).split(b"\n") if line]
    return out


class NulStrings(unittest.TestCase):
    @h.dump_on_failure
    def test_file_json_csv_and_filter(self):
        self.p = p = h.Pipeline()
        self.addCleanup(p.close)
        out = os.path.join(p.dir, "out")

        def route(name, fmt, **extra):
            r = {"sink": "file", "max_events": 100, "max_age": 0.2,
                 "file": {"file_path": os.path.join(out, name, "{date}"),
                          "file_format": fmt, "compress": False}}
            r.update(extra)
            return r
        p.config["routes"] = {
            "archive": route("json", "json"),
            "csv": route("csv", "csv"),
            # '?' must meet the NUL after "ctl": the filter sees the whole name.
            "ctl": route("ctl", "json", filter={"event": "ctl?*"}),
        }
        p.config["masked_ip"] = True  # an ip holding a NUL is no address: kept
        p.write_config()
        p.start_all()
        # First the strings outside the session's fields: the value must not
        # be cut after "ctl" (it was, before: "event":"ctl").
        plain = nul_collection(5, session_fields="plain")
        status, _, body = p.track_retry(h.encode_collection(plain))
        self.assertEqual(status, 200, body)
        p.wait_events(2)
        self.assertEqual(sorted(raw_lines(p, "archive")),
                         sorted(json_line(plain, q) for q in plain["payloads"]))
        # Then NULs in the session's fields too, as protobuf and as JSON.
        collections = send_both(p) + (plain,)
        p.wait_events(6)
        p.wait_events(3, route="ctl")
        self.assertTrue(h.wait_for(lambda: len(raw_lines(p, "csv")) >= 6, timeout=30))

        want = sorted(json_line(c, q) for c in collections for q in c["payloads"])
        self.assertEqual(sorted(raw_lines(p, "archive")), want)
        self.assertIn(b'"event":"ctl\\u0000\\u0001\\u001f\x7f","device_make"',
                      b"\n".join(raw_lines(p, "archive")))
        want_csv = sorted(csv_line(c, q) for c in collections for q in c["payloads"])
        self.assertEqual(sorted(raw_lines(p, "csv")), want_csv)
        want_ctl = sorted(json_line(c, q) for c in collections for q in c["payloads"]
                          if q["event"] == V)
        p.flush()
        self.assertEqual(sorted(raw_lines(p, "ctl")), want_ctl)

        # What cannot hold a NUL is refused with the field named, never cut
        # (an integer as a string: "1\u00002" is no number, not 1).
        bad = nul_collection(9, session_fields="plain")
        bad["payloads"][0]["at"] = "1\x002"
        status, _, body = p.track(h.collection_json(bad), "application/json")
        self.assertEqual(status, 400, body)
        self.assertIn(b"payloads[0].at: expected a non-negative integer, got a string holding a NUL",
                      body)


class NulStringsQueue(unittest.TestCase):
    @h.dump_on_failure
    def test_queue_messages(self):
        self.p = p = h.Pipeline(routes={})
        self.addCleanup(p.close)
        emu = az.Azurite("queue", p.dir)
        self.addCleanup(emu.stop)
        emu.start()
        for q in ("nul-b64", "nul-xml"):
            emu.ok("PUT", "/" + q)
        section = {"account": az.ACCOUNT, "access_key": az.KEY, "endpoint": emu.endpoint}
        p.config["routes"] = {
            "b64": {"sink": "aqs", "max_events": 50, "max_age": 0.3,
                    "aqs": dict(section, queue_name="nul-b64")},
            "xml": {"sink": "aqs", "max_events": 50, "max_age": 0.3,
                    "aqs": dict(section, queue_name="nul-xml", encoding="xml")},
        }
        p.write_config()
        p.start_all()
        collections = send_both(p)
        want = sorted(json_line(c, q) for c in collections for q in c["payloads"])
        for queue, decode in (("nul-b64", lambda t: base64.b64decode(t, validate=True)),
                              ("nul-xml", lambda t: t.encode())):
            got = set()
            deadline = time.time() + 90
            while time.time() < deadline and len(got) < len(want):
                texts = emu.get_messages(queue, 32)
                if not texts:
                    p.flush()
                    time.sleep(0.3)
                got |= {decode(t) for t in texts}
            self.assertEqual(sorted(got), want, queue)


if __name__ == "__main__":
    unittest.main(verbosity=2)
