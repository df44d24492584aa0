// The test Runtime API itself, driven with plain HTTP: it must hold to the
// contract of the Lambda Runtime API (docs/lambda.md) for the shim tests to mean anything.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { within } from './lib/harness.mjs';
import { MAX_PAYLOAD, startRuntimeApi } from './lib/runtime-api.mjs';

const T = { timeout: 20000 };

function request(api, method, path, { headers = {}, body, trailers } = {}) {
  return within(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: api.port, method, path: `/2018-06-01/runtime${path}`, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
    } else if (body !== undefined) {
      req.write(body);
    }
    if (trailers) req.addTrailers(trailers);
    req.end();
  }), 10000, `${method} ${path}`);
}

async function withApi(t) {
  const api = await startRuntimeApi();
  t.after(() => api.close());
  return api;
}

test('/next carries the event and only the non-empty headers', T, async (t) => {
  const api = await withApi(t);
  const outcome = api.invoke({ k: 'v' }, { requestId: 'id-1', deadlineMs: 1e13, clientContext: { custom: { a: 1 } } });
  const next = await request(api, 'GET', '/invocation/next');
  assert.equal(next.status, 200);
  assert.deepEqual(next.json, { k: 'v' });
  assert.equal(next.headers['lambda-runtime-aws-request-id'], 'id-1');
  assert.equal(next.headers['lambda-runtime-deadline-ms'], '10000000000000');
  assert.match(next.headers['lambda-runtime-invoked-function-arn'], /^arn:aws:lambda:us-east-1:\d{12}:function:test-fn$/);
  assert.match(next.headers['lambda-runtime-trace-id'], /^Root=1-/);
  assert.equal(next.headers['lambda-runtime-client-context'], '{"custom":{"a":1}}');
  assert.equal('lambda-runtime-cognito-identity' in next.headers, false, 'empty headers are not sent');
  const posted = await request(api, 'POST', '/invocation/id-1/response', { body: '"done"' });
  assert.equal(posted.status, 202);
  assert.deepEqual(posted.json, { status: 'OK' });
  assert.equal((await outcome).json, 'done');
});

test('/next long-polls until an invocation arrives', T, async (t) => {
  const api = await withApi(t);
  const next = request(api, 'GET', '/invocation/next');
  await within(api.waitForNext(), 5000, 'the parked poll');
  const t0 = Date.now();
  setTimeout(() => api.invoke({ late: true }, { requestId: 'late' }), 300);
  const r = await next;
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(r.headers['lambda-runtime-aws-request-id'], 'late');
});

test('status codes: bad id 400, second answer 403, bad mode 400, unknown 404, wrong method 405', T, async (t) => {
  const api = await withApi(t);
  api.invoke({}, { requestId: 'a' });
  await request(api, 'GET', '/invocation/next');
  const bad = await request(api, 'POST', '/invocation/nope/response', { body: '1' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.errorType, 'InvalidRequestID');
  const mode = await request(api, 'POST', '/invocation/a/response', { body: '1', headers: { 'Lambda-Runtime-Function-Response-Mode': 'sideways' } });
  assert.equal(mode.status, 400);
  assert.equal(mode.json.errorType, 'InvalidFunctionResponseMode');
  assert.equal((await request(api, 'POST', '/invocation/a/response', { body: '1' })).status, 202);
  const again = await request(api, 'POST', '/invocation/a/error', { body: '{}' });
  assert.equal(again.status, 403);
  assert.equal(again.json.errorType, 'InvalidStateTransition');
  assert.equal((await request(api, 'GET', '/nowhere')).status, 404);
  assert.equal((await request(api, 'POST', '/invocation/next')).status, 405);
  assert.equal((await request(api, 'GET', '/invocation/a/response')).status, 405);
});

test('a buffered response over 6291556 bytes is 413 RequestEntityTooLarge', T, async (t) => {
  const api = await withApi(t);
  const outcome = api.invoke({}, { requestId: 'big' });
  await request(api, 'GET', '/invocation/next');
  const r = await request(api, 'POST', '/invocation/big/response', { body: Buffer.alloc(MAX_PAYLOAD + 1, 'a') });
  assert.equal(r.status, 413);
  assert.deepEqual(r.json, { errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).', errorType: 'RequestEntityTooLarge' });
  assert.equal((await outcome).errorType, 'Function.ResponseSizeTooLarge');
});

test('/error keeps the error-type header and body; /init/error only before the first /next', T, async (t) => {
  const api = await withApi(t);
  const init = await request(api, 'POST', '/init/error', {
    headers: { 'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError', 'Content-Type': 'application/vnd.aws.lambda.error+json' },
    body: '{"errorType":"Runtime.ImportModuleError","errorMessage":"x","stackTrace":[]}',
  });
  assert.equal(init.status, 202);
  assert.equal((await api.initError).errorType, 'Runtime.ImportModuleError');
  const outcome = api.invoke({}, { requestId: 'e' });
  await request(api, 'GET', '/invocation/next');
  assert.equal((await request(api, 'POST', '/init/error', { body: '{}' })).status, 403);
  const err = await request(api, 'POST', '/invocation/e/error', { headers: { 'Lambda-Runtime-Function-Error-Type': 'Boom' }, body: '{"errorType":"Boom","errorMessage":"m"}' });
  assert.equal(err.status, 202);
  const o = await outcome;
  assert.equal(o.kind, 'error');
  assert.equal(o.errorType, 'Boom');
  assert.equal(o.json.errorMessage, 'm');
});

test('streamed responses: chunked body, and an error in the trailers', T, async (t) => {
  const api = await withApi(t);
  const ok = api.invoke({}, { requestId: 's1' });
  await request(api, 'GET', '/invocation/next');
  const streamHeaders = {
    'Lambda-Runtime-Function-Response-Mode': 'streaming',
    'Transfer-Encoding': 'chunked',
    Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
  };
  assert.equal((await request(api, 'POST', '/invocation/s1/response', { headers: streamHeaders, body: ['a', 'b', 'c'] })).status, 202);
  const o1 = await ok;
  assert.equal(o1.kind, 'response');
  assert.equal(o1.streamed, true);
  assert.equal(o1.text, 'abc');

  const failing = api.invoke({}, { requestId: 's2' });
  await request(api, 'GET', '/invocation/next');
  const errorJson = '{"errorType":"Oops","errorMessage":"mid"}';
  await request(api, 'POST', '/invocation/s2/response', {
    headers: streamHeaders,
    body: ['part'],
    trailers: { 'Lambda-Runtime-Function-Error-Type': 'Oops', 'Lambda-Runtime-Function-Error-Body': Buffer.from(errorJson).toString('base64') },
  });
  const o2 = await failing;
  assert.equal(o2.kind, 'error');
  assert.equal(o2.errorType, 'Oops');
  assert.equal(o2.streamBody.toString(), 'part');
  assert.deepEqual(o2.json, JSON.parse(errorJson));
});

test('an unanswered invocation times out at its deadline', T, async (t) => {
  const api = await withApi(t);
  const outcome = api.invoke({}, { requestId: 'slow', timeoutMs: 300 });
  await request(api, 'GET', '/invocation/next');
  const o = await within(outcome, 5000, 'the timeout');
  assert.equal(o.kind, 'timeout');
  assert.equal(o.errorMessage, 'Task timed out after 0.30 seconds');
  assert.equal((await request(api, 'POST', '/invocation/slow/response', { body: '1' })).status, 403);
});
