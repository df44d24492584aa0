// Capturing AWS API requests on loopback, to compare what tether sends with
// what the official AWS SDK v3 client serializes for the same operation.
//
//   const capture = await startCapture({ answer });      // http:// (or https:// with tls)
//   ... point tether at capture.url (AWS_ENDPOINT_URL_<SERVICE>) and run it ...
//   const sdk = await sdkRequest((config) => new LambdaClient(config), new InvokeCommand(input),
//                                { answer, region });
//   compareRequests(capture.requests[0], sdk.request, { headers: ['x-amz-invocation-type'] });
//   assert.equal(await verifySigV4(capture.requests[0], { credentials, region, service: 'lambda' }), true);
//
// An answer is { status, headers, body } (body: string, Buffer or an object sent
// as JSON), or a function of the recorded request returning one; the SDK run
// through sdkRequest must deserialize it, which checks that the stand-in's
// answers are ones AWS could give. SigV4 is checked with AWS's own signer
// (@smithy/signature-v4) over exactly the headers the request says it signed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { Sha256 } from '@aws-crypto/sha256-js';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';

/** Credentials for the SDK side and for checking signatures (not real ones). */
export const TEST_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIDTETHERTEST000001',
  secretAccessKey: 'tether/test/secret/key/0000000000000000000',
  sessionToken: 'tether-test-session-token',
});

/** The environment that gives a tether process TEST_CREDENTIALS. */
export function credentialsEnv(credentials = TEST_CREDENTIALS) {
  const env = {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
  if (credentials.sessionToken) env.AWS_SESSION_TOKEN = credentials.sessionToken;
  return env;
}

const MAX_BODY = 8 * 1024 * 1024;

function send(res, answer) {
  const { status = 200, headers = {}, body = '' } = answer ?? {};
  const isJson = typeof body === 'object' && !Buffer.isBuffer(body);
  const payload = isJson ? JSON.stringify(body) : body;
  const out = { 'x-amzn-requestid': 'capture-request-id', ...headers };
  if (isJson && !Object.keys(out).some((k) => k.toLowerCase() === 'content-type')) {
    out['content-type'] = 'application/json';
  }
  out['content-length'] = Buffer.byteLength(payload);
  res.writeHead(status, out);
  res.end(payload);
}

/**
 * A loopback HTTP server (HTTPS with tls: { cert, key } file paths) that
 * records every request as { method, url, path, query, headers, body } (path
 * raw as sent, query as an object of decoded values, headers with lower-case
 * names, body a Buffer) and answers with `answer`. .setAnswer replaces it.
 */
export async function startCapture({ answer = { body: {} }, tls } = {}) {
  const requests = [];
  let current = answer;
  const handler = (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const url = new URL(req.url, 'http://capture');
      const record = {
        method: req.method,
        url: req.url,
        path: req.url.split('?')[0],
        query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers },
        body: Buffer.concat(chunks),
      };
      requests.push(record);
      send(res, typeof current === 'function' ? current(record) : current);
    });
  };
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, handler)
    : http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    setAnswer(next) {
      current = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

/**
 * Runs one SDK command against a capture server of its own: makeClient gets
 * the client configuration (endpoint, region, credentials, one attempt) and
 * returns the client. Resolves to { request, output, error }: the request the
 * SDK sent, and what the SDK made of `answer` (error when it threw).
 */
export async function sdkRequest(makeClient, command, { answer, region = 'us-east-1', credentials = TEST_CREDENTIALS } = {}) {
  const capture = await startCapture({ answer });
  const client = makeClient({
    endpoint: capture.url,
    region,
    credentials: { ...credentials }, // the SDK marks the object it is given
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: false }) }),
  });
  let output;
  let error;
  try {
    output = await client.send(command);
  } catch (e) {
    error = e;
  } finally {
    client.destroy();
    await capture.close();
  }
  assert.equal(capture.requests.length, 1, `the SDK sent ${capture.requests.length} requests (${error})`);
  return { request: capture.requests[0], output, error };
}

/** A body as the protocol means it: parsed JSON, form fields, or text. */
export function bodyValue(request) {
  const type = request.headers['content-type'] ?? '';
  const text = request.body.toString('utf8');
  if (/json/.test(type) && text.length) return JSON.parse(text);
  if (/x-www-form-urlencoded/.test(type)) return Object.fromEntries(new URLSearchParams(text));
  return text;
}

/**
 * Asserts that tether's request equals the SDK's: method, path (compared
 * decoded, since encoders differ only in which safe characters they escape),
 * query, the named headers, and the body as its protocol means it (or as
 * bytes with { rawBody: true }).
 */
export function compareRequests(tether, sdk, { headers = [], rawBody = false } = {}) {
  assert.equal(tether.method, sdk.method, 'method');
  assert.equal(decodeURIComponent(tether.path), decodeURIComponent(sdk.path), 'path');
  assert.deepEqual(tether.query, sdk.query, 'query');
  for (const name of headers) {
    assert.equal(tether.headers[name.toLowerCase()], sdk.headers[name.toLowerCase()], `header ${name}`);
  }
  if (rawBody) assert.deepEqual(tether.body, sdk.body, 'body');
  else assert.deepEqual(bodyValue(tether), bodyValue(sdk), 'body');
}

/**
 * Whether a recorded request carries a valid SigV4 signature for the scope
 * (credentials, region, service), recomputed by AWS's own signer over the
 * headers its Authorization lists, at its x-amz-date. With maxSkewMs, a
 * request whose x-amz-date is further from now than that is refused too
 * (AWS's rule is 5 minutes).
 */
export async function verifySigV4(request, { credentials = TEST_CREDENTIALS, region, service, maxSkewMs }) {
  const auth = request.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m || m[1] !== credentials.accessKeyId || m[3] !== region || m[4] !== service) return false;
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(request.headers['x-amz-date'] ?? '');
  if (!d) return false;
  const signingDate = new Date(Date.UTC(+d[1], +d[2] - 1, +d[3], +d[4], +d[5], +d[6]));
  if (maxSkewMs !== undefined && Math.abs(Date.now() - signingDate.getTime()) > maxSkewMs) return false;
  const headers = {};
  for (const name of m[5].split(';')) {
    if (request.headers[name] === undefined) return false;
    headers[name] = request.headers[name];
  }
  const [hostname, port] = request.headers.host.split(':');
  const signer = new SignatureV4({ credentials: { ...credentials }, region, service, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname,
      port: port ? Number(port) : undefined,
      path: request.path,
      query: request.query,
      headers,
      body: request.body,
    },
    { signingDate },
  );
  return signed.headers.authorization === auth;
}
