// Response streaming in the Node.js shim: awslambda.streamifyResponse and
// awslambda.HttpResponseStream, chunked POSTs with trailers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invoke, makeProject, startShim } from './lib/harness.mjs';

const T = { timeout: 30000 };
const PRELUDE_TYPE = 'application/vnd.awslambda.http-integration-response';

const HANDLERS = `
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const globalSeen = typeof awslambda === 'object' && typeof awslambda.streamifyResponse === 'function';

export const plain = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first;' + context.awsRequestId + ';');
  await sleep(400);
  responseStream.write('second;' + globalSeen);
  responseStream.end();
});

export const http = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/html', 'x-custom': 'yes' },
    cookies: ['a=1; Path=/', 'b=2'],
  });
  stream.write('<h1>');
  stream.write('streamed</h1>');
  stream.end();
});

export const midError = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial body');
  await sleep(50);
  const e = new TypeError('broke mid-stream');
  throw e;
});

export const earlyError = awslambda.streamifyResponse(async () => {
  throw new Error('failed before writing');
});

export const piped = awslambda.streamifyResponse(async (event, responseStream) => {
  await pipeline(Readable.from([Buffer.from('p1-'), Buffer.from('p2-'), Buffer.from(JSON.stringify(event))]), responseStream);
});

export const pipeFails = awslambda.streamifyResponse(async (event, responseStream) => {
  async function* source() { yield 'ok-'; await sleep(20); throw new RangeError('source failed'); }
  await pipeline(source(), responseStream);
});

export const noEnd = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('never ended by the handler');
});

export const big = awslambda.streamifyResponse(async (event, responseStream) => {
  const chunk = Buffer.alloc(64 * 1024, 'z');
  for (let i = 0; i < 16 * 8; i++) { // 8 MiB: more than a buffered response may carry
    if (!responseStream.write(chunk)) await new Promise((r) => responseStream.once('drain', r));
  }
  responseStream.end();
});
`;

async function shimFor(t, name) {
  const root = makeProject(t, { 'stream.mjs': HANDLERS });
  return startShim(t, { handler: `stream.${name}`, root });
}

test('streamifyResponse: a chunked streaming POST whose chunks arrive as written', T, async (t) => {
  const shim = await shimFor(t, 'plain');
  const r = await invoke(shim, {}, { requestId: 'stream-1' });
  assert.equal(r.kind, 'response');
  assert.equal(r.streamed, true);
  assert.equal(r.headers['lambda-runtime-function-response-mode'], 'streaming');
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.headers.trailer, 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body');
  assert.equal(r.contentType, 'text/plain');
  assert.equal(r.text, 'first;stream-1;second;true');
  assert.ok(r.chunks.length >= 2, JSON.stringify(r.chunks));
  const last = r.chunks[r.chunks.length - 1].at;
  assert.ok(last - r.chunks[0].at >= 300, `the first chunk came ${last - r.chunks[0].at} ms before the last`);
  assert.deepEqual(r.trailers, {});
  // The worker goes on to the next invocation.
  assert.equal((await invoke(shim, {}, { requestId: 'stream-2' })).text, 'first;stream-2;second;true');
});

test('HttpResponseStream.from writes the JSON prelude and 8 NUL bytes before the body', T, async (t) => {
  const shim = await shimFor(t, 'http');
  const r = await invoke(shim, {});
  assert.equal(r.kind, 'response');
  assert.equal(r.contentType, PRELUDE_TYPE);
  const sep = r.body.indexOf(Buffer.alloc(8));
  assert.ok(sep > 0, 'eight NUL bytes follow the prelude');
  const prelude = JSON.parse(r.body.subarray(0, sep).toString('utf8'));
  assert.deepEqual(prelude, {
    statusCode: 201,
    headers: { 'content-type': 'text/html', 'x-custom': 'yes' },
    cookies: ['a=1; Path=/', 'b=2'],
  });
  assert.equal(r.body.subarray(sep + 8).toString('utf8'), '<h1>streamed</h1>');
});

test('an error mid-stream travels in the trailers (type, base64 of the error JSON)', T, async (t) => {
  const shim = await shimFor(t, 'midError');
  const r = await invoke(shim, {});
  assert.equal(r.kind, 'error');
  assert.equal(r.streamed, true);
  assert.equal(r.errorType, 'TypeError');
  assert.equal(r.streamBody.toString('utf8'), 'partial body');
  assert.equal(r.trailers['lambda-runtime-function-error-type'], 'TypeError');
  assert.equal(r.json.errorType, 'TypeError');
  assert.equal(r.json.errorMessage, 'broke mid-stream');
  assert.ok(Array.isArray(r.json.trace));
  // A pipeline whose source fails mid-way ends the same way.
  const p = await shimFor(t, 'pipeFails');
  const r2 = await invoke(p, {});
  assert.equal(r2.kind, 'error');
  assert.equal(r2.errorType, 'RangeError');
  assert.equal(r2.streamBody.toString('utf8'), 'ok-');
  assert.equal(r2.json.errorMessage, 'source failed');
});

test('an error before anything was written is a plain /error', T, async (t) => {
  const shim = await shimFor(t, 'earlyError');
  const r = await invoke(shim, {});
  assert.equal(r.kind, 'error');
  assert.equal(r.streamed, false);
  assert.equal(r.json.errorType, 'Error');
  assert.equal(r.json.errorMessage, 'failed before writing');
  assert.equal(shim.api.log.filter((e) => e.path.endsWith('/response')).length, 0);
});

test('pipeline into the response stream; a stream the handler left open is ended', T, async (t) => {
  const shim = await shimFor(t, 'piped');
  const r = await invoke(shim, { k: 1 });
  assert.equal(r.kind, 'response');
  assert.equal(r.contentType, 'application/octet-stream');
  assert.equal(r.text, 'p1-p2-{"k":1}');
  const open = await shimFor(t, 'noEnd');
  const r2 = await invoke(open, {});
  assert.equal(r2.kind, 'response');
  assert.equal(r2.text, 'never ended by the handler');
});

test('a streamed response may exceed the 6 MB buffered limit', T, async (t) => {
  const shim = await shimFor(t, 'big');
  const r = await invoke(shim, {});
  assert.equal(r.kind, 'response');
  assert.equal(r.body.length, 8 * 1024 * 1024);
  assert.ok(r.body.every((b) => b === 0x7a));
});
