#!/usr/bin/env bash
# AWS sinks' throughput into their emulators (s3rver, fauxqs) next to each
# emulator's own ceiling (a Node reference client doing the same requests),
# appended to bench/RESULTS.md.
#
#   bench/cloud_aws.sh BUILD_DIR
#   S3_EVENTS=200000 SNS_EVENTS=20000 S3_INSTANCES=1 SNS_INSTANCES=1
#
# Needs tests/emulators/setup.sh (s3rver, fauxqs) and BUILD_DIR/bin with
# hamustro-router, -ingest, -send, -s3-sink, -sns-sink.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:?usage: cloud_aws.sh BUILD_DIR}" && pwd)"
export HAMUSTRO_BIN="${HAMUSTRO_BIN:-$build/bin}" HAMUSTRO_SRC="$here/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
python3 "$here/cloud_aws.py" | tee "$out"
{
    echo
    echo "## AWS sinks into s3rver / fauxqs ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)"
    echo
    grep '^|' "$out"
    echo
    echo "Command: \`S3_EVENTS=${S3_EVENTS:-200000} SNS_EVENTS=${SNS_EVENTS:-20000}" \
        "S3_INSTANCES=${S3_INSTANCES:-1} SNS_INSTANCES=${SNS_INSTANCES:-1}" \
        "bench/cloud_aws.sh $1\`. Events are loaded through ingest first, then the sink"
    echo "instances are started and timed until the emulator holds every event (S3: objects"
    echo "read back and counted; SNS: messages counted in an SQS queue subscribed with raw"
    echo "delivery). Sink and reference talk to the emulator directly, without the tests'"
    echo "verifying proxy. The original's figures (4 vCPUs): SNS 59k events/min, S3 6.2M events/min."
} >> "$here/RESULTS.md"
