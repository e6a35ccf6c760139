"""The README's "Try it" commands, as written there: read from README.md
(so an edit there is tested), run against the pipeline started as `make
run` starts it (the programs without --config, so with their embedded
default config, from a directory holding var/run, var/data and
var/events): hamustro-send's signed traffic is all answered 200 and lands
in var/events, curl sees the health answer, hamustro-tap prints the events
going by.

The commands use the default port, 8080, on 127.0.0.1: the test runs in a
network namespace of its own (unshare --net, as root; CI runs as root) so
that nothing else on the machine can hold that port or see the traffic."""

import collections
import fcntl
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

BIN = os.path.abspath(h.BIN)


def readme_commands():
    """The command lines of the README's "Try it" block, comments dropped."""
    with open(os.path.join(h.SRC, "README.md")) as f:
        text = f.read()
    m = re.search(r"Try it from another terminal:\s*```sh\n(.*?)```", text, re.S)
    assert m, "README.md has no \"Try it\" block"
    return [shlex.split(line, comments=True) for line in m.group(1).splitlines()
            if line.strip()]


def as_run_here(argv):
    """The README says build/bin/PROGRAM, from the checkout: the binaries
    under test are in HAMUSTRO_BIN."""
    if argv[0].startswith("build/bin/"):
        return [os.path.join(BIN, argv[0][len("build/bin/"):])] + argv[1:]
    return argv


def loopback_up():
    """ip link set lo up, without iproute2."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))
    finally:
        s.close()


class TryIt(unittest.TestCase):
    def test_readme_try_it_commands(self):
        commands = readme_commands()
        self.assertEqual([c[0] for c in commands],
                         ["build/bin/hamustro-send", "curl", "build/bin/hamustro-tap"])
        send, curl, tap_cmd = (as_run_here(c) for c in commands)
        with open(os.path.join(h.SRC, "config", "hamustro.json")) as f:
            default = json.load(f)
        with h.Pipeline() as p:
            # What the programs will use: the embedded default (written out
            # only for hamustro-ctl and the harness's reading of var/events).
            p.config = default
            p.write_config()
            p.port = default["ingest"]["port"]
            cwd = os.getcwd()
            os.chdir(p.dir)  # the default config's paths are relative (var/...)
            self.addCleanup(os.chdir, cwd)
            for d in ("var/run", "var/data", "var/events"):  # as `make run` does
                os.makedirs(d)
            for prog in ("router", "file-sink", "ingest"):  # deploy/supervisord.conf
                p.start(prog, use_config=False)
            p.wait_healthy()

            tap = h.Tap(None, argv=tap_cmd)
            self.addCleanup(tap.close)

            def probe():
                r = subprocess.run([send[0], "--count", "1", "--payloads", "1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout)
            probes = tap.wait_subscribed(probe)

            r = subprocess.run(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=600)
            out = r.stdout.decode()
            self.assertEqual(r.returncode, 0, r.stderr)
            # Its summary: 1000 requests, every one answered 200.
            self.assertRegex(out, r"(?m)^requests   1000 in ")
            self.assertRegex(out, r"(?m)^status     200: 1000  204: 0 ")
            accepted = int(re.search(r"accepted in 200 answers (\d+)", out).group(1))
            self.assertGreaterEqual(accepted, 1000)
            self.assertLessEqual(accepted, 10000)

            r = subprocess.run(curl, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIs(json.loads(r.stdout)["up"], True, r.stdout)

            # Every accepted event lands in var/events (max_age is 60 s in
            # the default config: hamustro-ctl flush seals now).
            total = probes + accepted
            events = p.wait_events(total, timeout=300)
            self.assertEqual(len(events), total)
            self.assertEqual(
                [k for k, n in collections.Counter((e["session"], e["nr"]) for e in events)
                 .items() if n > 1], [])
            self.assertTrue(all(f.startswith(os.path.join("var", "events"))
                                for f in p.output_files()), p.output_files())

            # The tap showed the events going by, as the files have them.
            written = {(e["session"], e["nr"]): e for e in events}
            self.assertTrue(h.wait_for(lambda: len(tap.events()) > probes, 30), tap.lines[:5])
            rc, err = tap.stop()
            self.assertEqual(rc, 0, err)
            for e in tap.events():
                self.assertEqual(e, written[(e["session"], e["nr"])])
            print("%d events sent, %d shown by the tap" % (total, len(tap.events())))


if __name__ == "__main__":
    if os.environ.get("HM_TRY_IT_NETNS") != "1":
        if os.geteuid() != 0:
            h.skip("needs root for a network namespace of its own (port 8080)")
        env = dict(os.environ, HM_TRY_IT_NETNS="1",
                   HAMUSTRO_BIN=BIN, HAMUSTRO_SRC=os.path.abspath(h.SRC))
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:], env)
    loopback_up()
    unittest.main(verbosity=2)
