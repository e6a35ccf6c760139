#!/usr/bin/env bash
# Checks the emulators and our signers against them, by hand (not part of
# ctest): starts azurite (blob, queue), s3rver and fauxqs each behind the
# verifying SigV4 proxy, on free ports of 127.0.0.1 in a temporary folder,
# then
#   - curl --aws-sigv4 with the right secret passes the proxy, a wrong
#     secret and an unsigned request get 403 SignatureDoesNotMatch;
#   - cloud_probe.c (sinks/cloud's SigV4 and Shared Key signing and HTTP
#     client) gets 2xx from every emulator with the right credentials and
#     403 (classified RETRY) with a wrong secret or account key.
# Stops everything it started. Ends with "N passed, N failed".
#
#   check.sh [BUILD_DIR]   BUILD_DIR has sinks/cloud/libhamustro_cloud.a
#                          (default: $HM_BUILD_DIR, else <source>/build)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="${1:-${HM_BUILD_DIR:-$src/build}}"
export HM_EMULATOR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hm-emulators.XXXXXX")"
trap '"$here/stop.sh" all --wipe' EXIT

"$here/setup.sh" > /dev/null || exit 1
for lib in sinks/cloud/libhamustro_cloud.a common/libhamustro_common.a; do
    if [ ! -f "$build/$lib" ]; then
        echo "check.sh: $build/$lib missing; build the hamustro_cloud target first" >&2
        exit 1
    fi
done
probe="$HM_EMULATOR_DIR/cloud_probe"
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$src/common" -I"$src/sinks/cloud" \
    "$here/cloud_probe.c" "$build/sinks/cloud/libhamustro_cloud.a" \
    "$build/common/libhamustro_common.a" -lcurl -lcrypto -lcjson -o "$probe" || exit 1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
blob=$(free_port) queue=$(free_port) s3=$(free_port) faux=$(free_port) s3p=$(free_port) fauxp=$(free_port)
"$here/start.sh" azurite-blob "$blob" > /dev/null || exit 1
"$here/start.sh" azurite-queue "$queue" > /dev/null || exit 1
"$here/start.sh" s3rver "$s3" > /dev/null || exit 1
"$here/start.sh" fauxqs "$faux" > /dev/null || exit 1
"$here/start.sh" sigv4-proxy "$s3p" "$s3" > /dev/null || exit 1
"$here/start.sh" sigv4-proxy "$fauxp" "$faux" > /dev/null || exit 1
echo "ports: azurite blob $blob, queue $queue; s3rver $s3 (proxy $s3p); fauxqs $faux (proxy $fauxp)"

passed=0 failed=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1)); echo "ok   $1"
    else
        failed=$((failed + 1)); echo "FAIL $1: expected $2, got $3"
    fi
}
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3curl() { # s3curl SECRET METHOD PATH -> status
    curl -s -o "$HM_EMULATOR_DIR/curl.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "S3RVER:$1" -H "x-amz-content-sha256: $empty" -X "$2" "http://127.0.0.1:$s3p$3"
}
check "curl sigv4, right secret: create bucket" 200 "$(s3curl S3RVER PUT /hm-check)"
check "curl sigv4, right secret: list bucket" 200 "$(s3curl S3RVER GET '/hm-check?list-type=2')"
check "curl sigv4, wrong secret: 403" 403 "$(s3curl WRONG GET '/hm-check?list-type=2')"
check "curl sigv4, wrong secret: SignatureDoesNotMatch" 1 \
    "$(grep -c '<Code>SignatureDoesNotMatch</Code>' "$HM_EMULATOR_DIR/curl.out")"
check "unsigned request: 403" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3p/hm-check?list-type=2")"
check "curl sigv4 (sns), right secret" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
    --aws-sigv4 aws:amz:us-east-1:sns --user S3RVER:S3RVER \
    --data 'Action=CreateTopic&Name=hm-check&Version=2010-03-31' "http://127.0.0.1:$fauxp/")"
check "curl sigv4 (sns), wrong secret" 403 "$(curl -s -o /dev/null -w '%{http_code}' \
    --aws-sigv4 aws:amz:us-east-1:sns --user S3RVER:WRONG \
    --data 'Action=CreateTopic&Name=hm-check&Version=2010-03-31' "http://127.0.0.1:$fauxp/")"

key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
wrong_key="$(head -c 64 /dev/zero | tr '\0' 'A' | base64 -w0)"
probe_run() { # probe_run LABEL EXPECTED_EXIT EXPECTED_STATUS ARGS...
    local label="$1" want_rc="$2" want_status="$3" out rc statuses
    shift 3
    out="$("$probe" "$@")"
    rc=$?
    echo "$out" | sed 's/^/       /'
    statuses="$(echo "$out" | awk '{print $4}' | sort -u | tr '\n' ' ' | sed 's/ $//')"
    check "$label: exit" "$want_rc" "$rc"
    check "$label: statuses" "$want_status" "$statuses"
}
probe_run "probe s3, right secret" 0 "200" s3 "http://127.0.0.1:$s3p" hm-probe S3RVER S3RVER
probe_run "probe s3, wrong secret" 1 "403" s3 "http://127.0.0.1:$s3p" hm-probe S3RVER WRONG
probe_run "probe sns, right secret" 0 "200" sns "http://127.0.0.1:$fauxp" S3RVER S3RVER
probe_run "probe sns, wrong secret" 1 "403" sns "http://127.0.0.1:$fauxp" S3RVER WRONG
probe_run "probe blob, right key" 0 "200 201" blob "http://127.0.0.1:$blob/devstoreaccount1" \
    hm-probe devstoreaccount1 "$key"
probe_run "probe blob, wrong key" 1 "403" blob "http://127.0.0.1:$blob/devstoreaccount1" \
    hm-probe devstoreaccount1 "$wrong_key"
probe_run "probe queue, right key" 0 "200 201" queue "http://127.0.0.1:$queue/devstoreaccount1" \
    hm-probe devstoreaccount1 "$key"
probe_run "probe queue, wrong key" 1 "403" queue "http://127.0.0.1:$queue/devstoreaccount1" \
    hm-probe devstoreaccount1 "$wrong_key"
echo "proxy in front of s3rver: $(curl -s "http://127.0.0.1:$s3p/_sigv4proxy/stats")"
echo "proxy in front of fauxqs: $(curl -s "http://127.0.0.1:$fauxp/_sigv4proxy/stats")"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
