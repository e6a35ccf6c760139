#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target
# (built with -DHAMUSTRO_FUZZ=ON) for SECONDS, under ASan + UBSan, and exits
# non-zero when any of them found a crash, a leak, a timeout or ran out of
# memory (or did not run).
#
# Each target works in BUILD_DIR/fuzz/TARGET/: its corpus there starts as a
# copy of the committed one (tests/fuzz/corpus/TARGET/) plus what earlier
# local runs found, and new inputs go there only; the committed corpora are
# never written (CI checks that), so nothing found lands in the repo by
# itself. A failure prints the sanitizer's report and each input that
# caused it, in hex and base64, so it can be taken from CI's log:
#   base64 -d > tests/fuzz/corpus/TARGET/NAME   (paste the base64 lines)
# then fixed; `make test` replays it from then on.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET..." >&2; exit 2; }
build=$(cd "$1" && pwd); seconds=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0
for t in "$@"; do
    work=$build/fuzz/$t
    rm -rf "$work/crashes"
    mkdir -p "$work/corpus" "$work/crashes"
    cp -n "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
    echo "== fuzz_$t for ${seconds}s (corpus $work/corpus)"
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/crashes/" \
        "$work/corpus" >"$work/log.txt" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$work/log.txt" |
            sed "s/^/  /"
        continue
    fi
    status=1
    echo "  FAILED: fuzz_$t (whole log: $work/log.txt)"
    # The sanitizer's (or libFuzzer's) report: from its first line on.
    echo "  -- report"
    awk '/^==[0-9]+==|runtime error:|^fuzz_|deadly signal|^INFO: a leak/ { on = 1 } on' \
        "$work/log.txt" | head -n 120 | sed "s/^/  | /"
    found=0
    for f in "$work/crashes"/*; do
        [ -f "$f" ] || continue
        found=1
        echo "  -- input $(basename "$f") ($(stat -c %s "$f") bytes), hex:"
        od -An -tx1 -v "$f" | head -n 256 | sed "s/^/  |/"
        echo "  -- the same, base64 (base64 -d > tests/fuzz/corpus/$t/NAME):"
        base64 "$f" | sed "s/^/  /"
    done
    [ $found = 1 ] || { echo "  (no input saved; the log's last lines:)"; tail -n 20 "$work/log.txt" | sed "s/^/  | /"; }
done
exit $status
