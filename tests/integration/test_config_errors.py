"""A config with an unknown key or a bad value stops every program at start
with the file, the key and the reason; --help and --version work."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

PROGRAMS = ["router", "ingest", "file-sink", "push", "tap", "send"]


class ConfigErrors(unittest.TestCase):
    def run_prog(self, prog, config_text):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(config_text)
        try:
            p = subprocess.run([os.path.join(h.BIN, "hamustro-" + prog), "--config", f.name],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=20)
            err = p.stderr.decode(errors="replace")
            # A program that stops on a bad config must stop cleanly.
            self.assertEqual(h.sanitizer_reports_in(err), [], prog)
            return p.returncode, err, f.name
        finally:
            os.unlink(f.name)

    def test_unknown_key(self):
        cfg = {"shared_secret": "s", "dialect": "file", "file": {"file_path": "x"},
               "max_wroker_size": 3}
        for prog in PROGRAMS:
            rc, err, path = self.run_prog(prog, json.dumps(cfg))
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: max_wroker_size: unknown key" % path, err, prog)

    def test_bad_value(self):
        cfg = {"shared_secret": "s", "dialect": "file",
               "file": {"file_path": "x", "file_format": "xml"}}
        for prog in PROGRAMS:
            rc, err, path = self.run_prog(prog, json.dumps(cfg))
            self.assertNotEqual(rc, 0, prog)
            self.assertIn("%s: file.file_format: must be" % path, err, prog)

    def test_not_json(self):
        rc, err, path = self.run_prog("router", "{ this is not json")
        self.assertNotEqual(rc, 0)
        self.assertIn(path, err)
        self.assertIn("not valid JSON", err)

    def test_help_and_version(self):
        for prog in PROGRAMS:
            exe = os.path.join(h.BIN, "hamustro-" + prog)
            p = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, prog)
            self.assertRegex(p.stdout.decode(), r"\d+\.\d+\.\d+", prog)
            p = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, prog)
            self.assertIn("--config", p.stdout.decode(), prog)

    def test_bad_argument(self):
        for prog in PROGRAMS:
            p = subprocess.run([os.path.join(h.BIN, "hamustro-" + prog), "--no-such-flag"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
            self.assertNotEqual(p.returncode, 0, prog)
            self.assertTrue(p.stderr, prog)


if __name__ == "__main__":
    unittest.main(verbosity=2)
