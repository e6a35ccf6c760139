#!/usr/bin/env python3
"""bench/soak.py: the pipeline under steady load for minutes, watched.

Starts router, file sink and ingest (tests/integration/harness.Pipeline) with
small log segments, so that segments roll and are deleted many times a
minute, and drives it with hamustro-send at a fixed rate. Every --every
seconds it samples each process: resident memory (VmRSS), open file
descriptors and threads. At the end it checks that every event answered 200
is in the output files (none missing, none twice but for resent requests)
and prints the samples as a table, so growth shows.

Exit status: 0 nothing lost and no process died; 1 otherwise. Memory and
descriptor growth are reported, not judged: read the table.

    python3 bench/soak.py --minutes 10 --rate 2000 --payloads 1-10
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402

PAIR = re.compile(rb'"session":"([0-9a-f]+)","nr":(\d+),')


def sample(pid):
    """(rss KiB, fds, threads) of a live process."""
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid)), threads


def output_pairs(pipeline):
    """Counter of (session, nr) over every event in the route's files."""
    seen = collections.Counter()
    for path, line in pipeline.output_lines():
        m = PAIR.search(line)
        if not m:
            raise SystemExit("soak: an output line without nr/session in %s: %r"
                             % (path, line[:200]))
        seen[(m.group(1).decode(), int(m.group(2)))] += 1
    return seen


def account(p, record):
    """Prints the router's counters and the events' fate; returns failures."""
    status = json.loads(subprocess.run(
        [os.path.join(h.BIN, "hamustro-ctl"), "--config", p.config_path, "status", "--json"],
        stdout=subprocess.PIPE, check=True).stdout)
    print("router: rounds %d, segments deleted %d, log segments now %d, full answers %d"
          % (status["counters"]["rounds"], status["counters"]["segments_deleted"],
             status["log"]["segments"], status["counters"]["full"]))
    sends = {}
    acked = set(h.read_record(record, sends))
    deadline = time.time() + 120
    seen = output_pairs(p)
    while sum(seen.values()) < len(acked) and time.time() < deadline:
        p.flush()
        time.sleep(1)
        seen = output_pairs(p)
    missing = [k for k in acked if k not in seen]
    twice = [k for k, n in seen.items() if n > 1]
    explained = [k for k in twice if sends.get(k, 1) > 1]
    unknown = [k for k in seen if k not in acked]
    print("events: answered 200 %d, in the output %d, missing %d, twice %d (%d after a "
          "resend), not answered 200 but written %d"
          % (len(acked), sum(seen.values()), len(missing), len(twice), len(explained),
             len(unknown)))
    failures = []
    if missing:
        failures.append("%d events answered 200 are not in the output" % len(missing))
    if len(twice) > len(explained):
        failures.append("%d events written twice without a resend"
                        % (len(twice) - len(explained)))
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=2000, help="requests per second")
    ap.add_argument("--payloads", default="1-10")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--segment-bytes", type=int, default=1 << 20)
    ap.add_argument("--every", type=float, default=30, help="seconds between samples")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    routes = {"archive": {"sink": "file", "max_events": 5000, "max_age": 1,
                          "file": {"file_path": "OUT/{date}/", "file_format": "json",
                                   "compress": True}}}
    p = h.Pipeline(routes=routes, router={"segment_bytes": args.segment_bytes,
                                          "max_log_bytes": 256 << 20})
    routes["archive"]["file"]["file_path"] = os.path.join(p.dir, "out", "{date}") + "/"
    p.write_config()
    failures, died = [], []
    try:
        p.start_all()
        record = os.path.join(p.dir, "acked.tsv")
        seconds = int(args.minutes * 60)
        send = subprocess.Popen(
            [os.path.join(h.BIN, "hamustro-send"), "--config", p.config_path,
             "--url", "http://127.0.0.1:%d/api/v1/track" % p.port,
             "--duration", str(seconds), "--rate", str(args.rate),
             "--concurrency", str(args.concurrency), "--payloads", args.payloads,
             "--retry", "10", "--record", record, "--quiet", "--json-summary"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        names = sorted(p.procs)
        rows = []
        start = time.time()
        while True:
            t = time.time() - start
            row = [t]
            for n in names:
                proc = p.procs[n]
                if proc.poll() is not None:
                    died.append("%s exited with %s during the run" % (n, proc.returncode))
                    row.append(None)
                else:
                    row.append(sample(proc.pid))
            rows.append(row)
            if died or send.poll() is not None:
                break
            time.sleep(min(args.every, max(0.5, seconds + 1 - t)))
        failures += died
        if died:
            send.terminate()
        out, err = send.communicate(timeout=120)
        lines = out.decode().strip().splitlines()
        if send.returncode != 0 or not lines:
            failures.append("hamustro-send exited with %s: %s"
                            % (send.returncode, err.decode().strip()[-500:]))
        summary = json.loads(lines[-1]) if lines else {}
        print("soak: %d s at %d req/s (%s payloads, %d connections), segments of %d bytes"
              % (seconds, args.rate, args.payloads, args.concurrency, args.segment_bytes))
        print("send: %s" % json.dumps(summary, sort_keys=True))
        if not died:
            failures += account(p, record)
        print()
        print("| s | " + " | ".join("%s RSS KiB / fds / threads" % n for n in names) + " |")
        print("|---|" + "---|" * len(names))
        for row in rows:
            cells = ["-" if c is None else "%d / %d / %d" % c for c in row[1:]]
            print("| %d | %s |" % (row[0], " | ".join(cells)))
    finally:
        p.close(keep=args.keep)
        if args.keep:
            print("kept: %s" % p.dir)
    for f in failures:
        print("soak: FAILED: %s" % f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
