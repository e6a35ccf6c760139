#!/usr/bin/env bash
# Stops emulators started by start.sh: by name and port, or all of them.
# Only the process groups recorded in the pid files are signalled.
#
#   stop.sh NAME PORT     stop one
#   stop.sh all           stop every emulator started from $HM_EMULATOR_DIR
#   stop.sh all --wipe    and delete their data folders too
set -uo pipefail
run="${HM_EMULATOR_DIR:-${TMPDIR:-/tmp}/hamustro-emulators}"

stop_one() {
    local pidfile="$1" pid
    pid="$(cat "$pidfile" 2> /dev/null || true)"
    rm -f "$pidfile"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -TERM -- -"$pid" 2> /dev/null || kill -TERM "$pid" 2> /dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2> /dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- -"$pid" 2> /dev/null || kill -KILL "$pid" 2> /dev/null || true
}

case "${1:-}" in
all)
    for f in "$run"/*.pid; do
        [ -e "$f" ] && stop_one "$f"
    done
    if [ "${2:-}" = "--wipe" ]; then
        rm -rf "$run"
    fi
    ;;
"")
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
*)
    [ $# -eq 2 ] || { echo "usage: stop.sh NAME PORT | all [--wipe]" >&2; exit 2; }
    stop_one "$run/$1-$2.pid"
    ;;
esac
exit 0
