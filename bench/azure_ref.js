// Reference client for bench/cloud_azure.sh: azurite's own ceiling for the
// requests the Azure sinks make, from Node's http with keep-alive and
// Shared Key signing, as many requests in flight as the sink uses.
//
//   node azure_ref.js queue PORT QUEUE TEXT_FILE COUNT IN_FLIGHT
//       Put Message COUNT times, the message text read from TEXT_FILE
//   node azure_ref.js blob PORT CONTAINER BODY_FILE COUNT IN_FLIGHT
//       Put Blob (BlockBlob, gzip) of BODY_FILE under COUNT names
//
// Prints {"requests":N,"seconds":S,"failed":F} on stdout.
"use strict";
const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

const ACCOUNT = "devstoreaccount1";
const KEY = Buffer.from(
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
  "base64");
const [kind, port, target, file, count, inFlight] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(inFlight) });

function sign(method, path, headers) {
  const h = {};
  for (const k of Object.keys(headers)) h[k.toLowerCase()] = String(headers[k]);
  const std = ["content-encoding", "content-language", "content-length", "content-md5",
    "content-type", "date", "if-modified-since", "if-match", "if-none-match",
    "if-unmodified-since", "range"].map((k) => (k === "content-length" && h[k] === "0") ? ""
      : (h[k] || ""));
  const ms = Object.keys(h).filter((k) => k.startsWith("x-ms-")).sort()
    .map((k) => k + ":" + h[k] + "\n").join("");
  const sts = [method, ...std].join("\n") + "\n" + ms + "/" + ACCOUNT + path;
  return "SharedKey " + ACCOUNT + ":" + crypto.createHmac("sha256", KEY).update(sts).digest("base64");
}

function one(i) {
  return new Promise((resolve) => {
    let path, body, headers;
    if (kind === "queue") {
      path = "/" + ACCOUNT + "/" + target + "/messages";
      body = Buffer.concat([Buffer.from("<QueueMessage><MessageText>"), payload,
        Buffer.from("</MessageText></QueueMessage>")]);
      headers = { "Content-Type": "application/xml" };
    } else {
      path = "/" + ACCOUNT + "/" + target + "/ref/" + i + ".json.gz";
      body = payload;
      headers = { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-encoding": "gzip",
        "x-ms-blob-content-type": "application/x-ndjson",
        "Content-MD5": crypto.createHash("md5").update(body).digest("base64") };
    }
    headers["x-ms-date"] = new Date().toUTCString();
    headers["x-ms-version"] = "2021-12-02";
    headers["Content-Length"] = body.length;
    headers["Authorization"] = sign(kind === "queue" ? "POST" : "PUT", path, headers);
    const req = http.request({ host: "127.0.0.1", port: Number(port), path, agent,
      method: kind === "queue" ? "POST" : "PUT", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode >= 200 && res.statusCode < 300));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

const payload = fs.readFileSync(file);
let next = 0, failed = 0;
const total = Number(count);
const t0 = process.hrtime.bigint();
async function worker() {
  while (next < total) {
    const i = next++;
    if (!(await one(i))) failed++;
  }
}
Promise.all(Array.from({ length: Number(inFlight) }, worker)).then(() => {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ requests: total, seconds: s, failed }));
  agent.destroy();
});
