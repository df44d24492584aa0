// Runtime API details, checked from inside a sandbox by a runtime written
// by hand with node:http (no runtime client library in between): headers on
// /next, status codes and error bodies for wrong ids, wrong states, bad
// response modes and oversized answers, and streamed errors in trailers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { UUID_RE, makeWorkdir, useLambda, writeFiles } from './lib/lambda.mjs';

// The runtime probes the API and reports what it saw as its answer.
const RUNTIME = `
import http from 'node:http';
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime';

function call(method, path, { body, headers = {}, trailers } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: base + path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = text; }
        resolve({ status: res.statusCode, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    if (trailers) {
      req.write(body);
      req.addTrailers(trailers);
      req.end();
    } else {
      req.end(body);
    }
  });
}

let previous = null; // what the last invocation could only learn after answering
for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  const event = next.json;
  const report = { previous, next: { status: next.status, headers: next.headers, event } };
  if (event.probe === 'states') {
    report.badId = await call('POST', '/invocation/not-a-request/response', { body: '{}' });
    report.nextAgain = await call('GET', '/invocation/next');
    report.initErrorLate = await call('POST', '/init/error', { body: '{}' });
    report.badMode = await call('POST', '/invocation/' + id + '/response', {
      body: '{}', headers: { 'Lambda-Runtime-Function-Response-Mode': 'sideways' } });
    report.unknownPath = await call('GET', '/nothing/here');
    report.wrongMethod = await call('POST', '/invocation/next', { body: '' });
    const answer = JSON.stringify(report);
    const posted = await call('POST', '/invocation/' + id + '/response', { body: answer });
    const again = await call('POST', '/invocation/' + id + '/response', { body: '{}' });
    const errorAfter = await call('POST', '/invocation/' + id + '/error', { body: '{}' });
    previous = { posted, again, errorAfter };
  } else if (event.probe === 'too-large') {
    const tooLarge = await call('POST', '/invocation/' + id + '/response', { body: 'x'.repeat(6291557) });
    previous = { tooLarge };
  } else if (event.probe === 'stream-error') {
    const error = { errorMessage: 'half way', errorType: 'StreamBroke' };
    const streamed = await call('POST', '/invocation/' + id + '/response', {
      body: 'partial',
      headers: { 'Lambda-Runtime-Function-Response-Mode': 'streaming', 'Transfer-Encoding': 'chunked',
                 Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body' },
      trailers: { 'Lambda-Runtime-Function-Error-Type': 'StreamBroke',
                  'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(error)).toString('base64') },
    });
    previous = { streamed };
  } else if (event.probe === 'error-no-body') {
    const posted = await call('POST', '/invocation/' + id + '/error', {
      body: '', headers: { 'Lambda-Runtime-Function-Error-Type': 'Custom.NoBody' } });
    previous = { posted };
  } else {
    await call('POST', '/invocation/' + id + '/response', { body: JSON.stringify(report) });
  }
}
`;

const dir = makeWorkdir();
writeFiles(dir, { 'rt/runtime.mjs': RUNTIME });
const lambda = await useLambda(dir, {
  functions: [{ name: 'probe', working_dir: 'rt', bootstrap: ['node', 'runtime.mjs'], timeout: 10, concurrency: 1 }],
});

describe('Runtime API seen from a hand-written runtime', () => {
  let states;

  test('/next headers', { timeout: 60000 }, async () => {
    const before = Date.now();
    const r = await lambda.invoke('probe', { probe: 'headers' }, { 'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' });
    assert.equal(r.status, 200, r.text);
    const { status, headers, event } = r.json.next;
    assert.equal(status, 200);
    assert.deepEqual(event, { probe: 'headers' });
    assert.match(headers['lambda-runtime-aws-request-id'], UUID_RE);
    assert.equal(headers['lambda-runtime-aws-request-id'], r.headers.get('x-amzn-requestid'));
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    assert.ok(deadline >= before + 9000 && deadline <= Date.now() + 10000, `deadline ${deadline}`);
    assert.equal(headers['lambda-runtime-invoked-function-arn'], 'arn:aws:lambda:us-east-1:012345678912:function:probe');
    assert.equal(headers['lambda-runtime-trace-id'], 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1');
    assert.equal(headers['lambda-runtime-client-context'], undefined, 'only non-empty headers');
    assert.equal(headers['lambda-runtime-cognito-identity'], undefined);
    assert.equal(headers['content-type'], 'application/json');
  });

  test('wrong ids, wrong states, bad modes', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'states' });
    assert.equal(r.status, 200, r.text);
    states = r.json;
    assert.deepEqual(states.badId, {
      status: 400,
      headers: states.badId.headers,
      json: { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' },
    });
    // A second /next while the invocation is unanswered gets it again, as
    // AWS's runtime interface emulator does (fidelity.test.mjs has more).
    assert.equal(states.nextAgain.status, 200);
    assert.equal(states.nextAgain.headers['lambda-runtime-aws-request-id'],
      states.next.headers['lambda-runtime-aws-request-id']);
    assert.deepEqual(states.nextAgain.json, { probe: 'states' });
    assert.equal(states.initErrorLate.status, 403);
    assert.equal(states.initErrorLate.json.errorType, 'InvalidStateTransition');
    assert.equal(states.badMode.status, 400);
    assert.equal(states.badMode.json.errorType, 'InvalidFunctionResponseMode');
    assert.equal(states.unknownPath.status, 404);
    assert.equal(states.unknownPath.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(states.unknownPath.json, '404 page not found\n');
    assert.equal(states.wrongMethod.status, 405);
  });

  test('answering twice is an invalid state transition', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'plain' });
    const { posted, again, errorAfter } = r.json.previous;
    assert.equal(posted.status, 202);
    assert.deepEqual(posted.json, { status: 'OK' });
    assert.equal(again.status, 403);
    assert.equal(again.json.errorType, 'InvalidStateTransition');
    assert.equal(errorAfter.status, 403);
  });

  test('an answer over 6291556 bytes: 413 for the runtime, an error for the caller', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'too-large' });
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.equal(r.json.errorType, 'Function.ResponseSizeTooLarge');
    const seen = (await lambda.invoke('probe', { probe: 'plain' })).json.previous.tooLarge;
    assert.equal(seen.status, 413);
    assert.deepEqual(seen.json, {
      errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).',
      errorType: 'RequestEntityTooLarge',
    });
  });

  test('a streamed answer with error trailers is a function error', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'stream-error' });
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.deepEqual(r.json, { errorMessage: 'half way', errorType: 'StreamBroke' });
    const seen = (await lambda.invoke('probe', { probe: 'plain' })).json.previous.streamed;
    assert.equal(seen.status, 202);
  });

  test('an error without a body gets one made from its type', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'error-no-body' });
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.deepEqual(r.json, { errorMessage: 'Unknown application error occurred', errorType: 'Custom.NoBody' });
    await lambda.waitForOutput(/\[probe\] REPORT RequestId: /);
  });
});
