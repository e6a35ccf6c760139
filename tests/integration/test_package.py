"""The Debian package on this machine (issue 13, parts 3 and 4): `make deb`,
lintian without errors, `dpkg -i`, the installed programs run exactly as
their systemd units run them (the units' own command lines, as user
hamustro, in /var/lib/hamustro) for the units the generator makes
hamustro.target want, events sent land under /var/lib/hamustro/events,
`systemd-analyze verify` and `security` on every unit, logrotate's config,
then `dpkg --purge` leaves no file, user or group behind. And `make install
DESTDIR=... PREFIX=/usr` lays out the same files.

Needs root (dpkg, a system user): CI runs `make test` as root."""

import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import pkgtest as pk  # noqa: E402

UNIT_DIR = "/lib/systemd/system"
UNITS = ["hamustro-router.service", "hamustro-ingest.service", "hamustro.target"] + [
    "hamustro-%s-sink@.service" % k for k in ("file", "s3", "sns", "blob", "queue")]
PROGRAMS = ["hamustro-router", "hamustro-ingest", "hamustro-ctl", "hamustro-send",
            "hamustro-push", "hamustro-tap"] + [
    "hamustro-%s-sink" % k for k in ("file", "s3", "sns", "blob", "queue")]
GENERATOR = "/usr/lib/systemd/system-generators/hamustro-generator"


def installed():
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "hamustro"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    return st.strip() != "" and "not-installed" not in st


def leftovers():
    """What a purged package must not leave."""
    left = [p for p in ["/etc/hamustro", "/var/lib/hamustro", "/run/hamustro", "/var/log/hamustro",
                        "/run/hamustro-supervisord", "/usr/share/hamustro",
                        "/etc/logrotate.d/hamustro", GENERATOR,
                        "/usr/lib/tmpfiles.d/hamustro.conf", "/usr/sbin/hamustro-supervisord"]
            if os.path.lexists(p)]
    left += ["/usr/bin/" + n for n in os.listdir("/usr/bin") if n.startswith("hamustro-")]
    for d in ("/usr/share/man/man1", "/usr/share/man/man8", "/usr/share/doc"):
        left += [d + "/" + n for n in os.listdir(d) if n.startswith("hamustro")]
    left += [UNIT_DIR + "/" + n for n in os.listdir(UNIT_DIR) if n.startswith("hamustro")]
    left += ["/etc/systemd/system/" + n for n in os.listdir("/etc/systemd/system")
             if "hamustro" in n]
    for name, getter in (("user", pwd.getpwnam), ("group", grp.getgrnam)):
        try:
            getter("hamustro")
            left.append("%s hamustro" % name)
        except KeyError:
            pass
    return left


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("needs root (dpkg -i, a system user); CI runs make test as root")
        if installed():
            # Maybe an operator's: not ours to purge.
            raise AssertionError("the hamustro package is installed here; this test installs "
                                 "and purges its own: `dpkg --purge hamustro` first")
        cls.tmp = tempfile.mkdtemp(prefix="hm-package-")
        cls.deb = pk.make_deb(os.path.join(pk.BUILD, "package-test"))

    @classmethod
    def tearDownClass(cls):
        if installed():
            subprocess.run(["dpkg", "--purge", "hamustro"])
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_lintian_has_no_errors(self):
        out = pk.run(["lintian", "--tag-display-limit", "0", self.deb], check=False)
        sys.stderr.write("lintian:\n" + out)
        errors = [line for line in out.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], out)

    def test_2_install_run_purge(self):
        pk.run(["dpkg", "-i", self.deb])
        try:
            self.check_installed()
            self.check_units()
            pairs = self.check_pipeline_as_units_run_it()
            self.check_logrotate()
            self.check_supervisord(pairs)
            # A remove keeps the data, the user and the edited config.
            pk.run(["dpkg", "--remove", "hamustro"])
            self.assertFalse(os.path.exists("/usr/bin/hamustro-router"))
            self.assertTrue(pk.event_keys("/var/lib/hamustro/events"))
            pwd.getpwnam("hamustro")
            with open("/etc/hamustro/hamustro.json") as f:
                self.assertEqual(json.load(f)["ingest"]["port"], self.port)
        finally:
            out = pk.run(["dpkg", "--purge", "hamustro"])
        self.assertFalse(installed(), out)
        self.assertEqual(leftovers(), [], out)

    def check_installed(self):
        user = pwd.getpwnam("hamustro")
        self.assertLess(user.pw_uid, 1000, "a system user")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "hamustro")
        st = os.stat("/var/lib/hamustro")
        self.assertEqual((st.st_uid, st.st_gid), (user.pw_uid, user.pw_gid))
        st = os.stat("/etc/hamustro/hamustro.json")
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, user.pw_gid, 0o640),
                         "the config holds secrets: root:hamustro 0640")
        conffiles = pk.run(["dpkg-query", "-W", "-f=${Conffiles}", "hamustro"])
        self.assertIn("/etc/hamustro/hamustro.json", conffiles)
        for prog in PROGRAMS:
            self.assertTrue(os.access("/usr/bin/" + prog, os.X_OK), prog)
            page = pk.run(["man", "-w", prog]).strip()
            self.assertTrue(page.endswith("/man1/%s.1.gz" % prog), page)
            # help2man found the usage line and the options list.
            text = pk.run(["man", "-P", "cat", prog], env=dict(os.environ, MANWIDTH="120"))
            self.assertIn("SYNOPSIS", text, prog)
            self.assertIn("--config", text, prog)
        # The page says what --help says.
        text = pk.run(["man", "-P", "cat", "hamustro-router"], env=dict(os.environ, MANWIDTH="200"))
        self.assertIn("durable log", text)
        self.assertIn("--config", text)
        self.assertEqual(pk.run(["man", "-w", "hamustro-supervisord"]).strip(),
                         "/usr/share/man/man8/hamustro-supervisord.8.gz")
        self.check_prometheus_files()

    def check_prometheus_files(self):
        """deploy/prometheus/ is installed, and valid where it lies: the
        scrape config, the rules, and their cases pass promtool there."""
        d = "/usr/share/hamustro/prometheus"
        self.assertEqual(sorted(os.listdir(d)),
                         ["alerts.yml", "alerts_test.yml", "prometheus.yml"])
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f, \
                    open(os.path.join(pk.SRC, "deploy", "prometheus", name), "rb") as g:
                self.assertEqual(f.read(), g.read(), name)
        self.assertTrue(shutil.which("promtool"), "promtool (Debian package prometheus)")
        for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"],
                     ["test", "rules", "alerts_test.yml"]):
            p = subprocess.run(["promtool"] + args, cwd=d, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 0, p.stdout.decode())

    def check_units(self):
        scores = {}
        for unit in UNITS:
            path = os.path.join(UNIT_DIR, unit)
            self.assertTrue(os.path.exists(path), path)
            if unit.endswith("@.service"):
                # verify and security want an instance; link one beside.
                inst = os.path.join(self.tmp, unit.replace("@.", "@archive:1."))
                shutil.copy(path, inst)
                path = inst
            out = pk.run(["systemd-analyze", "verify", "--man=no", path], check=False)
            # Only complaints about this unit count (the host's other units
            # are not ours to judge).
            mine = [line for line in out.splitlines() if "hamustro" in line]
            self.assertEqual(mine, [], out)
            if unit.endswith(".service"):
                scores[unit] = pk.security_score(path)
                self.assertLessEqual(scores[unit], 2.0, (unit, scores[unit]))
                self.assertEqual(pk.unit_lines(path, "User"), ["hamustro"])
                self.assertEqual(pk.unit_lines(path, "CapabilityBoundingSet"), [""])
        sys.stderr.write("systemd-analyze security: %s\n" % json.dumps(scores))

    def generated_units(self, out):
        """The units hamustro.target wants after the generator ran into out."""
        os.makedirs(out)
        pk.run([GENERATOR, out, out, out])
        return sorted(os.listdir(os.path.join(out, "hamustro.target.wants")))

    def check_pipeline_as_units_run_it(self):
        port = h.free_port()
        conf = pk.package_config(port)
        with open("/etc/hamustro/hamustro.json", "w") as f:  # the operator's edit
            json.dump(conf, f, indent=2)
        units = self.generated_units(os.path.join(self.tmp, "gen"))
        self.assertEqual(units, ["hamustro-file-sink@archive:1.service",
                                 "hamustro-ingest.service", "hamustro-router.service"])
        # A port below 1024 gets the bind capability, nothing else does.
        dropin = os.path.join("hamustro-ingest.service.d", "50-bind-port.conf")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "gen", dropin)))
        self.check_generator_special_cases(conf)
        with open("/etc/hamustro/hamustro.json", "w") as f:
            json.dump(conf, f, indent=2)

        # Start order as systemd's (sinks Before=router, ingest After=router).
        order = sorted(units, key=lambda u: 0 if "sink@" in u else 1 if "router" in u else 2)
        as_user = ["setpriv", "--reuid=hamustro", "--regid=hamustro", "--init-groups",
                   "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"]
        os.makedirs("/run/hamustro", exist_ok=True)  # the units' RuntimeDirectory=
        shutil.chown("/run/hamustro", "hamustro", "hamustro")
        procs = []
        try:
            for unit in order:
                for argv in pk.exec_argv(UNIT_DIR, unit, "ExecStartPre"):
                    pk.run(as_user + argv, cwd="/var/lib/hamustro")
                for argv in pk.exec_argv(UNIT_DIR, unit):
                    with open(os.path.join(self.tmp, unit + ".log"), "wb") as log:
                        procs.append((unit, subprocess.Popen(
                            as_user + argv, cwd="/var/lib/hamustro", stdout=log, stderr=log)))
            self.assertTrue(h.wait_for(lambda: self.healthy(port), timeout=30), self.logs())
            # Until the sink has joined, the router keeps a stop's batch in
            # its log for the next start (durable, but not in the files).
            router_log = os.path.join(self.tmp, "hamustro-router.service.log")
            self.assertTrue(h.wait_for(lambda: "joined" in self.read(router_log), timeout=60),
                            self.logs())
            for unit, p in procs:
                self.assertEqual(pk.run(["ps", "-o", "user=", "-p", str(p.pid)]).strip(),
                                 "hamustro", unit)
            pairs = pk.send(port, os.path.join(self.tmp, "record"))
        finally:
            # Stop order: the reverse (ingest, router, sinks), each waited for.
            for unit, p in reversed(procs):
                p.send_signal(signal.SIGTERM)
                try:
                    rc = p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = p.wait()
                self.assertEqual(rc, 0, "%s exit %s\n%s" % (unit, rc, self.logs()))
        # The router sealed the open batch on SIGTERM and the sink stored it.
        got = pk.event_keys("/var/lib/hamustro/events")
        self.assertEqual(sorted(got), sorted(pairs), self.logs())
        self.check_owned_by_hamustro()
        self.port = port
        return pairs

    def check_owned_by_hamustro(self):
        for root, dirs, files in os.walk("/var/lib/hamustro"):
            for n in dirs + files:
                self.assertEqual(pwd.getpwuid(os.lstat(os.path.join(root, n)).st_uid).pw_name,
                                 "hamustro", os.path.join(root, n))

    def check_generator_special_cases(self, conf):
        # Port 80: the ingest gets CAP_NET_BIND_SERVICE by a drop-in.
        low = json.loads(json.dumps(conf))
        low["ingest"]["port"] = 80
        with open("/etc/hamustro/hamustro.json", "w") as f:
            json.dump(low, f)
        out = os.path.join(self.tmp, "gen-80")
        self.generated_units(out)
        with open(os.path.join(out, "hamustro-ingest.service.d", "50-bind-port.conf")) as f:
            text = f.read()
        self.assertIn("AmbientCapabilities=CAP_NET_BIND_SERVICE", text)
        # The unit with its drop-in (appended: later lines win, as a
        # drop-in's do) still scores OK.
        merged = os.path.join(out, "merged", "hamustro-ingest.service")
        os.makedirs(os.path.dirname(merged))
        with open(os.path.join(UNIT_DIR, "hamustro-ingest.service")) as f:
            unit = f.read()
        with open(merged, "w") as f:
            f.write(unit + "\n" + text)
        score = pk.security_score(merged)
        sys.stderr.write("hamustro-ingest.service with a port below 1024: %s\n" % score)
        self.assertLessEqual(score, 2.0)
        # A host's role (README "Scaling out"): an edge wants the router
        # and the ingest, a sink host only the sinks, and a sink host's
        # config needs no router secret (nor TLS files).
        for role, want in (("edge", ["hamustro-ingest.service", "hamustro-router.service"]),
                           ("sinks", ["hamustro-file-sink@archive:1.service"])):
            part = json.loads(json.dumps(conf))
            part["role"] = role
            if role == "sinks":
                part["ingest"]["tls_cert"] = "/nonexistent/lb.crt"
                part["ingest"]["tls_key"] = "/nonexistent/lb.key"
            with open("/etc/hamustro/hamustro.json", "w") as f:
                json.dump(part, f)
            self.assertEqual(self.generated_units(os.path.join(self.tmp, "gen-" + role)), want)
        # Invalid: the generator says why and wants the router alone, whose
        # ExecStartPre (check-config) fails with the problem.
        bad = json.loads(json.dumps(conf))
        bad["routes"]["archive"]["sink"] = "s3"
        with open("/etc/hamustro/hamustro.json", "w") as f:
            json.dump(bad, f)
        out = os.path.join(self.tmp, "gen-bad")
        os.makedirs(out)
        p = subprocess.run([GENERATOR, out, out, out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"hamustro.json: routes.archive.file: this route's sink is", p.stderr)
        self.assertEqual(os.listdir(os.path.join(out, "hamustro.target.wants")),
                         ["hamustro-router.service"])
        (pre,) = pk.exec_argv(UNIT_DIR, "hamustro-router.service", "ExecStartPre")
        p = subprocess.run(pre, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"/etc/hamustro/hamustro.json: routes.archive.file: this route's sink is", p.stdout)

    def healthy(self, port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            c.request("GET", "/api/health")
            return c.getresponse().status == 200
        except OSError:
            return False
        finally:
            c.close()

    def logs(self):
        text = ""
        for path in sorted(os.listdir(self.tmp)):
            if path.endswith(".log"):
                with open(os.path.join(self.tmp, path), errors="replace") as f:
                    text += "--- %s\n%s" % (path, f.read()[-3000:])
        return text

    def check_logrotate(self):
        os.makedirs("/var/log/hamustro", exist_ok=True)
        for name in ("supervisord.log", "router.log"):
            with open(os.path.join("/var/log/hamustro", name), "w") as f:
                f.write("a line\n")
        state = os.path.join(self.tmp, "logrotate.state")
        out = pk.run(["logrotate", "-d", "-s", state, "/etc/logrotate.d/hamustro"])
        self.assertIn("/var/log/hamustro/*.log", out)
        self.assertNotIn("error", out.lower(), out)

    def check_supervisord(self, before):
        """The supervisord alternative: hamustro-supervisord (as root) runs
        the programs the config names as hamustro, logs in /var/log/hamustro,
        which logrotate rotates (supervisord reopens them); SIGTERM stops
        every program with the open batch written."""
        with open(os.path.join(self.tmp, "supervisord.out"), "wb") as out:
            sup = subprocess.Popen(["/usr/sbin/hamustro-supervisord"], stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            self.assertTrue(h.wait_for(lambda: self.healthy(self.port), timeout=60),
                            self.supervisord_logs())
            self.assertTrue(h.wait_for(lambda: "joined" in self.read(
                "/var/log/hamustro/router.log"), timeout=60), self.supervisord_logs())
            status = ""

            def all_running():
                nonlocal status
                status = pk.run(["supervisorctl", "-c",
                                 "/usr/share/hamustro/supervisord.production.conf", "status"],
                                check=False)
                lines = status.splitlines()
                return lines and all("RUNNING" in line for line in lines)
            self.assertTrue(h.wait_for(all_running, timeout=60), status)
            # Operators read CRIT as broken: supervisord starts without one
            # (the control socket has a password, made at each start).
            crit = [line for line in self.read("/var/log/hamustro/supervisord.log").splitlines()
                    if " CRIT " in line]
            self.assertEqual(crit, [], self.supervisord_logs())
            self.check_supervisorctl_password()
            names = sorted(line.split()[0] for line in status.splitlines())
            self.assertEqual(names, ["ingest", "router", "sink-archive:sink-archive-1"], status)
            for line in status.splitlines():
                self.assertIn("RUNNING", line, status)
                pid = line.split("pid ")[1].split(",")[0]
                self.assertEqual(pk.run(["ps", "-o", "user=", "-p", pid]).strip(), "hamustro")
            pairs = pk.send(self.port, os.path.join(self.tmp, "record2"))
            # logrotate for real: supervisord reopens its log and the programs'.
            pk.run(["logrotate", "-f", "-s", os.path.join(self.tmp, "logrotate.state"),
                    "/etc/logrotate.d/hamustro"])
            # supervisord says so in the old file, then opens the path again.
            self.assertTrue(h.wait_for(lambda: "logreopen" in self.read(
                "/var/log/hamustro/supervisord.log.1") and os.path.exists(
                "/var/log/hamustro/supervisord.log"), timeout=30), self.supervisord_logs())
        finally:
            sup.send_signal(signal.SIGTERM)
            try:
                rc = sup.wait(timeout=120)
            except subprocess.TimeoutExpired:
                sup.kill()
                rc = sup.wait()
        self.assertEqual(rc, 0, self.supervisord_logs())
        got = pk.event_keys("/var/lib/hamustro/events")
        self.assertEqual(sorted(got), sorted(before + pairs), self.supervisord_logs())
        self.check_owned_by_hamustro()
        for name in ("router.log", "ingest.log", "sink-archive-1.log"):
            self.assertTrue(os.path.exists("/var/log/hamustro/" + name), name)

    def check_supervisorctl_password(self):
        """The password supervisorctl and the socket share is in no shipped
        file, only in the conf the wrapper writes at start, root's alone."""
        conf = "/usr/share/hamustro/supervisord.production.conf"
        effective = os.path.realpath(conf)
        self.assertTrue(effective.startswith("/run/hamustro-supervisord/"), effective)
        st = os.stat(effective)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600), effective)
        passwords = {line.split("=", 1)[1].strip() for line in self.read(effective).splitlines()
                     if line.startswith("password=")}
        self.assertEqual(len(passwords), 1, "[unix_http_server] and [supervisorctl] share one")
        password = passwords.pop()
        self.assertGreaterEqual(len(password), 32)
        for path in pk.run(["dpkg-query", "-L", "hamustro"]).split():
            if os.path.isfile(path) and not os.path.islink(path):
                self.assertNotIn(password, self.read(path), path)
        # Not root: the conf is unreadable, so no status.
        p = subprocess.run(["setpriv", "--reuid=hamustro", "--regid=hamustro", "--init-groups",
                            "supervisorctl", "-c", conf, "status"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(p.returncode, 0, p.stdout.decode())
        self.assertNotIn("RUNNING", p.stdout.decode())

    def read(self, path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def supervisord_logs(self):
        text = self.read(os.path.join(self.tmp, "supervisord.out"))
        for path in sorted(os.listdir("/var/log/hamustro")):
            text += "--- %s\n%s" % (path, self.read(os.path.join("/var/log/hamustro", path))[-2000:])
        return text

    def test_3_make_install_layout(self):
        root = os.path.join(self.tmp, "root")
        pk.run(["make", "-C", pk.SRC, "--no-print-directory", "install", "PREFIX=/usr",
                "DESTDIR=" + root, "BUILD=" + os.path.join(pk.BUILD, "package-test"), "JOBS=2"])
        files = set()
        for d, _, names in os.walk(root):
            files.update(os.path.relpath(os.path.join(d, n), root) for n in names)
        want = {"etc/hamustro/hamustro.json", "etc/logrotate.d/hamustro",
                "usr/lib/systemd/system-generators/hamustro-generator",
                "usr/lib/tmpfiles.d/hamustro.conf", "usr/sbin/hamustro-supervisord",
                "usr/share/hamustro/supervisord.production.conf",
                "usr/share/hamustro/supervisord.production.base.conf",
                "usr/share/hamustro/prometheus/prometheus.yml",
                "usr/share/hamustro/prometheus/alerts.yml",
                "usr/share/hamustro/prometheus/alerts_test.yml",
                "usr/share/man/man8/hamustro-supervisord.8",
                "usr/share/doc/hamustro/README.md", "usr/share/doc/hamustro/CONFIGURATION.md",
                "usr/share/doc/hamustro/ARCHITECTURE.md"}
        want |= {"usr/bin/" + p for p in PROGRAMS}
        want |= {"usr/share/man/man1/%s.1" % p for p in PROGRAMS}
        want |= {"usr/lib/systemd/system/" + u for u in UNITS}
        self.assertEqual(sorted(files), sorted(want))
        # The units name the installed paths.
        self.assertEqual(pk.unit_lines(os.path.join(root, "usr/lib/systemd/system",
                                                    "hamustro-file-sink@.service"), "ExecStart"),
                         ["/usr/bin/hamustro-file-sink --config /etc/hamustro/hamustro.json "
                          "--route %i"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
