#!/usr/bin/env python3
"""deploy/prometheus/: the scrape config and the alert rules are valid
(`promtool check config`, `promtool check rules`) and each alert fires
when, and only when, its cases say (`promtool test rules`)."""
import os
import shutil
import subprocess
import unittest

SRC = os.environ.get("HAMUSTRO_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
DIR = os.path.join(SRC, "deploy", "prometheus")


class Rules(unittest.TestCase):
    def promtool(self, *args):
        self.assertTrue(shutil.which("promtool"),
                        "promtool (Debian package prometheus) is needed")
        p = subprocess.run(["promtool"] + list(args), cwd=DIR, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        return p.stdout.decode()

    def test_config(self):
        self.promtool("check", "config", "prometheus.yml")

    def test_rules(self):
        out = self.promtool("check", "rules", "alerts.yml")
        self.assertIn("11 rules found", out)

    def test_rule_cases(self):
        self.promtool("test", "rules", "alerts_test.yml")


if __name__ == "__main__":
    unittest.main()
