"""Every sink program's command line (README, "The programs"): --help exits
0 with its usage, --version prints its name and version, and a route whose
section is missing, has an unknown key or a bad value, or a --route that
names no route or another sink's, stops it at start with FILE: KEY: REASON
and a non-zero exit status. The cloud sinks had none of this tested (issue
18)."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

# program -> (route "sink" value, its section, a valid section)
SINKS = {
    "file-sink": ("file", "file", {"file_path": "out/{date}/", "file_format": "json"}),
    "s3-sink": ("s3", "s3", {"region": "us-east-1", "endpoint": "http://127.0.0.1:9",
                             "access_key_id": "AKID", "secret_access_key": "secret",
                             "bucket": "b", "blob_path": "events/{date}/",
                             "file_format": "json"}),
    "sns-sink": ("sns", "sns", {"region": "us-east-1", "endpoint": "http://127.0.0.1:9",
                                "access_key_id": "AKID", "secret_access_key": "secret",
                                "topic_arn": "arn:aws:sns:us-east-1:000000000000:t"}),
    "blob-sink": ("abs", "abs", {"account": "devstoreaccount1", "access_key": "a2V5",
                                 "container": "c", "blob_path": "e/", "file_format": "json",
                                 "endpoint": "http://127.0.0.1:9"}),
    "queue-sink": ("aqs", "aqs", {"account": "devstoreaccount1", "access_key": "a2V5",
                                  "queue_name": "q", "endpoint": "http://127.0.0.1:9"}),
}


class SinkCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hm-sink-cli-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))

    def run_sink(self, prog, cfg, route="r"):
        """Runs the sink on a config that must stop it at start; returns
        (exit status, stderr, config path)."""
        path = os.path.join(self.dir, "hamustro.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([os.path.join(h.BIN, "hamustro-" + prog), "--config", path,
                            "--route", route], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
                           cwd=self.dir)
        err = p.stderr.decode(errors="replace")
        self.assertEqual(h.sanitizer_reports_in(err), [], prog)
        return p.returncode, err, path

    @staticmethod
    def config(kind, section_name, section):
        route = {"sink": kind}
        if section is not None:
            route[section_name] = section
        return {"shared_secret": "s", "routes": {"r": route}}

    def test_help_and_version(self):
        for prog in SINKS:
            exe = os.path.join(h.BIN, "hamustro-" + prog)
            p = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=10)
            self.assertEqual(p.returncode, 0, prog)
            out = p.stdout.decode()
            self.assertTrue(out.startswith("Usage: hamustro-%s " % prog), out)
            for flag in ("--config", "--route"):
                self.assertIn(flag, out, prog)
            p = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, prog)
            self.assertRegex(p.stdout.decode(), r"^hamustro-%s \d+\.\d+\.\d+\n$" % prog)

    def test_missing_section(self):
        for prog, (kind, name, _) in SINKS.items():
            rc, err, path = self.run_sink(prog, self.config(kind, name, None))
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: routes.r.%s: missing" % (path, name), err, prog)

    def test_unknown_key_in_section(self):
        for prog, (kind, name, section) in SINKS.items():
            rc, err, path = self.run_sink(prog, self.config(kind, name,
                                                            dict(section, bukkit="x")))
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: routes.r.%s.bukkit: unknown key" % (path, name), err, prog)

    def test_bad_value_in_section(self):
        for prog, (kind, name, section) in SINKS.items():
            key = sorted(section)[0]
            rc, err, path = self.run_sink(prog, self.config(kind, name,
                                                            dict(section, **{key: 42})))
            self.assertNotEqual(rc, 0, prog)
            self.assertRegex(err, r"%s: routes\.r\.%s\.%s: \S" % (re.escape(path), name, key),
                             prog)

    def test_route_not_there_or_not_ours(self):
        for prog, (kind, name, section) in SINKS.items():
            rc, err, path = self.run_sink(prog, self.config(kind, name, section), route="nope")
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: no route 'nope'" % path, err, prog)
            # A route of another sink.
            other = "file-sink" if prog != "file-sink" else "s3-sink"
            okind, oname, osection = SINKS[other]
            rc, err, path = self.run_sink(prog, self.config(okind, oname, osection))
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: route 'r' has sink '%s', this program is the" % (path, okind),
                          err, prog)


if __name__ == "__main__":
    unittest.main(verbosity=2)
