#!/usr/bin/env python3
"""A short run of the pipeline under valgrind (issue 4): hamustro-router,
hamustro-file-sink and hamustro-ingest each under memcheck, a few hundred
signed requests through them, then SIGTERM to each. Fails when valgrind
reports an invalid access, a use of uninitialised memory or a definite
leak in any of them (its --error-exitcode), when a program does not exit 0,
or when an event answered 200 did not reach the files.

    python3 tests/valgrind/run.py [--requests N]

HAMUSTRO_BIN and HAMUSTRO_SRC as for the integration tests. Kept short:
valgrind slows the programs 20-50 times; CI's whole budget is 90 minutes."""

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402

ERROR_EXIT = 97
VALGRIND = ["valgrind", "--tool=memcheck", "--error-exitcode=%d" % ERROR_EXIT,
            "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--track-origins=no", "--num-callers=30",
            "--child-silent-after-fork=yes"]


def start(p, prog, *args):
    log = os.path.join(p.dir, "%s.valgrind" % prog)
    out = open(os.path.join(p.dir, "%s.log" % prog), "ab")
    cmd = VALGRIND + ["--log-file=%s" % log, os.path.join(h.BIN, "hamustro-" + prog),
                      "--config", p.config_path] + list(args)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HAMUSTRO_CONFIG", "HAMUSTRO_PORT", "HAMUSTRO_HOST")}
    p.procs[prog] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=p.dir,
                                     env=env)
    p.logs[prog] = out
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=500)
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    # Generous timeouts: every program runs many times slower than usual.
    p = h.Pipeline(ingest={"router_timeout_ms": 20000},
                   router={"heartbeat_ms": 1000, "sink_timeout_ms": 20000})
    failed = []
    try:
        logs = {"router": start(p, "router")}
        logs["file-sink"] = start(p, "file-sink", "--route", "archive")
        logs["ingest"] = start(p, "ingest")
        p.wait_healthy(120)
        record = os.path.join(p.dir, "acked.tsv")
        t0 = time.time()
        # A 503 (the ingest's router link still settling) is resent, as a
        # client does: every request must end in a 200.
        rc, out = h.send_tool(p, "--count", str(args.requests), "--concurrency", "4",
                              "--payloads", "1-10", "--record", record, "--quiet",
                              "--retry", "20", "--timeout", "60", "--json-summary",
                              timeout=600)
        if rc != 0:
            failed.append("hamustro-send exited %d: %s" % (rc, out[-500:]))
        summary = h.send_summary(out)
        acked = h.read_record(record)
        print("%d requests, %d answered 200, %d events answered 200 in %.1fs" % (
            args.requests, summary.get("ok", 0), len(acked), time.time() - t0))
        # hamustro-send exits 0 whatever the answers, and a missing record
        # reads as empty: without these, a pipeline that answered nothing
        # but 503 would pass.
        if summary.get("ok") != args.requests:
            failed.append("%s of %d requests answered 200: %s" % (
                summary.get("ok"), args.requests, out[-500:]))
        if not acked or len(acked) != summary.get("events_accepted"):
            failed.append("%d events recorded as answered 200, the summary says %s" % (
                len(acked), summary.get("events_accepted")))
        # The ingest's flush reaches the router's control socket too.
        try:
            p.wait_events(len(acked), timeout=120)
        except AssertionError as e:
            failed.append(str(e))
        # Stop in the order supervisord uses: ingest, router, sinks.
        for prog in ("ingest", "router", "file-sink"):
            rc = p.stop(prog, signal.SIGTERM, timeout=120)
            text = h.read_bytes(logs[prog]).decode(errors="replace")
            summary = [line for line in text.splitlines()
                       if "ERROR SUMMARY" in line or "definitely lost" in line]
            print("%-10s exit %s  %s" % (prog, rc, " | ".join(s.split("== ", 1)[-1]
                                                           for s in summary)))
            if rc == ERROR_EXIT:
                failed.append("%s: valgrind reported errors:\n%s" % (prog, text[-6000:]))
            elif rc != 0:
                failed.append("%s exited %s:\n%s" % (prog, rc, p.log_text(prog)[-2000:]))
        landed = collections.Counter((e["session"], e["nr"]) for e in p.read_events())
        missing = [k for k in acked if k not in landed]
        if missing:
            failed.append("%d events answered 200 are missing" % len(missing))
        if any(n > 1 for n in landed.values()):
            failed.append("events written twice")
    finally:
        p.close(keep=bool(failed))
    for f in failed:
        print("FAIL: " + f, file=sys.stderr)
    if failed:
        print("kept %s" % p.dir, file=sys.stderr)
        return 1
    print("valgrind: no errors, no definite leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
