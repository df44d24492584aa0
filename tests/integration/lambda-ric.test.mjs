// Runtime API conformance: AWS's own Node.js runtime interface client
// (npm aws-lambda-ric, the code inside Lambda's Node images) runs handlers
// inside `tether lambda`: buffered answers, thrown errors, init errors and
// streamed answers (awslambda.streamifyResponse).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  LOG_STREAM_RE,
  UUID_RE,
  makeWorkdir,
  nodeFunction,
  useLambda,
  withTimeout,
  writeFiles,
} from './lib/lambda.mjs';

const APP = `
export const handler = async (event, context) => {
  console.log('handling', JSON.stringify(event));
  if (event.throw) throw new TypeError('boom: ' + event.throw);
  const env = {};
  for (const name of ['_HANDLER', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_EXECUTION_ENV',
      'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
      'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
      'AWS_LAMBDA_RUNTIME_API', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
      'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR', 'TZ', 'LANG', 'PATH', '_X_AMZN_TRACE_ID', 'STAGE'])
    env[name] = process.env[name];
  return {
    event,
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    functionName: context.functionName,
    memory: context.memoryLimitInMB,
    logStream: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext ?? null,
    env,
  };
};

export const stream = awslambda.streamifyResponse(async (event, responseStream) => {
  const http = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' },
    cookies: ['s=1; Path=/', 't=2'],
  });
  for (let i = 0; i < 3; i++) {
    http.write('part ' + i + '\\n');
    await new Promise((r) => setTimeout(r, 300));
  }
  if ((event.rawQueryString ?? '').includes('fail')) throw new Error('failed mid-stream');
  http.end();
});
`;

// Set up at the top level: after() hooks registered here run once the whole
// file is done (inside a before() hook they would run right after it).
const dir = makeWorkdir();
writeFiles(dir, {
  'app/app.mjs': APP,
  'broken/app.mjs': "throw new Error('cannot load this module');\n",
});
const lambda = await useLambda(dir, {
  credentials: { access_key_id: 'AKIDLOCAL', secret_access_key: 'local-secret', session_token: 'tok' },
  functions: [
    nodeFunction('ric', 'app.handler', {
      working_dir: 'app',
      memory: 256,
      timeout: 7,
      environment: { STAGE: 'test' },
    }),
    nodeFunction('ricstream', 'app.stream', { working_dir: 'app', url: true, streaming: true }),
    nodeFunction('ricbroken', 'app.handler', { working_dir: 'broken' }),
  ],
});

describe('aws-lambda-ric inside tether lambda', () => {
  test('buffered answer, context and environment', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('ric', { hello: 'world' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-amz-function-error'), null);
    assert.equal(r.headers.get('x-amz-executed-version'), '$LATEST');
    const body = r.json;
    assert.deepEqual(body.event, { hello: 'world' });
    assert.match(body.requestId, UUID_RE);
    assert.equal(body.requestId, r.headers.get('x-amzn-requestid'));
    assert.equal(body.arn, 'arn:aws:lambda:us-east-1:012345678912:function:ric');
    assert.equal(body.functionName, 'ric');
    assert.equal(String(body.memory), '256');
    assert.match(body.logStream, LOG_STREAM_RE);
    assert.ok(body.remaining > 5000 && body.remaining <= 7000, `remaining ${body.remaining}`);
    const env = body.env;
    assert.equal(env._HANDLER, 'app.handler');
    assert.equal(env.AWS_REGION, 'us-east-1');
    assert.equal(env.AWS_DEFAULT_REGION, 'us-east-1');
    assert.equal(env.AWS_EXECUTION_ENV, 'AWS_Lambda_nodejs20.x');
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'ric');
    assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '256');
    assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '$LATEST');
    assert.equal(env.AWS_LAMBDA_INITIALIZATION_TYPE, 'on-demand');
    assert.equal(env.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/ric');
    assert.equal(env.AWS_LAMBDA_LOG_STREAM_NAME, body.logStream);
    assert.match(env.AWS_LAMBDA_RUNTIME_API, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(env.AWS_LAMBDA_RUNTIME_API, `127.0.0.1:${lambda.port}`);
    assert.equal(env.AWS_ACCESS_KEY_ID, 'AKIDLOCAL');
    assert.equal(env.AWS_SECRET_ACCESS_KEY, 'local-secret');
    assert.equal(env.AWS_SESSION_TOKEN, 'tok');
    assert.ok(env.LAMBDA_TASK_ROOT.endsWith('/app'));
    assert.equal(env.TZ, ':UTC');
    assert.equal(env.LANG, 'en_US.UTF-8');
    assert.ok(env.PATH.length > 0);
    assert.match(env._X_AMZN_TRACE_ID, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
    assert.equal(env._X_AMZN_TRACE_ID, r.headers.get('x-amzn-trace-id'));
    assert.equal(env.STAGE, 'test');
    // START, the handler's own line and REPORT reach the service's stdout.
    await lambda.waitForOutput(new RegExp(`\\[ric\\] REPORT RequestId: ${body.requestId}\\t`));
    assert.match(lambda.stdout, new RegExp(`\\[ric\\] START RequestId: ${body.requestId} Version: \\$LATEST`));
    assert.match(lambda.stdout, new RegExp(`\\[ric\\] \\S+\\t${body.requestId}\\tINFO\\thandling \\{"hello":"world"\\}`));
  });

  test('warm sandbox is reused and client context arrives', { timeout: 60000 }, async () => {
    const first = await lambda.invoke('ric', { n: 1 });
    const context = { client: { app_title: 'tests' }, custom: { k: 'v' }, env: { locale: 'en' } };
    const second = await lambda.invoke(
      'ric',
      { n: 2 },
      { 'X-Amz-Client-Context': Buffer.from(JSON.stringify(context)).toString('base64') },
    );
    assert.equal(second.status, 200);
    assert.equal(second.json.logStream, first.json.logStream, 'the same sandbox answers both');
    assert.deepEqual(second.json.clientContext.custom, { k: 'v' });
    assert.deepEqual(second.json.clientContext.client, { app_title: 'tests' });
  });

  test('a thrown error is an Unhandled function error', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('ric', { throw: 'on purpose' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.equal(r.json.errorType, 'TypeError');
    assert.equal(r.json.errorMessage, 'boom: on purpose');
    assert.ok(Array.isArray(r.json.trace), 'the Node client sends "trace"');
    // The sandbox survives a handler's error.
    const again = await lambda.invoke('ric', { after: 'error' });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json.event, { after: 'error' });
  });

  test('a module that throws at load is an init error', { timeout: 60000 }, async () => {
    for (let i = 0; i < 2; i++) {
      const r = await lambda.invoke('ricbroken', {});
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
      assert.equal(r.json.errorType, 'Error');
      assert.equal(r.json.errorMessage, 'cannot load this module');
    }
    await lambda.waitForOutput(/\[ricbroken\] INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error/);
  });

  test('a streamed answer arrives in pieces with its prelude', { timeout: 60000 }, async () => {
    const started = Date.now();
    const res = await withTimeout(fetch(lambda.url('ricstream', 'path?x=1')), 20000, 'the stream');
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(res.headers.get('x-streamed'), 'yes');
    assert.deepEqual(res.headers.getSetCookie(), ['s=1; Path=/', 't=2']);
    const arrivals = [];
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      arrivals.push(Date.now() - started);
      text += decoder.decode(chunk, { stream: true });
    }
    assert.equal(text, 'part 0\npart 1\npart 2\n');
    assert.ok(arrivals.length >= 3, `arrived in ${arrivals.length} pieces`);
    assert.ok(arrivals.at(-1) - arrivals[0] >= 450, `pieces spread over ${arrivals.at(-1) - arrivals[0]} ms`);
  });

  test('a stream that fails midway is cut short', { timeout: 60000 }, async () => {
    const res = await withTimeout(fetch(lambda.url('ricstream', '?fail=1')), 20000, 'the stream');
    assert.equal(res.status, 201);
    let text = '';
    const decoder = new TextDecoder();
    await assert.rejects(async () => {
      for await (const chunk of res.body) text += decoder.decode(chunk, { stream: true });
    });
    assert.ok(text.startsWith('part 0\n'), text);
    await lambda.waitForOutput(/\[ricstream\] .*ERROR\tInvoke Error.*failed mid-stream/);
  });

  test('Invoke on a streaming function gets the whole stream', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('ricstream', { rawQueryString: '' });
    assert.equal(r.status, 200);
    assert.ok(r.text.endsWith('part 0\npart 1\npart 2\n'), r.text);
    assert.ok(r.text.includes('"statusCode":201'));
  });
});
