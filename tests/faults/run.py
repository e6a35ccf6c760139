#!/usr/bin/env python3
"""Hamustro's fault-injection suite (issue 4): runs every scenario of
scenarios.py against every target of targets.py, prints the table and
writes it to tests/faults/RESULTS.md. Exit status 1 when any event answered
200 is missing, when a target that must hold one copy holds two, or when a
scenario's own checks failed.

    python3 tests/faults/run.py                 every scenario, every target
    python3 tests/faults/run.py kill9 torn      scenarios whose key starts so
    python3 tests/faults/run.py --target s3     only these targets (repeat, or s3,blob)
    python3 tests/faults/run.py --list

Environment: HAMUSTRO_BIN (programs; default build/bin), HAMUSTRO_SRC,
HM_FAULTS_RESULTS (where to write the table; default tests/faults/RESULTS.md,
written only when every scenario ran on every target unless --results is
given)."""

import argparse
import datetime
import os
import platform
import shutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["HM_KEEP"] = "1"  # the runner decides what to remove (harness.Pipeline.close)

import cluster as cl  # noqa: E402
import scenarios as sc  # noqa: E402
import targets as tg  # noqa: E402

COLUMNS = ["scenario", "target", "answered 200", "delivered", "missing", "duplicates",
           "resent by clients", "catch-up s", "result"]


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %s %s, %d CPUs (%s)" % (platform.node(), platform.system(), platform.release(),
                                       os.cpu_count() or 0, cpu)


def title_of(s, target=None):
    return s["title"].format(outage_s=target.outage_s if target else "N")


def applies(s, target):
    """Whether scenario s is run against target at all (targets.py:
    scenarios); N/A rows are for those run but not applicable."""
    return target.scenarios is None or s["key"] in target.scenarios


def run_one(s, target, keep):
    """Runs scenario s on target; returns (table rows, notes, failed)."""
    title = title_of(s, target)
    if s["needs"] and getattr(target, s["needs"], None) is None:
        return ([[title, target.name, "N/A", "", "", "", "", "", "N/A"]],
                ["%s / %s: not applicable to this target" % (title, target.name)], False)
    before = len(cl.DIRS)
    t0 = time.time()
    try:
        res = s["fn"](target)
    except Exception:  # noqa: BLE001 - a scenario's crash is its failure, reported
        msg = traceback.format_exc()
        dirs = cl.DIRS[before:]
        print(msg, file=sys.stderr)
        for d in dirs:
            print("  kept for inspection: %s" % d, file=sys.stderr)
        return ([[title, target.name, "", "", "", "", "", "", "FAIL"]],
                ["%s / %s: crashed: %s" % (title, target.name, msg.strip().splitlines()[-1])],
                True)
    failed = bool(res["problems"])
    rows = []
    for r in res["rows"]:
        bad = r["missing"] > 0 or (r["duplicates"] > 0 and not r["dups_allowed"])
        failed |= bad
        name = title if len(res["rows"]) == 1 else "%s [route %s]" % (title, r["route"])
        rows.append([name, r["target"], str(r["acked"]), str(r["delivered"]), str(r["missing"]),
                     str(r["duplicates"]) + ("" if not r["dups_allowed"] else " (allowed)"),
                     str(r["resent"]),
                     "%.1f" % r["catchup"] if r["catchup"] is not None else "never",
                     "FAIL" if bad or res["problems"] else "ok"])
        if r["missing"]:
            res["problems"].append("route %s: %d events answered 200 missing, e.g. %s"
                                   % (r["route"], r["missing"], r["missing_sample"]))
    notes = ["%s / %s (%.0fs): %s" % (title, target.name, time.time() - t0,
                                      "; ".join(res["notes"]) or "-")]
    notes += ["%s / %s: PROBLEM: %s" % (title, target.name, p) for p in res["problems"]]
    if failed or keep:
        notes.append("%s / %s: kept %s" % (title, target.name, res["dir"]))
    else:
        shutil.rmtree(res["dir"], ignore_errors=True)
    return rows, notes, failed


def table(rows):
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", help="scenario keys or prefixes (default: all)")
    ap.add_argument("--target", action="append", default=[],
                    help="run against these targets only (%s); repeat or comma-separate"
                    % ", ".join(t.name for t in tg.TARGETS))
    ap.add_argument("--list", action="store_true", help="list scenarios and targets")
    ap.add_argument("--keep", action="store_true", help="keep every scenario's directory")
    ap.add_argument("--results", help="write the table here (default: RESULTS.md when all ran)")
    args = ap.parse_args()
    chosen = [s for s in sc.SCENARIOS
              if not args.scenarios or any(s["key"].startswith(p) for p in args.scenarios)]
    names = [n for arg in args.target for n in arg.split(",") if n]
    unknown = [n for n in names if n not in [t.name for t in tg.TARGETS]]
    if unknown:
        print("no target %s (targets: %s)" % (", ".join(unknown),
                                            ", ".join(t.name for t in tg.TARGETS)),
              file=sys.stderr)
        return 2
    targets = [t for t in tg.TARGETS if not names or t.name in names]
    if args.list:
        for s in sc.SCENARIOS:
            print("%-19s %-55s %s" % (s["key"], title_of(s), ", ".join(
                t.name for t in tg.TARGETS if applies(s, t))))
        print("targets: %s" % ", ".join(t.name for t in tg.TARGETS))
        return 0
    if not chosen or not any(applies(s, t) for s in chosen for t in targets):
        print("no scenario matches %s on %s" % (args.scenarios or "all",
                                               [t.name for t in targets]), file=sys.stderr)
        return 2
    for tool in ("hamustro-router", "hamustro-ingest", "hamustro-send", "hamustro-ctl"):
        if not os.path.exists(os.path.join(cl.h.BIN, tool)):
            print("missing %s in %s (build first, or set HAMUSTRO_BIN)" % (tool, cl.h.BIN),
                  file=sys.stderr)
            return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.time()
    rows, notes, failed = [], [], False
    # Target by target: the table groups each target's rows, file first.
    for target in targets:
        for s in chosen:
            if not applies(s, target):
                continue
            print("== %s / %s" % (title_of(s, target), target.name), flush=True)
            r, n, f = run_one(s, target, args.keep)
            rows += r
            notes += n
            failed |= f
            print(table(r).splitlines()[-1], flush=True)
            for line in n:
                print("   " + line, flush=True)
    elapsed = time.time() - t0
    text = table(rows)
    print("\n" + text)
    print("\n%s in %.0fs" % ("FAILED" if failed else "all scenarios passed", elapsed))
    path = args.results or os.environ.get("HM_FAULTS_RESULTS")
    if not path and len(chosen) == len(sc.SCENARIOS) and len(targets) == len(tg.TARGETS):
        path = os.path.join(HERE, "RESULTS.md")
    if path:
        with open(path, "w") as f:
            f.write("# Fault-injection suite: latest run\n\n")
            f.write("- date: %s\n" % started.strftime("%Y-%m-%d %H:%M:%S UTC"))
            f.write("- machine: %s\n" % machine())
            f.write("- command: `%s` (programs from %s)\n" % (
                " ".join(["python3", "tests/faults/run.py"] + sys.argv[1:]),
                os.path.relpath(os.path.abspath(cl.h.BIN), os.path.abspath(cl.h.SRC))))
            f.write("- duration: %.0f s; verdict: %s\n\n" % (
                elapsed, "FAILED" if failed else "every scenario passed"))
            f.write(text + "\n\n")
            f.write("Columns: *answered 200* distinct (session, nr) the clients were answered "
                    "200 for; *delivered* distinct events the target holds (more than answered "
                    "200 when a request was stored but its client got 503 or no answer); "
                    "*duplicates* copies beyond one per send of the event's request by its "
                    "client (hamustro-send --record), or records in the log beyond those "
                    "sends (must be 0 for file, S3 and "
                    "Blob; counted and allowed, marked so, for SNS and Queue); "
                    "*resent by clients* events accepted twice because a client resent a "
                    "request answered 503 that the router had already written (allowed: see "
                    "README.md); *catch-up* seconds from the repair (program restarted, target "
                    "back, sink started) until every route committed what the log held then, "
                    "or where there is no repair from the end of the load until the whole log "
                    "was committed.\n\n## Notes\n\n")
            f.writelines("- %s\n" % n for n in notes)
        print("wrote %s" % path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
