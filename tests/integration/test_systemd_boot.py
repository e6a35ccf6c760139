"""The package's systemd units booted for real (issue 13, part 4): a Debian
12 root made with debootstrap from this machine's apt source (read from the
apt configuration now; cached in the build directory, so a second run skips
it), the package installed in it with dpkg, systemd booted in it by
systemd-nspawn on the host's network, `systemctl start hamustro.target`
(the generator's units, each as user hamustro), events sent from outside,
`systemctl stop hamustro.target` writing the open batch (max_age 10
minutes) to files under /var/lib/hamustro/events and, through two
instances of the S3 sink (a route with "instances": 2, in the units'
sandbox), to the s3rver emulator on the host; a listener below 1024 (the
generator's drop-in gives the ingest that one capability); an invalid config:
the generator logs why and the router's ExecStartPre fails visibly.

Needs root (debootstrap, systemd-nspawn): CI runs `make test` as root."""

import glob
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import aws_helpers as aws  # noqa: E402
import harness as h  # noqa: E402
import pkgtest as pk  # noqa: E402

WORK = os.path.join(pk.BUILD, "systemd-boot-test")
NSPAWN = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit"]
# What systemd needs to boot beside the package's own dependencies.
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "adduser", "procps"]


def apt_source():
    """(URI, suite) of the machine's configured Debian archive (not the
    security one), from the deb822 .sources files or sources.list."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            stanzas = f.read().split("\n\n")
        for st in stanzas:
            fields = {}
            for line in st.splitlines():
                if ":" in line and not line.startswith("#"):
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.split()
            if "deb" in fields.get("Types", []) and "URIs" in fields:
                suites = [s for s in fields.get("Suites", []) if "-" not in s]
                if suites:
                    return fields["URIs"][0], suites[0]
    for path in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split("#")[0].split()
                    if len(parts) >= 3 and parts[0] == "deb" and "-" not in parts[2]:
                        uri = [p for p in parts[1:] if not p.startswith("[")][0]
                        return uri, parts[2]
    raise AssertionError("no Debian archive in the apt configuration")


def base_root(packages):
    """The debootstrap'd root with packages, made once per (source, list)."""
    uri, suite = apt_source()
    key = hashlib.sha256(("%s %s %s" % (uri, suite, " ".join(sorted(packages))))
                         .encode()).hexdigest()[:16]
    root = os.path.join(pk.BUILD, "nspawn-cache", "%s-%s" % (suite, key))
    if os.path.exists(os.path.join(root, ".complete")):
        return root
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(root), exist_ok=True)
    pk.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(sorted(packages)),
            suite, tmp, uri], timeout=1800)
    open(os.path.join(tmp, ".complete"), "w").close()
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    return root


def container_init(nspawn_pid):
    """The container's PID 1 (systemd), a descendant of systemd-nspawn."""
    todo = [nspawn_pid]
    while todo:
        pid = todo.pop()
        for task in glob.glob("/proc/%d/task/*/children" % pid):
            try:
                with open(task) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            for k in kids:
                try:
                    with open("/proc/%d/comm" % k) as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if comm == "systemd":
                    return k
                todo.append(k)
    return None


class Machine:
    """A booted container; run() executes a command inside it."""

    def __init__(self, root, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(NSPAWN + ["-D", root, "-b"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = None
        if not h.wait_for(self._found_init, timeout=60):
            raise AssertionError("no systemd in the container; see " + log_path)

    def _found_init(self):
        self.pid = container_init(self.proc.pid)
        return self.pid is not None

    def run(self, *cmd, check=True, timeout=120):
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-a"] + list(cmd),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, out))
        return out

    def booted(self):
        state = self.run("systemctl", "is-system-running", check=False).strip()
        return state in ("running", "degraded")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn: halt the container
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def free_low_port():
    """A port below 1024 nothing listens on here (the container shares the
    host's network)."""
    for port in range(1023, 900, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port in 901..1023")


def healthy(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        c.request("GET", "/api/health")
        return c.getresponse().status == 200
    except OSError:
        return False
    finally:
        c.close()


class SystemdBoot(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise AssertionError("needs root (debootstrap, systemd-nspawn); CI runs as root")
        os.makedirs(WORK, exist_ok=True)
        self.deb = pk.make_deb(os.path.join(WORK, "package"))
        base = base_root(BASE_PACKAGES + pk.deb_depends(self.deb))
        self.root = os.path.join(WORK, "machine")
        shutil.rmtree(self.root, ignore_errors=True)
        pk.run(["cp", "-a", "--reflink=auto", base, self.root])
        # nspawn mounts a tmpfs on /tmp: the package goes in /var/tmp.
        shutil.copy(self.deb, os.path.join(self.root, "var", "tmp"))
        pk.run(NSPAWN + ["-D", self.root, "dpkg", "-i",
                         "/var/tmp/" + os.path.basename(self.deb)])
        self.machine = None

        self.emu = aws.Emulators(os.path.join(WORK, "emulators"))
        self.s3_port = h.free_port()
        self.emu.start("s3rver", self.s3_port)
        aws.s3_create_bucket(self.s3_port, "hm-events")

    def tearDown(self):
        if self.machine:
            self.machine.close()
        self.emu.stop_all()

    def s3_keys(self):
        """(session, nr) of every event in the bucket's objects."""
        keys = []
        for key in aws.s3_list(self.s3_port, "hm-events"):
            _, body = aws.s3_get(self.s3_port, "hm-events", key)
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            for line in body.splitlines():
                ev = json.loads(line)
                keys.append((ev["session"], int(ev["nr"])))
        return keys

    def write_config(self, conf):
        # Rewriting in place keeps the file's root:hamustro 0640.
        with open(os.path.join(self.root, "etc", "hamustro", "hamustro.json"), "w") as f:
            json.dump(conf, f, indent=2)

    def test_boot_start_send_stop(self):
        port = h.free_port()
        conf = pk.package_config(port)
        # A batch that only the stop seals: what lands was flushed by it.
        conf["routes"]["archive"]["max_age"] = 600
        conf["routes"]["s3"] = {
            "sink": "s3", "instances": 2, "max_events": 20, "max_age": 600,
            "s3": {"region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % self.s3_port,
                   "access_key_id": aws.AKID, "secret_access_key": aws.SECRET,
                   "bucket": "hm-events", "blob_path": "events/{date}/"}}
        self.write_config(conf)
        self.machine = m = Machine(self.root, os.path.join(WORK, "boot.log"))
        self.assertTrue(h.wait_for(m.booted, timeout=120),
                        m.run("systemctl", "--failed", "--no-pager", check=False))

        m.run("systemctl", "start", "hamustro.target")
        units = ["hamustro-router.service", "hamustro-ingest.service",
                 "hamustro-file-sink@archive:1.service", "hamustro-s3-sink@s3:1.service",
                 "hamustro-s3-sink@s3:2.service"]
        wants = m.run("systemctl", "list-dependencies", "--plain", "--no-pager",
                      "hamustro.target")
        for unit in units:
            self.assertIn(unit, wants)
        uid = m.run("id", "-u", "hamustro").strip()
        for unit in units:
            self.assertEqual(m.run("systemctl", "is-active", unit, check=False).strip(), "active",
                             m.run("journalctl", "--no-pager", "-u", unit, check=False))
            pid = m.run("systemctl", "show", "-p", "MainPID", "--value", unit).strip()
            status = m.run("cat", "/proc/%s/status" % pid)
            uids = [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")]
            self.assertEqual(uids, [[uid] * 4], unit)
        self.assertTrue(h.wait_for(lambda: healthy(port), timeout=60),
                        m.run("journalctl", "--no-pager", "-n", "50", check=False))

        # Until the sink has joined, the router keeps a stop's batch in its
        # log for the next start (durable, but not in the files).
        self.assertTrue(h.wait_for(lambda: m.run(
            "journalctl", "--no-pager", "-u", "hamustro-router.service").count("joined") == 3,
            timeout=60))
        pairs = pk.send(port, os.path.join(WORK, "record"))
        m.run("systemctl", "stop", "hamustro.target")
        # The target's stop job ends before its services' (a target is
        # ordered after what it wants); they finish within TimeoutStopSec.
        for unit in units:
            self.assertTrue(h.wait_for(lambda: m.run("systemctl", "is-active", unit,
                                                     check=False).strip() == "inactive",
                                       timeout=120), unit)
        self.assertIn("Deactivated successfully", m.run("journalctl", "--no-pager", "-u",
                                                        units[2]))
        got = pk.event_keys(os.path.join(self.root, "var", "lib", "hamustro", "events"))
        self.assertEqual(sorted(got), sorted(pairs),
                         m.run("journalctl", "--no-pager", "-n", "80", check=False))
        # Batches of 20 through two S3 sinks, the last one sealed by the stop.
        self.assertEqual(sorted(self.s3_keys()), sorted(pairs),
                         m.run("journalctl", "--no-pager", "-n", "80", check=False))
        journal = m.run("journalctl", "--no-pager", "-u", "hamustro-s3-sink@s3:2.service")
        self.assertIn("[sink:s3:s3:2]", journal)

        # The units' scores where they run (the host's systemd-analyze
        # scores the files offline in test_package).
        for unit in units:
            out = m.run("systemd-analyze", "security", "--no-pager", unit, check=False)
            sys.stderr.write(out.splitlines()[-1] + "\n")

        # A listener below 1024: the generator's drop-in gives the ingest
        # CAP_NET_BIND_SERVICE (its bounding set is otherwise empty).
        low_port = free_low_port()
        low = json.loads(json.dumps(conf))
        low["ingest"]["port"] = low_port
        self.write_config(low)
        m.run("systemctl", "daemon-reload")
        m.run("systemctl", "start", "hamustro.target")
        self.assertTrue(h.wait_for(lambda: healthy(low_port), timeout=60),
                        m.run("journalctl", "--no-pager", "-u", "hamustro-ingest", check=False))
        caps = m.run("systemctl", "show", "-p", "AmbientCapabilities", "--value",
                     "hamustro-ingest.service")
        self.assertEqual(caps.strip(), "cap_net_bind_service")
        m.run("systemctl", "stop", "hamustro.target")
        self.assertTrue(h.wait_for(lambda: m.run("systemctl", "is-active", "hamustro-router",
                                                 check=False).strip() == "inactive",
                                   timeout=120))

        # An invalid config: the generator says why in the journal, the
        # target wants the router alone, and its ExecStartPre fails.
        bad = json.loads(json.dumps(conf))
        bad["routes"]["archive"]["file"]["file_format"] = "xml"
        self.write_config(bad)
        m.run("systemctl", "daemon-reload")
        m.run("systemctl", "start", "hamustro.target")
        self.assertTrue(h.wait_for(lambda: m.run("systemctl", "is-failed",
                                                 "hamustro-router.service",
                                                 check=False).strip() == "failed", timeout=60))
        journal = m.run("journalctl", "--no-pager", "-b", check=False)
        problem = "/etc/hamustro/hamustro.json: routes.archive.file.file_format: must be"
        self.assertRegex(journal, r"hamustro-generator\[\d+\]: /etc/hamustro/hamustro.json is "
                         "invalid")
        self.assertRegex(journal, r"hamustro-generator\[\d+\]: +" + re.escape(problem))
        self.assertRegex(journal, r"hamustro-ctl\[\d+\]: " + re.escape(problem))
        self.assertEqual(m.run("systemctl", "is-active", "hamustro-file-sink@archive:1.service",
                               check=False).strip(), "inactive")


if __name__ == "__main__":
    unittest.main(verbosity=2)
