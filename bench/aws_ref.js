// Reference client for bench/cloud_aws.sh: the emulator's own ceiling for
// the requests the AWS sinks make, from Node's http with keep-alive and
// SigV4 (written out here with node:crypto), as many in flight as the sink.
//
//   node aws_ref.js s3  PORT BUCKET BODY_FILE COUNT IN_FLIGHT
//       PutObject (gzip, Content-MD5, x-amz-content-sha256) of BODY_FILE
//       under COUNT keys, path-style
//   node aws_ref.js sns PORT TOPIC_ARN LINE_FILE COUNT IN_FLIGHT
//       COUNT messages (LINE_FILE's text) in PublishBatch requests of 10
//
// Prints {"requests":N,"messages":M,"seconds":S,"failed":F} on stdout.
"use strict";
const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

const AKID = "S3RVER", SECRET = "S3RVER", REGION = "us-east-1";
const [kind, port, target, file, count, inFlight] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(inFlight) });
const host = "127.0.0.1:" + port;
const hex = (b) => crypto.createHash("sha256").update(b).digest("hex");
const hmac = (k, s) => crypto.createHmac("sha256", k).update(s).digest();
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g,
  (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

function sign(method, path, headers, body, service) {
  const amz = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const payload = hex(body);
  headers["host"] = host;
  headers["x-amz-date"] = amz;
  if (service === "s3") headers["x-amz-content-sha256"] = payload;
  const names = Object.keys(headers).map((k) => k.toLowerCase()).sort();
  const lower = {};
  for (const k of Object.keys(headers)) lower[k.toLowerCase()] = String(headers[k]).trim();
  const canon = [method, path, "", names.map((k) => k + ":" + lower[k] + "\n").join(""),
    names.join(";"), payload].join("\n");
  const scope = `${amz.slice(0, 8)}/${REGION}/${service}/aws4_request`;
  const sts = ["AWS4-HMAC-SHA256", amz, scope, hex(canon)].join("\n");
  let key = "AWS4" + SECRET;
  for (const p of [amz.slice(0, 8), REGION, service, "aws4_request"]) key = hmac(key, p);
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${AKID}/${scope}, ` +
    `SignedHeaders=${names.join(";")}, Signature=${hmac(key, sts).toString("hex")}`;
}

const data = fs.readFileSync(file);
const total = Number(count);
const requests = kind === "s3" ? total : Math.ceil(total / 10);

function one(i) {
  return new Promise((resolve) => {
    let path, body, headers, service, method;
    if (kind === "s3") {
      method = "PUT";
      service = "s3";
      path = "/" + target + "/ref/" + i + ".json.gz";
      body = data;
      headers = { "content-type": "application/x-ndjson", "content-encoding": "gzip",
        "content-md5": crypto.createHash("md5").update(body).digest("base64") };
    } else {
      method = "POST";
      service = "sns";
      path = "/";
      const n = Math.min(10, total - i * 10);
      let form = "Action=PublishBatch&Version=2010-03-31&TopicArn=" + enc(target);
      const msg = enc(data.toString());
      for (let k = 1; k <= n; k++)
        form += `&PublishBatchRequestEntries.member.${k}.Id=m${k}` +
          `&PublishBatchRequestEntries.member.${k}.Message=${msg}`;
      body = Buffer.from(form);
      headers = { "content-type": "application/x-www-form-urlencoded; charset=utf-8" };
    }
    sign(method, path, headers, body, service);
    headers["content-length"] = body.length;
    const req = http.request({ host: "127.0.0.1", port: Number(port), path, agent, method,
      headers }, (res) => {
      let text = "";
      res.on("data", (c) => { if (kind === "sns") text += c; });
      res.on("end", () => resolve(res.statusCode >= 200 && res.statusCode < 300 &&
        !text.includes("<Failed><member>")));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

let next = 0, failed = 0;
const t0 = process.hrtime.bigint();
async function worker() {
  while (next < requests) {
    const i = next++;
    if (!(await one(i))) failed++;
  }
}
Promise.all(Array.from({ length: Number(inFlight) }, worker)).then(() => {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ requests, messages: kind === "s3" ? requests : total,
    seconds: s, failed }));
  agent.destroy();
});
