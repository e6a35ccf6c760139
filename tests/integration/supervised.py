"""One host's programs under Debian's supervisord, started the way an
operator starts them (tests/integration/test_hosts.py): its [program:]
sections come from `hamustro-ctl supervisord-conf [--role ROLE] CONFIG...`,
supervisord runs in the host's network namespace, and every stop, start
and kill goes through supervisorctl or the pids it reports.

A Host's directory holds supervisord.conf (socket, log, pid file, and an
[include] of programs.conf), programs.conf as generated, supervisord's own
log (supervisord.log: "stopped: NAME (exit status N)" is how a stop's exit
status is read) and one log file per process (--logdir), scanned for
sanitizer reports at close."""

import glob
import os
import pwd
import re
import signal
import subprocess
import time

import harness as h

# supervisord logs CRIT for a socket without credentials; the file mode
# (0700, root's) is the access control.
CONF = """[supervisord]
nodaemon=true
user={user}
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
loglevel=info

[unix_http_server]
file={dir}/supervisor.sock
chmod=0700
username=hamustro
password=hamustro

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{dir}/supervisor.sock
username=hamustro
password=hamustro

[include]
files={dir}/programs.conf
"""


def generate(configs, role=None, logdir=None, directory=None):
    """What `hamustro-ctl supervisord-conf` prints for configs (a list of
    paths), with --role role when given."""
    argv = [os.path.join(h.BIN, "hamustro-ctl"), "supervisord-conf", "--bin", h.BIN]
    if role:
        argv += ["--role", role]
    if logdir:
        argv += ["--logdir", logdir]
    if directory:
        argv += ["--directory", directory]
    r = subprocess.run(argv + list(configs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(argv + list(configs)), r.returncode,
                                                   r.stderr.decode(errors="replace")))
    return r.stdout.decode()


class Host:
    def __init__(self, dir, prefix, configs, role=None):
        """dir: this host's directory (made here); prefix: argv that runs a
        program in the host's namespace; configs and role: what
        supervisord-conf gets. Starts supervisord."""
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.conf = os.path.join(dir, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=dir, user=pwd.getpwuid(os.getuid()).pw_name))
        self.programs = generate(configs, role=role, logdir=dir, directory=dir)
        with open(os.path.join(dir, "programs.conf"), "w") as f:
            f.write(self.programs)
        env = {k: v for k, v in os.environ.items()
               if k not in ("HAMUSTRO_CONFIG", "HAMUSTRO_PORT", "HAMUSTRO_HOST")}
        self.out = open(os.path.join(dir, "supervisord.out"), "ab")
        self.terminated = False
        self.proc = subprocess.Popen(list(prefix) + ["supervisord", "-n", "-c", self.conf],
                                     stdout=self.out, stderr=subprocess.STDOUT, env=env)

    def names(self):
        """Every process name of programs.conf as supervisorctl knows it
        (GROUP:NAME for a sink's numbered processes)."""
        return sorted(self.pids(running_only=False))

    def ctl(self, *args, timeout=90):
        r = subprocess.run(["supervisorctl", "-c", self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace")

    def pids(self, running_only=True):
        """{name: pid} of the processes supervisord says are RUNNING
        (running_only=False: every process, pid 0 when not running)."""
        out = {}
        for line in self.ctl("status")[1].splitlines():
            parts = line.split()
            if len(parts) >= 2 and (parts[1] == "RUNNING" or not running_only):
                pid = int(parts[3].rstrip(",")) if parts[1] == "RUNNING" else 0
                out[parts[0]] = pid
        return out

    def wait_running(self, names=None, changed_from=None, timeout=60):
        """Waits until every name (default: all) is RUNNING, with a pid
        other than its pid in changed_from when given; returns the pids."""
        deadline = time.time() + timeout
        while True:
            now = self.pids()
            want = names or self.names()
            if want and all(n in now and (not changed_from or now[n] != changed_from.get(n))
                            for n in want):
                return now
            if time.time() > deadline:
                raise AssertionError("%s: not all of %s RUNNING%s: %s" % (
                    self.dir, want, " with new pids" if changed_from else "",
                    self.ctl("status")[1]))
            time.sleep(0.1)

    def log(self):
        try:
            return h.read_bytes(os.path.join(self.dir, "supervisord.log")).decode(
                errors="replace")
        except OSError:
            return ""

    def stop(self, name):
        """`supervisorctl stop name` (SIGTERM, as the generated section
        says); returns the process's exit status as supervisord logged it
        (None: it was terminated by a signal)."""
        process = name.split(":")[-1]
        before = len(re.findall(r"stopped: %s \(" % re.escape(process), self.log()))
        rc, out = self.ctl("stop", name)
        if rc != 0 or "stopped" not in out:
            raise AssertionError("supervisorctl stop %s: exit %d: %s" % (name, rc, out))
        stops = re.findall(r"stopped: %s \(([^)]*)\)" % re.escape(process), self.log())
        if len(stops) <= before:
            raise AssertionError("no stop of %s in %s/supervisord.log" % (process, self.dir))
        m = re.match(r"exit status (\d+)$", stops[-1])
        return int(m.group(1)) if m else None

    def start(self, name):
        rc, out = self.ctl("start", name)
        if rc != 0 or "started" not in out:
            raise AssertionError("supervisorctl start %s: exit %d: %s" % (name, rc, out))

    def terminate(self):
        """SIGTERM to supervisord, which stops every program in reverse
        start order (close waits for it: terminate every host first, so
        they stop together, as the programs of a Pipeline do)."""
        # Once: a second SIGTERM can reach supervisord after it has let go
        # of its handlers on the way out, and kill it.
        if not self.terminated and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.terminated = True

    def close(self, check=True):
        """terminate, and wait. Fails (check) when supervisord did not exit
        0, had to SIGKILL a program that ignored SIGTERM, logged CRIT, or a
        program's log has a sanitizer report."""
        problems = []
        self.terminate()
        try:
            rc = self.proc.wait(h.STOP_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            problems.append("supervisord did not exit after SIGTERM")
        self.out.close()
        if rc != 0:
            problems.append("supervisord exited %s: %s" % (rc, h.read_bytes(os.path.join(
                self.dir, "supervisord.out")).decode(errors="replace")[-2000:]))
        log = self.log()
        problems += [line for line in log.splitlines() if "with SIGKILL" in line or "CRIT" in line]
        problems += h.sanitizer_reports(glob.glob(os.path.join(self.dir, "*.log")))
        if problems and check:
            raise AssertionError("%s at stop:\n%s" % (self.dir, "\n".join(problems)))
