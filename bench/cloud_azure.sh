#!/usr/bin/env bash
# Azure sinks' throughput into azurite next to azurite's own ceiling (a Node
# reference client doing the same requests), appended to bench/RESULTS.md.
#
#   bench/cloud_azure.sh BUILD_DIR
#   BLOB_EVENTS=200000 QUEUE_EVENTS=20000 BLOB_INSTANCES=1 QUEUE_INSTANCES=1
#
# Needs tests/emulators/setup.sh (azurite) and BUILD_DIR/bin with
# hamustro-router, -ingest, -send, -blob-sink, -queue-sink.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:?usage: cloud_azure.sh BUILD_DIR}" && pwd)"
export HAMUSTRO_BIN="$build/bin" HAMUSTRO_SRC="$here/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
python3 "$here/cloud_azure.py" | tee "$out"
{
    echo
    echo "## Azure sinks into azurite ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)"
    echo
    grep '^|' "$out"
    echo
    echo "Command: \`BLOB_EVENTS=${BLOB_EVENTS:-200000} QUEUE_EVENTS=${QUEUE_EVENTS:-20000}" \
        "BLOB_INSTANCES=${BLOB_INSTANCES:-1} QUEUE_INSTANCES=${QUEUE_INSTANCES:-1}" \
        "bench/cloud_azure.sh $1\`. Events are loaded through ingest first, then the sink"
    echo "instances are started and timed until azurite holds every event (read back and"
    echo "counted). The original's figures (4 vCPUs): Azure Queue 5k events/min, Blob 6.05M events/min."
} >> "$here/RESULTS.md"
