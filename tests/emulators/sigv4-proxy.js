#!/usr/bin/env node
// sigv4-proxy: a verifying front for emulators that do not check AWS
// Signature V4 (s3rver, fauxqs). Every request's signature is computed
// again with the AWS SDK's own signer (@smithy/signature-v4) from the
// known test credentials; a missing or wrong signature gets 403 with an
// AWS-style XML error (SignatureDoesNotMatch, InvalidAccessKeyId, ...;
// 400 XAmzContentSHA256Mismatch when the body does not match its signed
// hash), a good one is forwarded unchanged and the answer relayed. Binds 127.0.0.1 only.
//
//   node sigv4-proxy.js PORT UPSTREAM_PORT
//
// Credentials: HM_SIGV4_PROXY_CREDENTIALS="AKID:SECRET[,AKID:SECRET...]",
// default "S3RVER:S3RVER" (s3rver only accepts that access key id).
// GET /_sigv4proxy/stats answers {"verified":N,"rejected":N,"reasons":{...}}.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const port = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);
if (!port || !upstreamPort) {
  console.error('usage: sigv4-proxy.js PORT UPSTREAM_PORT');
  process.exit(2);
}
const MAX_BODY = 256 * 1024 * 1024; // the proxy buffers bodies; bound them
const MAX_SKEW_MS = 15 * 60 * 1000; // AWS's own limit

const secrets = new Map();
for (const pair of (process.env.HM_SIGV4_PROXY_CREDENTIALS || 'S3RVER:S3RVER').split(',')) {
  const i = pair.indexOf(':');
  if (i > 0) secrets.set(pair.slice(0, i), pair.slice(i + 1));
}

const stats = { verified: 0, rejected: 0, reasons: {} };
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function xmlEscape(s) {
  return String(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function reject(res, service, code, message, status = 403) {
  stats.rejected++;
  stats.reasons[code] = (stats.reasons[code] || 0) + 1;
  const id = crypto.randomUUID();
  // S3 answers <Error>, the query APIs (SNS, SQS) <ErrorResponse><Error>.
  const body =
    service === 's3'
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
        `<Message>${xmlEscape(message)}</Message><RequestId>${id}</RequestId></Error>`
      : `<?xml version="1.0"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code>` +
        `<Message>${xmlEscape(message)}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`;
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-amz-request-id': id,
  });
  res.end(body);
  if (process.env.HM_SIGV4_PROXY_VERBOSE) console.log(`403 ${code}: ${message}`);
}

// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request,
//  SignedHeaders=host;x-amz-date, Signature=abc..."
function parseAuthorization(value) {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/.exec(value || '');
  if (!m) return null;
  const fields = {};
  for (const part of m[1].split(',')) {
    const i = part.indexOf('=');
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const scope = (fields.Credential || '').split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !fields.SignedHeaders || !fields.Signature)
    return null;
  return {
    accessKeyId: scope[0],
    date: scope[1],
    region: scope[2],
    service: scope[3],
    signedHeaders: fields.SignedHeaders.split(';'),
    signature: fields.Signature,
  };
}

// The query as the signer wants it: decoded names and values, '+' kept
// (SigV4 clients send a space as %20).
function parseQuery(search) {
  const query = {};
  for (const part of search.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const dec = (s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const name = dec(i < 0 ? part : part.slice(0, i));
    const value = i < 0 ? '' : dec(part.slice(i + 1));
    if (name in query) query[name] = [].concat(query[name], value);
    else query[name] = value;
  }
  return query;
}

function amzDateToDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

async function verify(req, body) {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) {
    const reason = req.headers.authorization
      ? 'The authorization header is malformed.'
      : 'Request is missing an AWS Signature Version 4 Authorization header.';
    return { service: 's3', code: 'SignatureDoesNotMatch', message: reason };
  }
  const service = auth.service;
  const secret = secrets.get(auth.accessKeyId);
  if (secret === undefined)
    return {
      service,
      code: service === 's3' ? 'InvalidAccessKeyId' : 'InvalidClientTokenId',
      message: `Unknown access key id ${auth.accessKeyId}`,
    };
  const signingDate = amzDateToDate(req.headers['x-amz-date']);
  if (!signingDate || !auth.signedHeaders.includes('x-amz-date'))
    return { service, code: 'SignatureDoesNotMatch', message: 'x-amz-date missing or not signed' };
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS)
    return { service, code: 'RequestTimeTooSkewed', message: 'x-amz-date is more than 15 minutes off' };
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed && /^[0-9a-f]{64}$/.test(claimed)) {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== claimed)
      return {
        service,
        code: 'XAmzContentSHA256Mismatch',
        message: 'The provided x-amz-content-sha256 header does not match what was computed.',
        status: 400, // as S3 answers it
      };
  }
  // Only the headers the client signed, exactly as received.
  const headers = {};
  for (const name of auth.signedHeaders) {
    const raw = req.headersDistinct[name];
    if (raw === undefined)
      return { service, code: 'SignatureDoesNotMatch', message: `signed header ${name} not sent` };
    headers[name] = raw.join(',');
  }
  const q = req.url.indexOf('?');
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').split(':')[0],
    path: q < 0 ? req.url : req.url.slice(0, q),
    query: q < 0 ? {} : parseQuery(req.url.slice(q + 1)),
    headers,
    body,
  };
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: auth.accessKeyId,
      secretAccessKey: secret,
      sessionToken: req.headers['x-amz-security-token'],
    },
    region: auth.region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: service !== 's3', // S3 signs the path as sent; the rest encode it again
    applyChecksum: false, // never add x-amz-content-sha256 the client did not sign
  });
  const signed = await signer.sign(request, {
    signingDate,
    signableHeaders: new Set(auth.signedHeaders),
  });
  const expected = /Signature=([0-9a-f]+)/.exec(signed.headers.authorization || '');
  const expectedHeaders = /SignedHeaders=([^,]+)/.exec(signed.headers.authorization || '');
  if (!expected || expected[1] !== auth.signature || expectedHeaders[1] !== auth.signedHeaders.join(';'))
    return {
      service,
      code: 'SignatureDoesNotMatch',
      message:
        'The request signature we calculated does not match the signature you provided. ' +
        'Check your key and signing method.',
    };
  return null;
}

function forward(req, res, body) {
  const up = http.request(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.rawHeaders);
      upRes.pipe(res);
    },
  );
  up.on('error', (err) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`sigv4-proxy: upstream ${upstreamPort}: ${err.message}\n`);
    } else res.destroy();
  });
  up.end(body);
}

const server = http.createServer((req, res) => {
  if (req.url === '/_sigv4proxy/stats' || req.url === '/_sigv4proxy/health') {
    const text = JSON.stringify(req.url.endsWith('stats') ? stats : { up: true });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(text + '\n');
    return;
  }
  const chunks = [];
  let size = 0;
  let tooBig = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) tooBig = true;
    else chunks.push(c);
  });
  req.on('end', async () => {
    if (tooBig) {
      res.writeHead(413, { 'Content-Type': 'text/plain' });
      res.end('sigv4-proxy: body too large\n');
      return;
    }
    const body = Buffer.concat(chunks);
    let failure;
    try {
      failure = await verify(req, body);
    } catch (err) {
      failure = { service: 's3', code: 'SignatureDoesNotMatch', message: `cannot verify: ${err.message}` };
    }
    if (failure) return reject(res, failure.service, failure.code, failure.message, failure.status);
    stats.verified++;
    forward(req, res, body);
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  console.log(`sigv4-proxy on 127.0.0.1:${port} -> 127.0.0.1:${upstreamPort}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
