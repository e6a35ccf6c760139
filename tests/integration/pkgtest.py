"""Helpers of the package tests (test_package.py, test_systemd_boot.py):
build the Debian package with `make deb`, read the installed units' command
lines, and count what the file sink wrote. Standard library only."""

import glob
import gzip
import json
import os
import re
import subprocess

import harness as h

SRC = os.path.abspath(h.SRC)
BUILD = os.path.abspath(os.path.join(h.BIN, ".."))


def run(cmd, check=True, timeout=900, **kw):
    """Runs cmd; its output (stdout and stderr) as text. Raises with the
    output when check and it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       **kw)
    out = p.stdout.decode(errors="replace")
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, out))
    return out


def make_deb(outdir):
    """`make deb` into outdir; the .deb's path."""
    out = run(["make", "-C", SRC, "--no-print-directory", "deb", "BUILD=" + outdir, "JOBS=2"])
    debs = glob.glob(os.path.join(outdir, "deb", "hamustro_*.deb"))
    assert len(debs) == 1, out
    return debs[0]


def deb_depends(deb):
    """The package names of the .deb's Depends (first of each alternative)."""
    field = run(["dpkg-deb", "-f", deb, "Depends"]).strip()
    return [re.split(r"[ (]", alt.split("|")[0].strip())[0] for alt in field.split(",")]


def unit_lines(path, key):
    """The values of key= in a unit file, in order."""
    vals = []
    with open(path) as f:
        for line in f:
            if line.startswith(key + "="):
                vals.append(line[len(key) + 1:].strip())
    return vals


def exec_argv(unit_dir, unit, key="ExecStart"):
    """The argv lists of a unit's key (ExecStart, ExecStartPre) as systemd
    would run them for this unit name: the template's file, %i expanded."""
    m = re.match(r"^(.*)@(.*)\.service$", unit)
    path = os.path.join(unit_dir, "%s@.service" % m.group(1) if m else unit)
    argvs = []
    for line in unit_lines(path, key):
        argv = line.lstrip("-+!@:").split()
        if m:
            argv = [a.replace("%i", m.group(2)) for a in argv]
        assert not any("%" in a or "$" in a for a in argv), (unit, argv)
        argvs.append(argv)
    return argvs


def security_score(unit_path, root=None):
    """systemd-analyze security --offline's exposure for a unit file (a
    template's instance name is given as unit_path's basename)."""
    cmd = ["systemd-analyze", "security", "--offline=true", "--no-pager"]
    if root:
        cmd.append("--root=" + root)
    out = run(cmd + [unit_path], check=False)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert m, out
    return float(m.group(1))


def event_keys(events_dir):
    """(session, nr) of every JSON line the file sink wrote under events_dir."""
    keys = []
    for path in glob.glob(os.path.join(events_dir, "**", "*"), recursive=True):
        if os.path.isdir(path) or os.path.basename(path).startswith("."):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.splitlines():
            ev = json.loads(line)
            keys.append((ev["session"], int(ev["nr"])))
    return keys


def send(port, record, count=50):
    """hamustro-send (from the build) to 127.0.0.1:port; the (session, nr)
    pairs answered 200."""
    if os.path.exists(record):  # hamustro-send appends
        os.unlink(record)
    out = run([os.path.join(h.BIN, "hamustro-send"), "--url",
               "http://127.0.0.1:%d/api/v1/track" % port, "--secret", h.SECRET, "--count",
               str(count), "--payloads", "1-10", "--retry", "20", "--record", record, "--quiet"],
              timeout=300)
    pairs = h.read_record(record)
    assert pairs, out
    return pairs


def package_config(port, data_dir="/var/lib/hamustro"):
    """The packaged /etc/hamustro/hamustro.json with the listener moved to
    port, as an operator edits it (other tests on this machine use 8080)."""
    with open(os.path.join(SRC, "deploy", "hamustro.json")) as f:
        conf = json.load(f)
    conf["ingest"]["port"] = port
    return conf
