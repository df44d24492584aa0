// Invoke API conformance: the official @aws-sdk/client-lambda (SigV4-signed,
// endpoint pointed at the local service) against `tether lambda`, plus the
// service errors a plain HTTP client can provoke.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { InvokeCommand } from '@aws-sdk/client-lambda';

import { UUID_RE, makeWorkdir, nodeFunction, useLambda, writeFiles } from './lib/lambda.mjs';

const APP = `
export const handler = async (event, context) => {
  console.log('event-ran ' + (event.marker ?? 'none'));
  if (event.fail) throw new Error('asked to fail');
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return { echo: event, requestId: context.awsRequestId };
};
`;

const dir = makeWorkdir();
writeFiles(dir, { 'app/app.mjs': APP });
const lambda = await useLambda(dir, {
  functions: [
    nodeFunction('sdk', 'app.handler', { working_dir: 'app' }),
    nodeFunction('single', 'app.handler', { working_dir: 'app', concurrency: 1, queue: 0 }),
  ],
});
const client = lambda.client();
const decode = (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8'));
const encode = (value) => Buffer.from(JSON.stringify(value));

describe('Invoke API with @aws-sdk/client-lambda', () => {
  test('RequestResponse', { timeout: 60000 }, async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'sdk', Payload: encode({ a: 1 }) }));
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, undefined);
    assert.equal(out.ExecutedVersion, '$LATEST');
    const body = decode(out.Payload);
    assert.deepEqual(body.echo, { a: 1 });
    assert.match(body.requestId, UUID_RE);
    assert.equal(out.$metadata.requestId, body.requestId);
  });

  test('names: ARN, partial ARN, $LATEST qualifier', { timeout: 60000 }, async () => {
    for (const FunctionName of [
      'arn:aws:lambda:us-east-1:012345678912:function:sdk',
      '012345678912:function:sdk',
      'sdk:$LATEST',
    ]) {
      const out = await client.send(new InvokeCommand({ FunctionName, Payload: encode({ name: FunctionName }) }));
      assert.equal(out.StatusCode, 200, FunctionName);
      assert.deepEqual(decode(out.Payload).echo, { name: FunctionName });
    }
    const out = await client.send(new InvokeCommand({ FunctionName: 'sdk', Qualifier: '$LATEST' }));
    assert.equal(out.StatusCode, 200);
    assert.deepEqual(decode(out.Payload).echo, {}, 'no payload arrives as {}');
  });

  test('Event runs later and answers 202', { timeout: 60000 }, async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: 'sdk', InvocationType: 'Event', Payload: encode({ marker: 'async-1' }) }),
    );
    assert.equal(out.StatusCode, 202);
    assert.equal(Buffer.from(out.Payload ?? []).length, 0);
    const id = out.$metadata.requestId;
    assert.match(id, UUID_RE);
    await lambda.waitForOutput(new RegExp(`\\[sdk\\] END RequestId: ${id}`));
    assert.match(lambda.stdout, /event-ran async-1/);
  });

  test('DryRun answers 204 and runs nothing', { timeout: 60000 }, async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: 'sdk', InvocationType: 'DryRun', Payload: encode({ marker: 'dry' }) }),
    );
    assert.equal(out.StatusCode, 204);
    assert.doesNotMatch(lambda.stdout, /event-ran dry/);
  });

  test('LogType Tail returns the invocation log', { timeout: 60000 }, async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: 'sdk', LogType: 'Tail', Payload: encode({ marker: 'tail-me' }) }),
    );
    assert.equal(out.StatusCode, 200);
    const id = decode(out.Payload).requestId;
    const log = Buffer.from(out.LogResult, 'base64').toString('utf8');
    assert.ok(log.length <= 4096);
    assert.match(log, new RegExp(`^START RequestId: ${id} Version: \\$LATEST\\n`));
    assert.match(log, /event-ran tail-me/);
    assert.match(log, new RegExp(`\\nEND RequestId: ${id}\\n`));
    assert.match(log, new RegExp(`\\nREPORT RequestId: ${id}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB`));
  });

  test('a function error is FunctionError "Unhandled"', { timeout: 60000 }, async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'sdk', Payload: encode({ fail: true }) }));
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, 'Unhandled');
    const error = decode(out.Payload);
    assert.equal(error.errorType, 'Error');
    assert.equal(error.errorMessage, 'asked to fail');
  });

  test('an unknown function is ResourceNotFoundException', { timeout: 60000 }, async () => {
    for (const [FunctionName, Qualifier] of [
      ['nope', undefined],
      ['sdk', '7'],
    ]) {
      const err = await client.send(new InvokeCommand({ FunctionName, Qualifier })).then(
        () => assert.fail('expected an error'),
        (e) => e,
      );
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.$metadata.httpStatusCode, 404);
      assert.match(err.message, /^Function not found: arn:aws:lambda:us-east-1:012345678912:function:/);
    }
  });

  test('a busy function with no queue is throttled', { timeout: 60000 }, async () => {
    const slow = client.send(new InvokeCommand({ FunctionName: 'single', Payload: encode({ sleepMs: 1500 }) }));
    await lambda.waitForOutput(/\[single\] START RequestId/);
    const err = await client.send(new InvokeCommand({ FunctionName: 'single', Payload: encode({}) })).then(
      () => assert.fail('expected TooManyRequestsException'),
      (e) => e,
    );
    assert.equal(err.name, 'TooManyRequestsException');
    assert.equal(err.$metadata.httpStatusCode, 429);
    assert.equal((await slow).StatusCode, 200);
  });

  test('an Event payload over 1 MB is RequestTooLargeException', { timeout: 60000 }, async () => {
    const payload = encode({ big: 'x'.repeat(1024 * 1024) });
    const err = await client.send(new InvokeCommand({ FunctionName: 'sdk', InvocationType: 'Event', Payload: payload })).then(
      () => assert.fail('expected an error'),
      (e) => e,
    );
    assert.equal(err.name, 'RequestTooLargeException');
    assert.equal(err.$metadata.httpStatusCode, 413);
  });
});

describe('Invoke API over plain HTTP', () => {
  test('a body that is not JSON is InvalidRequestContentException', { timeout: 30000 }, async () => {
    const r = await lambda.invoke('sdk', 'not json{');
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
    assert.equal(r.json.Type, 'User');
    assert.match(r.json.Message, /^Could not parse request body into json/);
  });

  test('unknown function: x-amzn-ErrorType and {"Type":"User"}', { timeout: 30000 }, async () => {
    const r = await lambda.invoke('missing', {});
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
    assert.deepEqual(Object.keys(r.json).sort(), ['Message', 'Type']);
  });

  test("the Runtime Interface Emulator's route reaches the first function", { timeout: 30000 }, async () => {
    const r = await lambda.invoke('function', { via: 'rie' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.echo, { via: 'rie' });
  });

  test('bad invocation type and unknown operation', { timeout: 30000 }, async () => {
    let r = await lambda.invoke('sdk', {}, { 'X-Amz-Invocation-Type': 'Sometimes' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidParameterValueException');
    // (GET /2015-03-31/functions is ListFunctions now: lambda-control.test.mjs.)
    const res = await fetch(`${lambda.endpoint}/2015-03-31/nothing-here`, { method: 'GET' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException');
    r = await lambda.invoke('sdk', {}, { 'X-Amz-Client-Context': '!!!' });
    assert.equal(r.status, 400);
  });
});
