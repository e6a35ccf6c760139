#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target
# (built with -DHAMUSTRO_FUZZ=ON) for SECONDS, starting from a copy of its
# committed corpus, under ASan + UBSan. New inputs stay in BUILD_DIR/fuzz/;
# a crash stops the run with the input's path (add it to
# tests/fuzz/corpus/TARGET/ once fixed, so `make test` replays it).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET..." >&2; exit 2; }
build=$(cd "$1" && pwd); seconds=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0
for t in "$@"; do
    work=$build/fuzz/$t
    mkdir -p "$work/corpus" "$work/crashes"
    cp -n "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
    echo "== fuzz_$t for ${seconds}s (corpus $work/corpus)"
    if (cd "$work/crashes" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus" >"$work/log.txt" 2>&1); then
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$work/log.txt" |
            sed "s/^/  /"
    else
        status=1
        echo "  FAILED: see $work/log.txt; inputs:" $(ls "$work/crashes")
        grep -E 'ERROR|SUMMARY|fuzz_' "$work/log.txt" | head -5 | sed "s/^/  /"
    fi
done
exit $status
