#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: throughput and latency of the whole pipeline
# (hamustro-ingest -> hamustro-router -> hamustro-file-sink) under wrk, for
# three loads, each compared with hamustro-null-server (same HTTP library,
# answers 200 and does nothing) as the ceiling. Prints a table and appends it,
# with the machine and the exact commands, to bench/RESULTS.md.
#
# Environment:
#   DURATION=20        seconds per wrk run
#   DURABILITY=fsync   router durability: fsync or write
#   PORT=18080         ingest port (the null server uses PORT+1)
#   WRK_THREADS=2 WRK_CONNECTIONS=10
#   CORPUS_COUNT=1000  bodies per corpus
#   INGEST_THREADS=1   ingest.threads in the config
#   CPU_LATENCY_US=    router.cpu_latency_us (unset: not in the config). The router
#                      holds it only during pipeline runs; the ceiling runs without it
#   SEND_BIN NULL_BIN ROUTER_BIN INGEST_BIN SINK_BIN  override BUILD_DIR/bin/<name>
#   SINK_ARGS          extra arguments for the file sink (default: "--route archive"
#                      when its --help mentions --route)
#   REPEAT=3           runs of pipeline and ceiling, alternating; medians are reported
#   KEEP=1             keep the temporary directory (configs, logs, corpora)
#   NO_RESULTS=1       do not append to bench/RESULTS.md
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
WRK_CONNECTIONS=${WRK_CONNECTIONS:-10}
CORPUS_COUNT=${CORPUS_COUNT:-1000}
INGEST_THREADS=${INGEST_THREADS:-1}
CPU_LATENCY_US=${CPU_LATENCY_US:-}
REPEAT=${REPEAT:-3}
SEND_BIN=${SEND_BIN:-$BUILD/bin/hamustro-send}
NULL_BIN=${NULL_BIN:-$BUILD/bin/hamustro-null-server}
ROUTER_BIN=${ROUTER_BIN:-$BUILD/bin/hamustro-router}
INGEST_BIN=${INGEST_BIN:-$BUILD/bin/hamustro-ingest}
SINK_BIN=${SINK_BIN:-$BUILD/bin/hamustro-file-sink}

case "$DURABILITY" in fsync|write) ;; *) echo "bench/run.sh: DURABILITY must be fsync or write" >&2; exit 2;; esac
case "$DURATION" in ''|*[!0-9]*) echo "bench/run.sh: DURATION must be whole seconds" >&2; exit 2;; esac
case "$REPEAT" in ''|0|*[!0-9]*) echo "bench/run.sh: REPEAT must be a whole number >= 1" >&2; exit 2;; esac
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

# Runs wrk against URL with CORPUS; writes its output to OUT.
WRK_CMD="wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s --latency -s $HERE/wrk_corpus.lua"
run_wrk() {
    local corpus=$1 url=$2 out=$3
    HAMUSTRO_CORPUS=$corpus $WRK_CMD "$url" >"$out" 2>&1 || { cat "$out" >&2; return 1; }
}

# Prints "req_s p50_ms p99_ms non2xx errors" from a wrk --latency output.
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
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%.1f %.3f %.3f %d %d\n", rps, p50, p99, non2xx, errs }' "$1"
}

write_config() {
    local dir=$1
    mkdir -p "$dir/run" "$dir/data" "$dir/events"
    cat >"$dir/hamustro.json" <<EOF
{
  "shared_secret": "bench-secret",
  "signature": "required",
  "maintenance_key": "",
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

# CPU time (user + system, in clock ticks) of a process and all its threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)

# One run of the pipeline under wrk: appends to the P* arrays, keeps the
# peak RSS seen and the CPU use of the last run.
run_pipeline() {
    local dir=$1 cfg=$2 name=$3 rep=$4
    rm -rf "$dir/data" "$dir/events" "$dir/run"; mkdir -p "$dir/data" "$dir/events" "$dir/run"
    log "[$name] run $rep: starting router, file sink, ingest ($DURABILITY)"
    "$ROUTER_BIN" --config "$cfg" </dev/null 2>>"$dir/router.log" & router_pid=$!; PIDS+=("$router_pid")
    # shellcheck disable=SC2086
    "$SINK_BIN" --config "$cfg" $SINK_ARGS </dev/null 2>>"$dir/sink.log" & sink_pid=$!; PIDS+=("$sink_pid")
    "$INGEST_BIN" --config "$cfg" </dev/null 2>>"$dir/ingest.log" & ingest_pid=$!; PIDS+=("$ingest_pid")
    if [ "$rep" = 1 ]; then COMMANDS+=("$ROUTER_BIN --config $cfg & $SINK_BIN --config $cfg $SINK_ARGS & $INGEST_BIN --config $cfg &"); fi
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
    local url="http://127.0.0.1:$PORT/api/v1/track"
    if [ "$rep" = 1 ]; then COMMANDS+=("HAMUSTRO_CORPUS=$dir/corpus $WRK_CMD $url"); fi
    log "[$name] run $rep: wrk against the pipeline for ${DURATION}s"
    local i0 r0 s0 i1 r1 s1
    i0=$(cpu_ticks "$ingest_pid"); r0=$(cpu_ticks "$router_pid"); s0=$(cpu_ticks "$sink_pid")
    run_wrk "$dir/corpus" "$url" "$dir/wrk-pipeline.txt"
    i1=$(cpu_ticks "$ingest_pid"); r1=$(cpu_ticks "$router_pid"); s1=$(cpu_ticks "$sink_pid")
    cpu_line=$(awk -v t="$TICKS" -v d="$DURATION" -v i=$((i1 - i0)) -v r=$((r1 - r0)) -v s=$((s1 - s0)) \
        'BEGIN {printf "%.0f%% / %.0f%% / %.0f%%", 100 * i / t / d, 100 * r / t / d, 100 * s / t / d}')
    local v
    v=$(peak_rss_kb "$router_pid"); if [ "$v" -gt "$rss_router" ]; then rss_router=$v; fi
    v=$(peak_rss_kb "$ingest_pid"); if [ "$v" -gt "$rss_ingest" ]; then rss_ingest=$v; fi
    v=$(peak_rss_kb "$sink_pid"); if [ "$v" -gt "$rss_sink" ]; then rss_sink=$v; fi
    stop_pid "$ingest_pid"; stop_pid "$sink_pid"; stop_pid "$router_pid"
    local a b c d e
    read -r a b c d e < <(parse_wrk "$dir/wrk-pipeline.txt")
    PRPS+=("$a"); PP50+=("$b"); PP99+=("$c"); PBAD+=("$d"); PERR+=("$e")
}

# One run of the null server under the same load: appends to the N* arrays.
run_ceiling() {
    local dir=$1 name=$2 rep=$3
    log "[$name] run $rep: wrk against hamustro-null-server for ${DURATION}s"
    "$NULL_BIN" --port "$NULL_PORT" </dev/null 2>>"$dir/null.log" & null_pid=$!; PIDS+=("$null_pid")
    wait_http "http://127.0.0.1:$NULL_PORT/" post || { log "null server did not start"; exit 1; }
    local nurl="http://127.0.0.1:$NULL_PORT/api/v1/track"
    if [ "$rep" = 1 ]; then COMMANDS+=("$NULL_BIN --port $NULL_PORT & HAMUSTRO_CORPUS=$dir/corpus $WRK_CMD $nurl"); fi
    run_wrk "$dir/corpus" "$nurl" "$dir/wrk-null.txt"
    local v
    v=$(peak_rss_kb "$null_pid"); if [ "$v" -gt "$rss_null" ]; then rss_null=$v; fi
    stop_pid "$null_pid"
    local a b c d e
    read -r a b c d e < <(parse_wrk "$dir/wrk-null.txt")
    NRPS+=("$a"); NP50+=("$b"); NP99+=("$c"); NBAD+=("$d"); NERR+=("$e")
}

# name | hamustro-send arguments
LOADS=(
    "protobuf, 1 payload|--format protobuf --payloads 1"
    "protobuf, 1-25 payloads|--format protobuf --payloads 1-25"
    "json, 1 payload|--format json --payloads 1"
)

port_free "$PORT" || { echo "bench/run.sh: port $PORT is in use" >&2; exit 1; }
port_free "$NULL_PORT" || { echo "bench/run.sh: port $NULL_PORT is in use" >&2; exit 1; }

ROWS=()          # table rows, markdown
COMMANDS=()      # exact commands, for RESULTS.md
n=0
for load in "${LOADS[@]}"; do
    n=$((n + 1))
    name=${load%%|*}
    send_args=${load#*|}
    dir=$TMP/load$n
    mkdir -p "$dir"
    write_config "$dir"
    cfg=$dir/hamustro.json

    cmd="$SEND_BIN --config $cfg --corpus $dir/corpus --count $CORPUS_COUNT --seed $n $send_args"
    COMMANDS+=("$cmd")
    log "[$name] corpus: $cmd"
    $cmd >&2
    read -r count events bytes < <(awk '/^count/ {c=$2} /^events/ {e=$2} /^bytes/ {b=$2}
                                        END {print c, e, b}' "$dir/corpus/corpus.txt")
    mean_events=$(awk -v e="$events" -v c="$count" 'BEGIN {printf "%.3f", e / c}')
    mean_bytes=$(awk -v b="$bytes" -v c="$count" 'BEGIN {printf "%.0f", b / c}')

    # Pipeline and ceiling alternate REPEAT times: the host's noise moves
    # both, and the medians of alternating runs are what the table shows.
    PRPS=(); PP50=(); PP99=(); PBAD=(); PERR=(); NRPS=(); NP50=(); NP99=(); NBAD=(); NERR=()
    rss_router=0; rss_ingest=0; rss_sink=0; rss_null=0; cpu_line=""
    for rep in $(seq "$REPEAT"); do
        run_pipeline "$dir" "$cfg" "$name" "$rep"
        run_ceiling "$dir" "$name" "$rep"
    done
    rps=$(median "${PRPS[@]}"); p50=$(median "${PP50[@]}"); p99=$(median "${PP99[@]}")
    nrps=$(median "${NRPS[@]}"); np50=$(median "${NP50[@]}"); np99=$(median "${NP99[@]}")
    non2xx=$(sum "${PBAD[@]}"); errs=$(sum "${PERR[@]}")
    nnon2xx=$(sum "${NBAD[@]}"); nerrs=$(sum "${NERR[@]}")
    log_mb=$(du -sk "$dir/data" 2>/dev/null | awk '{printf "%.1f", $1 / 1024}')
    spread=""
    if [ "$REPEAT" -gt 1 ]; then
        spread="; runs: pipeline $(IFS=/; echo "${PRPS[*]}"), ceiling $(IFS=/; echo "${NRPS[*]}") req/s"
    fi

    ROWS+=("$(awk -v name="$name" -v mb="$mean_bytes" -v me="$mean_events" -v rps="$rps" \
        -v p50="$p50" -v p99="$p99" -v bad="$non2xx" -v errs="$errs" -v rr="$rss_router" \
        -v ri="$rss_ingest" -v rs="$rss_sink" -v nrps="$nrps" -v logmb="$log_mb" \
        -v cpu="$cpu_line" -v spread="$spread" 'BEGIN {
        printf "| %s (%.2f ev, %d B) | pipeline | %.0f | %.0f | %.2f | %.2f | %d / %d | %.1f / %.1f / %.1f = %.1f | %.2f | log %s MB; CPU %s%s |",
            name, me, mb, rps, rps * me, p50, p99, bad, errs, ri / 1024, rr / 1024, rs / 1024,
            (ri + rr + rs) / 1024, (nrps > 0 ? rps / nrps : 0), logmb, cpu, spread }')")
    ROWS+=("$(awk -v name="$name" -v me="$mean_events" -v rps="$nrps" -v p50="$np50" \
        -v p99="$np99" -v bad="$nnon2xx" -v errs="$nerrs" -v rn="$rss_null" 'BEGIN {
        printf "| %s | null server | %.0f | %.0f | %.2f | %.2f | %d / %d | %.1f | 1.00 | |",
            name, rps, rps * me, p50, p99, bad, errs, rn / 1024 }')")
    log "[$name] pipeline $rps req/s (p50 $p50 ms, p99 $p99 ms, non-2xx $non2xx), ceiling $nrps req/s (medians of $REPEAT)"
done

HEADER="| load (mean events, bytes per request) | target | req/s | events/s | p50 ms | p99 ms | non-2xx / socket errors | peak RSS MiB (ingest / router / sink = total) | ratio to ceiling | notes (CPU: ingest / router / sink, last run) |
|---|---|---|---|---|---|---|---|---|---|"
TABLE=$(printf '%s\n' "$HEADER" "${ROWS[@]}")
echo
echo "$TABLE"

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
        echo
        echo "Programs: $INGEST_BIN, $ROUTER_BIN, $SINK_BIN; ceiling $NULL_BIN."
        echo
        echo "$TABLE"
        echo
        echo "Config (load 1; the others differ only in their paths):"
        echo
        echo '```json'
        cat "$TMP/load1/hamustro.json"
        echo '```'
        echo
        echo "Commands (temporary paths under $TMP):"
        echo
        echo '```'
        echo "DURATION=$DURATION DURABILITY=$DURABILITY REPEAT=$REPEAT WRK_THREADS=$WRK_THREADS" \
             "WRK_CONNECTIONS=$WRK_CONNECTIONS INGEST_THREADS=$INGEST_THREADS" \
             "${CPU_LATENCY_US:+CPU_LATENCY_US=$CPU_LATENCY_US }bench/run.sh $1"
        printf '%s\n' "${COMMANDS[@]}"
        echo '```'
    } >>"$HERE/RESULTS.md"
    log "appended to $HERE/RESULTS.md"
fi
