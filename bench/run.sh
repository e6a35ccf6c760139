#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: throughput and latency of the whole pipeline
# (hamustro-ingest -> hamustro-router -> hamustro-file-sink) under wrk, for
# three loads, each compared with hamustro-null-server (same HTTP library,
# answers 200 and does nothing) as the ceiling. Prints a table and appends it,
# with the machine and the exact commands, to bench/RESULTS.md.
#
# CPU per event: the user + system time (/proc/PID/stat, all threads) each
# process used, sampled just before wrk starts and again once the pipeline
# has gone quiet after it (so the sink's tail of the backlog is counted),
# divided by the events the ingest accepted meanwhile (its /api/stats). For
# the null server: its 2xx requests x the corpus's mean events per request
# (wrk sends the corpus round robin). wrk's own time comes from the
# subshell that runs it (bash's `times`, i.e. its rusage).
#
# Environment:
#   DURATION=20        seconds per wrk run
#   DURABILITY=fsync   router durability: fsync or write
#   PORT=18080         ingest port (the null server uses PORT+1)
#   WRK_THREADS=2
#   WRK_CONNECTIONS="10 100 400"  connection counts; each load runs at each
#   LOADS="1 2 3"      which loads: 1 protobuf 1 event, 2 protobuf 1-25 events,
#                      3 JSON 1 event
#   CORPUS_COUNT=1000  bodies per corpus
#   INGEST_THREADS=1   ingest.threads in the config
#   CPU_LATENCY_US=    router.cpu_latency_us (unset: not in the config). The router
#                      holds it only during pipeline runs; the ceiling runs without it
#   SEND_BIN NULL_BIN ROUTER_BIN INGEST_BIN SINK_BIN  override BUILD_DIR/bin/<name>
#   SINK_ARGS          extra arguments for the file sink (default: "--route archive"
#                      when its --help mentions --route)
#   REPEAT=3           runs of pipeline and ceiling, alternating; medians are reported
#   FLOOR=1            also run the null server with --defer (each answer suspended and
#                      resumed, as the ingest's must be: the cheapest asynchronous
#                      answer) and report the bound on the ratio it implies; 0: skip
#   KEEP=1             keep the temporary directory (configs, logs, corpora)
#   NO_RESULTS=1       do not append to bench/RESULTS.md
#   STEAL_WARN=5       name, after the table, each load whose pipeline or null
#                      server run lost at least this many per cent of the CPU
#                      time to the hypervisor (0: every load)
set -euo pipefail

usage() { echo "usage: bench/run.sh BUILD_DIR   (see the top of the script for env vars)" >&2; }
[ $# -eq 1 ] || { usage; exit 2; }
BUILD=$(cd "$1" && pwd) || { echo "bench/run.sh: no such build dir: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)

DURATION=${DURATION:-20}
DURABILITY=${DURABILITY:-fsync}
PORT=${PORT:-18080}
NULL_PORT=$((PORT + 1))
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-10 100 400}
LOADS_PICKED=${LOADS:-1 2 3}
CORPUS_COUNT=${CORPUS_COUNT:-1000}
INGEST_THREADS=${INGEST_THREADS:-1}
CPU_LATENCY_US=${CPU_LATENCY_US:-}
REPEAT=${REPEAT:-3}
STEAL_WARN=${STEAL_WARN:-5}
FLOOR=${FLOOR:-1}
SEND_BIN=${SEND_BIN:-$BUILD/bin/hamustro-send}
NULL_BIN=${NULL_BIN:-$BUILD/bin/hamustro-null-server}
ROUTER_BIN=${ROUTER_BIN:-$BUILD/bin/hamustro-router}
INGEST_BIN=${INGEST_BIN:-$BUILD/bin/hamustro-ingest}
SINK_BIN=${SINK_BIN:-$BUILD/bin/hamustro-file-sink}

case "$DURABILITY" in fsync|write) ;; *) echo "bench/run.sh: DURABILITY must be fsync or write" >&2; exit 2;; esac
case "$DURATION" in ''|*[!0-9]*) echo "bench/run.sh: DURATION must be whole seconds" >&2; exit 2;; esac
case "$REPEAT" in ''|0|*[!0-9]*) echo "bench/run.sh: REPEAT must be a whole number >= 1" >&2; exit 2;; esac
case "$FLOOR" in 0|1) ;; *) echo "bench/run.sh: FLOOR must be 0 or 1" >&2; exit 2;; esac
case "$STEAL_WARN" in ''|*[!0-9]*) echo "bench/run.sh: STEAL_WARN must be a whole per cent" >&2; exit 2;; esac
for c in $WRK_CONNECTIONS; do
    case "$c" in ''|0|*[!0-9]*) echo "bench/run.sh: WRK_CONNECTIONS must be whole numbers >= 1" >&2; exit 2;; esac
done
for l in $LOADS_PICKED; do
    case "$l" in 1|2|3) ;; *) echo "bench/run.sh: LOADS must list 1, 2 or 3" >&2; exit 2;; esac
done
[ -n "${WRK_CONNECTIONS// /}" ] || { echo "bench/run.sh: WRK_CONNECTIONS is empty" >&2; exit 2; }
[ -n "${LOADS_PICKED// /}" ] || { echo "bench/run.sh: LOADS is empty" >&2; exit 2; }
case "$CPU_LATENCY_US" in *[!0-9]*) echo "bench/run.sh: CPU_LATENCY_US must be whole microseconds" >&2; exit 2;; esac
for tool in wrk curl awk; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool not found" >&2; exit 2; }
done
for bin in "$SEND_BIN" "$NULL_BIN" "$ROUTER_BIN" "$INGEST_BIN" "$SINK_BIN"; do
    [ -x "$bin" ] || { echo "bench/run.sh: missing program $bin (build it first)" >&2; exit 2; }
done
if [ -z "${SINK_ARGS+set}" ]; then
    SINK_ARGS=""
    if timeout 5 "$SINK_BIN" --help 2>&1 | grep -q -- '--route'; then SINK_ARGS="--route archive"; fi
fi

TMP=$(mktemp -d /tmp/hamustro-bench.XXXXXX)
PIDS=()          # every process this script started and has not stopped yet
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

# Peak resident set of a live process, in KiB (VmHWM).
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Every half second, appends a line with the proportional set size (Pss,
# KiB) of each given process to OUT, until one of them is gone. Pss counts a
# page shared by several processes (libc, libcrypto, libzmq...) as a share
# in each, where RSS counts it whole in every one: the two sums differ by
# the shared libraries counted more than once.
sample_pss() {
    local out=$1 line p v
    shift
    while sleep 0.5; do
        line=""
        for p in "$@"; do
            v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || return 0
            [ -n "$v" ] || return 0
            line+="$v "
        done
        echo "$line" >>"$out"
    done
}

# Stops one process we started: SIGTERM, then SIGKILL after 15 s.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 15 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# Waits until URL answers: GET with status 200, or (null server) POST with any status.
wait_http() {
    local url=$1 method=${2:-get} code
    for _ in $(seq 100); do
        if [ "$method" = post ]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '' "$url" || true)
            [ -n "$code" ] && [ "$code" != "000" ] && return 0
        else
            code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
            [ "$code" = 200 ] && return 0
        fi
        sleep 0.1
    done
    return 1
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" ; }

# The machine's CPU time so far, from /proc/stat's "cpu" line, in ticks:
# "total idle stolen", idle counting iowait. Stolen time is what the
# hypervisor gave other guests while this one wanted to run: a run with much
# of it measured a slower machine.
host_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6, $9; exit }' /proc/stat
}

# Runs wrk (CONNS connections) against URL with CORPUS; writes its output to
# OUT, the CPU seconds wrk used (user + system) to OUT.cpu and the share of
# the machine's CPU time that was idle and stolen meanwhile (per cent) to
# OUT.host.
wrk_cmd() { echo "wrk -t$WRK_THREADS -c$1 -d${DURATION}s --latency -s $HERE/wrk_corpus.lua"; }
run_wrk() {
    local corpus=$1 url=$2 out=$3 conns=$4 cmd h0 h1
    cmd=$(wrk_cmd "$conns")
    h0=$(host_ticks)
    # The subshell's `times` second line is its children's CPU: wrk's alone.
    if ! (HAMUSTRO_CORPUS=$corpus $cmd "$url" >"$out" 2>&1 && times >"$out.times"); then
        cat "$out" >&2
        return 1
    fi
    h1=$(host_ticks)
    awk 'function s(v) { split(v, a, "m"); sub(/s$/, "", a[2]); return a[1] * 60 + a[2] }
         NR == 2 { printf "%.3f\n", s($1) + s($2) }' "$out.times" >"$out.cpu"
    awk -v a="$h0" -v b="$h1" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]
        printf "%.0f %.0f\n", (t > 0 ? 100 * (y[2] - x[2]) / t : 0), (t > 0 ? 100 * (y[3] - x[3]) / t : 0) }' >"$out.host"
}

# Prints "req_s p50_ms p99_ms non2xx errors accepted" from a wrk --latency output.
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
        if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
        if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
        if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
        return v + 0
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { total = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%.1f %.3f %.3f %d %d %d\n", rps, p50, p99, non2xx, errs, total - non2xx }' "$1"
}

write_config() {
    local dir=$1
    mkdir -p "$dir/run" "$dir/data" "$dir/events"
    cat >"$dir/hamustro.json" <<EOF
{
  "shared_secret": "bench-secret",
  "signature": "required",
  "maintenance_key": "$MAINT_KEY",
  "masked_ip": false,
  "logfile": "",
  "ingest": {
    "host": "127.0.0.1",
    "port": $PORT,
    "max_body_bytes": 1048576,
    "threads": $INGEST_THREADS,
    "max_connections": 1024,
    "connection_timeout": 30,
    "router_timeout_ms": 5000,
    "retry_after": 1
  },
  "router": {
    "run_dir": "$dir/run",
    "data_dir": "$dir/data",
    "durability": "$DURABILITY",
    "max_log_bytes": 4294967296,
    "segment_bytes": 67108864,
    "heartbeat_ms": 1000,
    "sink_timeout_ms": 5000${CPU_LATENCY_US:+,
    \"cpu_latency_us\": $CPU_LATENCY_US}
  },
  "sink": { "credit": 2, "retry_min_ms": 100, "retry_max_ms": 30000 },
  "routes": {
    "archive": {
      "sink": "file",
      "max_events": 10000,
      "max_bytes": 16777216,
      "max_age": 60,
      "file": { "file_path": "$dir/events/{date}/", "file_format": "json", "compress": true }
    }
  }
}
EOF
}

# Median and sum of numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
sum() { printf '%s\n' "$@" | awk '{s += $1} END {print s + 0}'; }
# The machine during wrk, medians of the runs whose arrays are named (e.g.
# 'PIDLE[@]' 'PSTEAL[@]'): idle, when no thread could run (in the pipeline
# every request was waiting: on the disk, or on a hand-off between processes
# and the wake-up it needs), and stolen by the hypervisor.
host_note() { echo "CPUs idle $(median "${!1}") %, stolen $(median "${!2}") %"; }

# CPU time (user + system, in clock ticks) of a process and all its threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)

# Waits until the pipeline is quiet (its CPU ticks unchanged for 0.5 s, at
# most 30 s): what the router and the sink still had to deliver when wrk
# stopped is part of the events' cost. Heartbeats in the window cost a tick
# at most.
settle() {
    local before after
    before=$(($(cpu_ticks "$1") + $(cpu_ticks "$2") + $(cpu_ticks "$3")))
    for _ in $(seq 60); do
        sleep 0.5
        after=$(($(cpu_ticks "$1") + $(cpu_ticks "$2") + $(cpu_ticks "$3")))
        [ "$after" = "$before" ] && return 0
        before=$after
    done
    log "pipeline still busy 30 s after wrk ended; counting its CPU up to now"
}

# The ingest's count of accepted events (GET /api/stats); empty on failure.
MAINT_KEY=bench-maintenance
MAINT_HDR="X-Hamustro-Maintenance-Key: $(printf '%s' "$MAINT_KEY" | sha256sum | cut -d' ' -f1)"
events_accepted() {
    curl -s --max-time 5 -H "$MAINT_HDR" "http://127.0.0.1:$PORT/api/stats" |
        sed -n 's/.*"events_accepted":\([0-9]*\).*/\1/p'
}

# CPU seconds per million events: ticks over events.
per_m() { awk -v t="$1" -v hz="$TICKS" -v ev="$2" 'BEGIN {printf "%.3f", (ev > 0) ? t / hz / ev * 1e6 : 0}'; }

# One run of the pipeline under wrk: appends to the P* arrays, keeps the
# peak RSS seen.
run_pipeline() {
    local dir=$1 cfg=$2 name=$3 rep=$4 conns=$5 me=$6
    rm -rf "$dir/data" "$dir/events" "$dir/run"; mkdir -p "$dir/data" "$dir/events" "$dir/run"
    log "[$name, -c$conns] run $rep: starting router, file sink, ingest ($DURABILITY)"
    "$ROUTER_BIN" --config "$cfg" </dev/null 2>>"$dir/router.log" & router_pid=$!; PIDS+=("$router_pid")
    # shellcheck disable=SC2086
    "$SINK_BIN" --config "$cfg" $SINK_ARGS </dev/null 2>>"$dir/sink.log" & sink_pid=$!; PIDS+=("$sink_pid")
    "$INGEST_BIN" --config "$cfg" </dev/null 2>>"$dir/ingest.log" & ingest_pid=$!; PIDS+=("$ingest_pid")
    if [ "$rep" = 1 ] && [ "$FIRST_CONNS" = "$conns" ]; then
        COMMANDS+=("$ROUTER_BIN --config $cfg & $SINK_BIN --config $cfg $SINK_ARGS & $INGEST_BIN --config $cfg &")
    fi
    if ! wait_http "http://127.0.0.1:$PORT/api/health"; then
        log "[$name] ingest did not answer /api/health; logs:"
        tail -n 20 "$dir"/*.log >&2
        exit 1
    fi
    # one signed request first: fails fast if the pipeline does not accept the corpus
    local hdrs=() line code
    while IFS= read -r line; do hdrs+=(-H "$line"); done <"$dir/corpus/0.headers"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$dir/corpus/0.body" \
           "${hdrs[@]}" "http://127.0.0.1:$PORT/api/v1/track" || true)
    [ "$code" = 200 ] || log "[$name] warning: a corpus request was answered $code, not 200"
    settle "$ingest_pid" "$router_pid" "$sink_pid"
    rm -f "$dir/pss.txt"
    sample_pss "$dir/pss.txt" "$ingest_pid" "$router_pid" "$sink_pid" & pss_pid=$!; PIDS+=("$pss_pid")
    local url="http://127.0.0.1:$PORT/api/v1/track"
    if [ "$rep" = 1 ]; then COMMANDS+=("HAMUSTRO_CORPUS=$dir/corpus $(wrk_cmd "$conns") $url"); fi
    log "[$name, -c$conns] run $rep: wrk against the pipeline for ${DURATION}s"
    local i0 r0 s0 i1 r1 s1
    local e0 e1
    e0=$(events_accepted)
    i0=$(cpu_ticks "$ingest_pid"); r0=$(cpu_ticks "$router_pid"); s0=$(cpu_ticks "$sink_pid")
    run_wrk "$dir/corpus" "$url" "$dir/wrk-pipeline.txt" "$conns"
    e1=$(events_accepted)
    # Seal the open batch so the sink writes it before the CPU is read.
    curl -s -o /dev/null --max-time 5 -X POST -H "$MAINT_HDR" "http://127.0.0.1:$PORT/api/flush" || true
    settle "$ingest_pid" "$router_pid" "$sink_pid"
    i1=$(cpu_ticks "$ingest_pid"); r1=$(cpu_ticks "$router_pid"); s1=$(cpu_ticks "$sink_pid")
    local v
    v=$(peak_rss_kb "$router_pid"); if [ "$v" -gt "$rss_router" ]; then rss_router=$v; fi
    v=$(peak_rss_kb "$ingest_pid"); if [ "$v" -gt "$rss_ingest" ]; then rss_ingest=$v; fi
    v=$(peak_rss_kb "$sink_pid"); if [ "$v" -gt "$rss_sink" ]; then rss_sink=$v; fi
    stop_pid "$pss_pid"
    local pi pr ps
    read -r pi pr ps < <(awk '{ for (i = 1; i <= 3; i++) if ($i > m[i]) m[i] = $i }
                              END { print m[1] + 0, m[2] + 0, m[3] + 0 }' "$dir/pss.txt" 2>/dev/null || echo 0 0 0)
    if [ "$pi" -gt "$pss_ingest" ]; then pss_ingest=$pi; fi
    if [ "$pr" -gt "$pss_router" ]; then pss_router=$pr; fi
    if [ "$ps" -gt "$pss_sink" ]; then pss_sink=$ps; fi
    stop_pid "$ingest_pid"; stop_pid "$sink_pid"; stop_pid "$router_pid"
    local a b c d e f ev
    read -r a b c d e f < <(parse_wrk "$dir/wrk-pipeline.txt")
    PRPS+=("$a"); PP50+=("$b"); PP99+=("$c"); PBAD+=("$d"); PERR+=("$e")
    if [ -n "$e0" ] && [ -n "$e1" ]; then
        ev=$((e1 - e0))
    else
        log "[$name] /api/stats did not answer; events = 2xx requests x mean events"
        ev=$(awk -v n="$f" -v me="$me" 'BEGIN {printf "%.0f", n * me}')
    fi
    CI+=("$(per_m $((i1 - i0)) "$ev")"); CR+=("$(per_m $((r1 - r0)) "$ev")")
    CS+=("$(per_m $((s1 - s0)) "$ev")")
    CSUM+=("$(per_m $((i1 - i0 + r1 - r0 + s1 - s0)) "$ev")")
    CW+=("$(awk -v s="$(cat "$dir/wrk-pipeline.txt.cpu")" -v ev="$ev" 'BEGIN {printf "%.3f", (ev > 0) ? s / ev * 1e6 : 0}')")
    read -r a b <"$dir/wrk-pipeline.txt.host"; PIDLE+=("$a"); PSTEAL+=("$b")
}

# One run of the null server under the same load: appends to the N* arrays
# (ceiling) or, with --defer as 6th argument, to the F* arrays (floor).
run_ceiling() {
    local dir=$1 name=$2 rep=$3 conns=$4 me=$5 defer=${6:-}
    local what=ceiling
    [ -n "$defer" ] && what=floor
    log "[$name, -c$conns] run $rep: wrk against hamustro-null-server $defer for ${DURATION}s"
    # shellcheck disable=SC2086
    "$NULL_BIN" --port "$NULL_PORT" $defer </dev/null 2>>"$dir/null.log" & null_pid=$!; PIDS+=("$null_pid")
    wait_http "http://127.0.0.1:$NULL_PORT/" post || { log "null server did not start"; exit 1; }
    local nurl="http://127.0.0.1:$NULL_PORT/api/v1/track"
    if [ "$rep" = 1 ]; then COMMANDS+=("$NULL_BIN --port $NULL_PORT${defer:+ $defer} & HAMUSTRO_CORPUS=$dir/corpus $(wrk_cmd "$conns") $nurl"); fi
    local n0 n1
    n0=$(cpu_ticks "$null_pid")
    run_wrk "$dir/corpus" "$nurl" "$dir/wrk-$what.txt" "$conns"
    n1=$(cpu_ticks "$null_pid")
    local v
    v=$(peak_rss_kb "$null_pid")
    if [ "$what" = ceiling ] && [ "$v" -gt "$rss_null" ]; then rss_null=$v; fi
    stop_pid "$null_pid"
    local a b c d e f ev cpu wcpu
    read -r a b c d e f < <(parse_wrk "$dir/wrk-$what.txt")
    ev=$(awk -v n="$f" -v me="$me" 'BEGIN {printf "%.0f", n * me}')
    cpu=$(per_m $((n1 - n0)) "$ev")
    wcpu=$(awk -v s="$(cat "$dir/wrk-$what.txt.cpu")" -v ev="$ev" 'BEGIN {printf "%.3f", (ev > 0) ? s / ev * 1e6 : 0}')
    if [ "$what" = ceiling ]; then
        NRPS+=("$a"); NP50+=("$b"); NP99+=("$c"); NBAD+=("$d"); NERR+=("$e"); CN+=("$cpu"); CNW+=("$wcpu")
        read -r a b <"$dir/wrk-$what.txt.host"; NIDLE+=("$a"); NSTEAL+=("$b")
    else
        FRPS+=("$a"); FP50+=("$b"); FP99+=("$c"); FBAD+=("$d"); FERR+=("$e"); CF+=("$cpu"); CFW+=("$wcpu")
        read -r a b <"$dir/wrk-$what.txt.host"; FIDLE+=("$a"); FSTEAL+=("$b")
    fi
}

# name | hamustro-send arguments
ALL_LOADS=(
    "protobuf, 1 event|--format protobuf --payloads 1"
    "protobuf, 1-25 events|--format protobuf --payloads 1-25"
    "json, 1 event|--format json --payloads 1"
)

port_free "$PORT" || { echo "bench/run.sh: port $PORT is in use" >&2; exit 1; }
port_free "$NULL_PORT" || { echo "bench/run.sh: port $NULL_PORT is in use" >&2; exit 1; }

ROWS=()          # table rows, markdown
STOLEN_ROWS=()   # loads whose pipeline or ceiling runs lost STEAL_WARN % or more to the hypervisor
COMMANDS=()      # exact commands, for RESULTS.md
read -r FIRST_CONNS _ <<<"$WRK_CONNECTIONS"
read -r FIRST_LOAD _ <<<"$LOADS_PICKED"
# Corpora first, once per load: every connection count replays the same bodies.
for n in $LOADS_PICKED; do
    load=${ALL_LOADS[$((n - 1))]}
    dir=$TMP/load$n
    mkdir -p "$dir"
    write_config "$dir"
    cmd="$SEND_BIN --config $dir/hamustro.json --corpus $dir/corpus --count $CORPUS_COUNT --seed $n ${load#*|}"
    COMMANDS+=("$cmd")
    log "[${load%%|*}] corpus: $cmd"
    $cmd >&2
done
for conns in $WRK_CONNECTIONS; do
for n in $LOADS_PICKED; do
    load=${ALL_LOADS[$((n - 1))]}
    name=${load%%|*}
    dir=$TMP/load$n
    cfg=$dir/hamustro.json
    read -r count events bytes < <(awk '/^count/ {c=$2} /^events/ {e=$2} /^bytes/ {b=$2}
                                        END {print c, e, b}' "$dir/corpus/corpus.txt")
    mean_events=$(awk -v e="$events" -v c="$count" 'BEGIN {printf "%.3f", e / c}')
    mean_bytes=$(awk -v b="$bytes" -v c="$count" 'BEGIN {printf "%.0f", b / c}')

    # Pipeline and ceiling alternate REPEAT times: the host's noise moves
    # both, and the medians of alternating runs are what the table shows.
    PRPS=(); PP50=(); PP99=(); PBAD=(); PERR=(); NRPS=(); NP50=(); NP99=(); NBAD=(); NERR=()
    CI=(); CR=(); CS=(); CSUM=(); CW=(); CN=(); CNW=()
    FRPS=(); FP50=(); FP99=(); FBAD=(); FERR=(); CF=(); CFW=()
    PIDLE=(); PSTEAL=(); NIDLE=(); NSTEAL=(); FIDLE=(); FSTEAL=()
    rss_router=0; rss_ingest=0; rss_sink=0; rss_null=0; pss_router=0; pss_ingest=0; pss_sink=0
    for rep in $(seq "$REPEAT"); do
        run_pipeline "$dir" "$cfg" "$name" "$rep" "$conns" "$mean_events"
        run_ceiling "$dir" "$name" "$rep" "$conns" "$mean_events"
        if [ "$FLOOR" = 1 ]; then run_ceiling "$dir" "$name" "$rep" "$conns" "$mean_events" --defer; fi
    done
    rps=$(median "${PRPS[@]}"); p50=$(median "${PP50[@]}"); p99=$(median "${PP99[@]}")
    nrps=$(median "${NRPS[@]}"); np50=$(median "${NP50[@]}"); np99=$(median "${NP99[@]}")
    non2xx=$(sum "${PBAD[@]}"); errs=$(sum "${PERR[@]}")
    nnon2xx=$(sum "${NBAD[@]}"); nerrs=$(sum "${NERR[@]}")
    ci=$(median "${CI[@]}"); cr=$(median "${CR[@]}"); cs=$(median "${CS[@]}")
    csum=$(median "${CSUM[@]}"); cw=$(median "${CW[@]}"); cn=$(median "${CN[@]}"); cnw=$(median "${CNW[@]}")
    log_mb=$(du -sk "$dir/data" 2>/dev/null | awk '{printf "%.1f", $1 / 1024}')
    spread="; $(host_note 'PIDLE[@]' 'PSTEAL[@]')"
    if [ "$REPEAT" -gt 1 ]; then
        spread="$spread; runs: pipeline $(IFS=/; echo "${PRPS[*]}") req/s, CPU sum $(IFS=/; echo "${CSUM[*]}") s/M; ceiling $(IFS=/; echo "${NRPS[*]}") req/s"
    fi

    # Bounds on the ratio from CPU alone: this machine's CPUs divided by the
    # CPU each event costs (the three programs' plus wrk's) is the most
    # events/s the pipeline could reach with no idle time, over the
    # ceiling's measured events/s. "as built" uses the pipeline's own costs;
    # "floor ingest" puts the deferred null server's cost in place of the
    # ingest's (answering asynchronously and nothing else: no verification,
    # no decoding, no router link) and the cheaper of the two wrk costs.
    bounds=""
    ncpu=$(nproc)
    bound_built=$(awk -v n="$ncpu" -v c="$csum" -v w="$cw" -v nrps="$nrps" -v me="$mean_events" \
        'BEGIN {printf "%.2f", (c + w > 0 && nrps > 0) ? n / ((c + w) / 1e6) / (nrps * me) : 0}')
    bounds="; peak Pss MiB $(awk -v i="$pss_ingest" -v r="$pss_router" -v s="$pss_sink" \
        'BEGIN {printf "%.1f / %.1f / %.1f = %.1f", i / 1024, r / 1024, s / 1024, (i + r + s) / 1024}')"
    bounds="$bounds; CPU bound on the ratio: as built $bound_built"
    if [ "$FLOOR" = 1 ]; then
        frps=$(median "${FRPS[@]}"); fp50=$(median "${FP50[@]}"); fp99=$(median "${FP99[@]}")
        fnon2xx=$(sum "${FBAD[@]}"); ferrs=$(sum "${FERR[@]}")
        cf=$(median "${CF[@]}"); cfw=$(median "${CFW[@]}")
        bound_floor=$(awk -v n="$ncpu" -v f="$cf" -v r="$cr" -v s="$cs" -v w="$cw" -v fw="$cfw" \
            -v nrps="$nrps" -v me="$mean_events" 'BEGIN {
            if (fw < w) w = fw
            printf "%.2f", (f + r + s + w > 0 && nrps > 0) ? n / ((f + r + s + w) / 1e6) / (nrps * me) : 0 }')
        bounds="$bounds, with a floor ingest $bound_floor"
    fi
    ROWS+=("$(awk -v name="$name" -v mb="$mean_bytes" -v me="$mean_events" -v rps="$rps" \
        -v p50="$p50" -v p99="$p99" -v bad="$non2xx" -v errs="$errs" -v rr="$rss_router" \
        -v ri="$rss_ingest" -v rs="$rss_sink" -v nrps="$nrps" -v logmb="$log_mb" -v c="$conns" \
        -v ci="$ci" -v cr="$cr" -v cs="$cs" -v csum="$csum" -v cw="$cw" -v spread="$spread$bounds" 'BEGIN {
        printf "| %s (%.2f ev, %d B) | %d | pipeline | %.0f | %.0f | %.2f | %.2f | %d / %d | %.1f / %.1f / %.1f = **%.1f** | %.2f | %.2f / %.2f / %.2f = **%.2f** | %.2f | log %s MB%s |",
            name, me, mb, c, rps, rps * me, p50, p99, bad, errs, ri / 1024, rr / 1024, rs / 1024,
            (ri + rr + rs) / 1024, (nrps > 0 ? rps / nrps : 0), ci, cr, cs, csum, cw, logmb, spread }')")
    ROWS+=("$(awk -v name="$name" -v me="$mean_events" -v rps="$nrps" -v p50="$np50" -v c="$conns" \
        -v p99="$np99" -v bad="$nnon2xx" -v errs="$nerrs" -v rn="$rss_null" -v cn="$cn" -v cw="$cnw" \
        -v host="$(host_note 'NIDLE[@]' 'NSTEAL[@]')" 'BEGIN {
        printf "| %s | %d | null server | %.0f | %.0f | %.2f | %.2f | %d / %d | %.1f | 1.00 | server %.2f | %.2f | %s |",
            name, c, rps, rps * me, p50, p99, bad, errs, rn / 1024, cn, cw, host }')")
    if [ "$FLOOR" = 1 ]; then
        ROWS+=("$(awk -v name="$name" -v me="$mean_events" -v rps="$frps" -v p50="$fp50" -v c="$conns" \
            -v p99="$fp99" -v bad="$fnon2xx" -v errs="$ferrs" -v cf="$cf" -v cw="$cfw" -v nrps="$nrps" \
            -v host="$(host_note 'FIDLE[@]' 'FSTEAL[@]')" 'BEGIN {
            printf "| %s | %d | null server --defer (floor) | %.0f | %.0f | %.2f | %.2f | %d / %d | | %.2f | server %.2f | %.2f | %s |",
                name, c, rps, rps * me, p50, p99, bad, errs, (nrps > 0 ? rps / nrps : 0), cf, cw, host }')")
    fi
    log "[$name, -c$conns] pipeline $rps req/s (p50 $p50 ms, p99 $p99 ms, non-2xx $non2xx), CPU $ci / $cr / $cs = $csum s per M events; ceiling $nrps req/s (medians of $REPEAT)"
    # The ratio compares two runs: if the host took CPU from either, say so.
    for stolen in "$(median "${PSTEAL[@]}")" "$(median "${NSTEAL[@]}")"; do
        if awk -v s="$stolen" -v w="$STEAL_WARN" 'BEGIN { exit !(s >= w) }'; then
            STOLEN_ROWS+=("$name at $conns connections")
            break
        fi
    done
done
done

HEADER="| load (mean events, bytes per request) | connections | target | req/s | events/s | p50 ms | p99 ms | non-2xx / socket errors | peak RSS MiB (ingest / router / file sink = all) | ratio to ceiling | CPU s per million events (ingest / router / file sink = sum) | wrk CPU s per million events | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|"
TABLE=$(printf '%s\n' "$HEADER" "${ROWS[@]}")
echo
echo "$TABLE"
if [ "${#STOLEN_ROWS[@]}" -gt 0 ]; then
    STOLEN_NOTE="At least $STEAL_WARN % of the CPU time was stolen by the hypervisor during: $(IFS=';'; echo "${STOLEN_ROWS[*]}" | sed 's/;/; /g'). Their ratios measured a slower machine."
    echo
    echo "$STOLEN_NOTE"
fi

if [ "${NO_RESULTS:-0}" != 1 ]; then
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    [ -f "$HERE/RESULTS.md" ] || printf '%s\n' "# Benchmark results" "" \
        "Appended by bench/run.sh (make bench); newest last. The null server is the ceiling:" \
        "same HTTP library and limits, answers 200 without doing anything." >"$HERE/RESULTS.md"
    {
        echo
        echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — durability $DURABILITY, ${DURATION}s per run, medians of $REPEAT alternating runs"
        echo
        echo "Machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr). wrk $WRK_THREADS threads," \
             "$WRK_CONNECTIONS connections, on the same machine; ingest threads $INGEST_THREADS."
        echo "CPU per million events: user + system seconds from /proc/PID/stat, sampled before wrk" \
             "and once the pipeline is quiet after it (open batch sealed by /api/flush), over the events the ingest accepted" \
             "(/api/stats; null server: 2xx requests x mean events)."
        echo
        echo "Programs: $INGEST_BIN, $ROUTER_BIN, $SINK_BIN; ceiling $NULL_BIN."
        echo "Peak Pss (notes): the proportional set size, sampled every 0.5 s during each run; shared library" \
             "pages count as a share in each process, where the RSS column counts them whole in every one."
        echo "CPUs idle / stolen (notes): the share of both CPUs' time, from /proc/stat during wrk, that was idle" \
             "(iowait included: nothing could run) and that the hypervisor gave to other guests (steal)."
        if [ "$FLOOR" = 1 ]; then
            echo "Floor: the same null server with --defer (each answer suspended and resumed, the cheapest" \
                 "asynchronous answer). CPU bound on the ratio: $(nproc) CPUs / CPU per event (programs + wrk) over" \
                 "the ceiling's events/s; \"floor ingest\" puts the floor's CPU in place of the ingest's."
        fi
        echo
        echo "$TABLE"
        if [ -n "${STOLEN_NOTE:-}" ]; then echo; echo "$STOLEN_NOTE"; fi
        echo
        echo "Config (load $FIRST_LOAD; the others differ only in their paths):"
        echo
        echo '```json'
        cat "$TMP/load$FIRST_LOAD/hamustro.json"
        echo '```'
        echo
        echo "Commands (temporary paths under $TMP):"
        echo
        echo '```'
        echo "DURATION=$DURATION DURABILITY=$DURABILITY REPEAT=$REPEAT FLOOR=$FLOOR WRK_THREADS=$WRK_THREADS" \
             "WRK_CONNECTIONS=\"$WRK_CONNECTIONS\" LOADS=\"$LOADS_PICKED\" INGEST_THREADS=$INGEST_THREADS" \
             "${CPU_LATENCY_US:+CPU_LATENCY_US=$CPU_LATENCY_US }bench/run.sh $1"
        printf '%s\n' "${COMMANDS[@]}"
        echo '```'
    } >>"$HERE/RESULTS.md"
    log "appended to $HERE/RESULTS.md"
fi
