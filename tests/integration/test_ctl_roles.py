"""hamustro-ctl's host roles on deploy/hosts/'s own configs (README
"Scaling out"): an edge's config ("role": "edge") runs a router and an
ingest, a sink host's ("role": "sinks") only the sinks and passes
check-config without the router's secret key; one supervisord serves a
sink host's configs for two edges without a clash of program names;
--role overrides the config's; bad uses are refused (exit 2) with nothing
on stdout."""

import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

CTL = os.path.join(h.BIN, "hamustro-ctl")
HOSTS = os.path.join(h.SRC, "deploy", "hosts")


def ctl(*args):
    r = subprocess.run([CTL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def keygen():
    return json.loads(subprocess.run([CTL, "keygen"], stdout=subprocess.PIPE, check=True,
                                     timeout=30).stdout)


class Roles(unittest.TestCase):
    def setUp(self):
        """deploy/hosts/'s configs with real keys in place of the
        placeholders (what an operator does with hamustro-ctl keygen)."""
        self.dir = tempfile.mkdtemp(prefix="hm-roles-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        server, client = keygen(), keygen()
        self.paths = {}
        for name in ("edge.json", "sink-edge1.json", "sink-edge2.json"):
            with open(os.path.join(HOSTS, name)) as f:
                cfg = json.load(f)
            curve = cfg["curve"]
            curve["server_public_key"] = server["public_key"]
            if "server_secret_key" in curve:
                curve["server_secret_key"] = server["secret_key"]
            curve["client_public_key"] = client["public_key"]
            curve["client_secret_key"] = client["secret_key"]
            self.paths[name] = os.path.join(self.dir, name)
            with open(self.paths[name], "w") as f:
                json.dump(cfg, f)

    def sections(self, text):
        """The [program:x] names of a supervisord file (strict: a name
        given twice raises)."""
        parser = configparser.RawConfigParser(strict=True)
        parser.read_string(text)
        return parser.sections()

    def test_each_host_runs_its_part(self):
        edge, sink1, sink2 = (self.paths[n] for n in ("edge.json", "sink-edge1.json",
                                                       "sink-edge2.json"))
        code, out, err = ctl("check-config", edge)
        self.assertEqual(code, 0, err)
        self.assertIn("role: edge", out)
        self.assertIn("listener: http://10.77.0.11:8080", out)
        for path in (sink1, sink2):
            code, out, err = ctl("check-config", path)
            self.assertEqual((code, err), (0, ""))
            self.assertIn("role: sinks", out)
            self.assertNotIn("listener:", out)
        # As a whole pipeline, the sink host's config lacks the router's secret.
        code, out, err = ctl("check-config", "--role", "all", sink1)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("curve.server_secret_key: missing", err)

        self.assertEqual(ctl("systemd-units", edge)[:2],
                         (0, "hamustro-router.service\nhamustro-ingest.service\n"))
        self.assertEqual(ctl("systemd-units", sink1)[:2],
                         (0, "hamustro-file-sink@archive:1.service\n"))
        self.assertEqual(ctl("systemd-units", "--role", "sinks", edge)[:2],
                         (0, "hamustro-file-sink@archive:1.service\n"))

        code, out, err = ctl("supervisord-conf", edge)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.sections(out), ["program:router", "program:ingest"])
        # One supervisord on the sink host, one config per edge.
        code, out, err = ctl("supervisord-conf", sink1, sink2)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.sections(out), ["program:sink-edge1-sink-archive",
                                              "program:sink-edge2-sink-archive"])
        self.assertIn("--config %s --route archive:%%(process_num)d" % sink1, out)
        self.assertIn("--config %s --route archive:%%(process_num)d" % sink2, out)
        code, out, err = ctl("supervisord-conf", "--prefix", "e1-", sink1)
        self.assertEqual(self.sections(out), ["program:e1-sink-archive"])

    def test_bad_uses(self):
        sink1 = self.paths["sink-edge1.json"]
        other = os.path.join(self.dir, "other")
        os.mkdir(other)
        shutil.copy(sink1, other)
        for args, says in (
                (["supervisord-conf", "--role", "both", sink1], "--role takes all, edge or sinks"),
                (["supervisord-conf", sink1, os.path.join(other, "sink-edge1.json")],
                 "the same file name"),
                (["supervisord-conf", "--prefix", "x-", sink1, self.paths["edge.json"]],
                 "--prefix goes with one FILE"),
                (["check-config", sink1, self.paths["edge.json"]], "at most one FILE"),
                (["supervisord-conf", "--prefix", "a:b", sink1], "prefix 'a:b'")):
            code, out, err = ctl(*args)
            self.assertEqual((code != 0, out), (True, ""), args)
            self.assertIn(says, err, args)

    def test_help_names_the_role(self):
        code, out, _ = ctl("--help")
        self.assertEqual(code, 0)
        self.assertIn("--role all|edge|sinks", out)
        self.assertIn("supervisord-conf [FILE...]", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
