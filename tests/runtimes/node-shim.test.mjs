// The Node.js runtime shim (runtimes/node/index.mjs) against the test
// Runtime API: handler loading, handler styles, context, errors, logs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_STREAM, invoke, makeProject, startShim, within } from './lib/harness.mjs';
import { DEFAULT_ARN } from './lib/runtime-api.mjs';

const T = { timeout: 30000 };

const CONTEXT_HANDLER = `
  return {
    event,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    clientContext: context.clientContext,
    identity: context.identity,
    remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop,
    trace: process.env._X_AMZN_TRACE_ID,
    hasDone: typeof context.done === 'function' && typeof context.succeed === 'function' && typeof context.fail === 'function',
  };`;

async function initErrorOf(t, files, handler, env) {
  const root = makeProject(t, files);
  const shim = await startShim(t, { handler, root, env });
  const initError = await within(shim.api.initError, 15000, 'the init error');
  const done = await shim.finished();
  assert.notEqual(done.code, 0, 'the shim exits non-zero after an init error');
  assert.equal(initError.contentType, 'application/vnd.aws.lambda.error+json');
  assert.equal(initError.json.errorType, initError.errorType, 'the header names the body\'s errorType');
  assert.ok(Array.isArray(initError.json.stackTrace));
  return { ...initError, ...done };
}

test('ESM async handler: result, context fields and one keep-alive connection', T, async (t) => {
  const root = makeProject(t, { 'index.mjs': `export const handler = async (event, context) => {${CONTEXT_HANDLER}\n};\n` });
  const shim = await startShim(t, { handler: 'index.handler', root });
  const deadline = Date.now() + 60000;
  const identity = { cognitoIdentityId: 'us-east-1:abc', cognitoIdentityPoolId: 'us-east-1:pool' };
  const clientContext = { client: { app_title: 'app' }, custom: { k: 'v' }, env: { platform: 'test' } };
  const r = await invoke(shim, { hello: 'world' }, {
    requestId: 'req-1', deadlineMs: deadline, traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    clientContext, cognitoIdentity: identity,
  });
  assert.equal(r.kind, 'response');
  assert.equal(r.contentType, 'application/json');
  const v = r.json;
  assert.deepEqual(v.event, { hello: 'world' });
  assert.equal(v.awsRequestId, 'req-1');
  assert.equal(v.invokedFunctionArn, DEFAULT_ARN);
  assert.equal(v.functionName, 'test-fn');
  assert.equal(v.functionVersion, '$LATEST');
  assert.equal(v.memoryLimitInMB, '256');
  assert.equal(v.logGroupName, '/aws/lambda/test-fn');
  assert.equal(v.logStreamName, LOG_STREAM);
  assert.deepEqual(v.clientContext, clientContext);
  assert.deepEqual(v.identity, identity);
  assert.ok(v.remaining > 50000 && v.remaining <= 60000, `remaining ${v.remaining}`);
  assert.equal(v.waits, true);
  assert.equal(v.trace, 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
  assert.equal(v.hasDone, true);

  // A short deadline shows in getRemainingTimeInMillis; absent headers stay undefined.
  const r2 = await invoke(shim, { n: 2 }, { requestId: 'req-2', timeoutMs: 3000 });
  assert.ok(r2.json.remaining <= 3000 && r2.json.remaining > 1000, `remaining ${r2.json.remaining}`);
  assert.equal(r2.json.clientContext, undefined);
  assert.equal(r2.json.identity, undefined);
  assert.notEqual(r2.json.trace, v.trace, '_X_AMZN_TRACE_ID follows each invocation');

  const sockets = new Set(shim.api.log.map((e) => e.socket));
  assert.equal(sockets.size, 1, `one keep-alive connection, saw ${JSON.stringify(shim.api.log)}`);
});

test('.js with "type":"module" is ESM; nested dir/file.method handler paths', T, async (t) => {
  const root = makeProject(t, {
    'package.json': '{"type":"module"}',
    'src/handlers/api.js': `import { sep } from 'node:path';
      export const routes = { get: async (event) => ({ esm: typeof require === 'undefined', sep, event }) };
      export const handler = async () => 'top';\n`,
  });
  const shim = await startShim(t, { handler: 'src/handlers/api.routes.get', root });
  const r = await invoke(shim, [1, 2]);
  assert.equal(r.kind, 'response');
  assert.deepEqual(r.json, { esm: true, sep: '/', event: [1, 2] });
});

test('CommonJS .js and .cjs handlers load through require', T, async (t) => {
  const root = makeProject(t, {
    'a.js': 'exports.handler = async () => ({ cjs: typeof require === "function", file: __filename.split("/").pop() });\n',
    'lib/b.cjs': 'module.exports.handler = async () => ({ cjs: typeof module === "object", file: __filename.split("/").pop() });\n',
  });
  const a = await startShim(t, { handler: 'a.handler', root });
  assert.deepEqual((await invoke(a, {})).json, { cjs: true, file: 'a.js' });
  const b = await startShim(t, { handler: 'lib/b.handler', root });
  assert.deepEqual((await invoke(b, {})).json, { cjs: true, file: 'b.cjs' });
});

test('extension order: .js before .mjs before .cjs; Node resolution last', T, async (t) => {
  const root = makeProject(t, {
    'index.js': 'exports.handler = async () => "js";\n',
    'index.mjs': 'export const handler = async () => "mjs";\n',
    'index.cjs': 'exports.handler = async () => "cjs";\n',
    'only.mjs': 'export const handler = async () => "mjs";\n',
    'only.cjs': 'exports.handler = async () => "cjs";\n',
    'pkgdir/index.js': 'exports.handler = async () => "dir-index";\n',
  });
  for (const [handler, expected] of [['index.handler', 'js'], ['only.handler', 'mjs'], ['pkgdir.handler', 'dir-index']]) {
    const shim = await startShim(t, { handler, root });
    const r = await invoke(shim, {});
    assert.equal(r.json, expected, handler);
  }
});

test('callback handler: with callbackWaitsForEmptyEventLoop the answer waits for pending timers', T, async (t) => {
  const root = makeProject(t, {
    'index.js': `
      exports.waits = (event, context, callback) => {
        setTimeout(() => { globalThis.timerFired = Date.now(); }, 400);
        callback(null, { at: Date.now() });
      };
      exports.nowait = (event, context, callback) => {
        context.callbackWaitsForEmptyEventLoop = false;
        setTimeout(() => {}, 2000);
        callback(null, { at: Date.now() });
      };
      exports.later = (event, context, callback) => {
        setTimeout(() => callback(null, 'later'), 100);
      };`,
  });
  const waits = await startShim(t, { handler: 'index.waits', root });
  let t0 = Date.now();
  const r1 = await invoke(waits, {});
  assert.equal(r1.kind, 'response');
  assert.ok(Date.now() - t0 >= 380, `answered after ${Date.now() - t0} ms, before the timer drained`);

  const nowait = await startShim(t, { handler: 'index.nowait', root });
  t0 = Date.now();
  const r2 = await invoke(nowait, {});
  assert.equal(r2.kind, 'response');
  assert.ok(Date.now() - t0 < 1500, `answered after ${Date.now() - t0} ms despite callbackWaitsForEmptyEventLoop=false`);

  const later = await startShim(t, { handler: 'index.later', root });
  assert.equal((await invoke(later, {})).json, 'later');
});

test('sync handlers: a returned value is ignored (null, with a warning); legacy context.succeed/done', T, async (t) => {
  const root = makeProject(t, {
    'index.js': `
      exports.sync = (event) => ({ ignored: true });
      exports.undef = async () => undefined;
      exports.succeed = (event, context) => { context.succeed({ legacy: 'succeed' }); };
      exports.done = (event, context) => { context.done(null, { legacy: 'done' }); };
      exports.fail = (event, context) => { context.fail(new Error('legacy fail')); };`,
  });
  const sync = await startShim(t, { handler: 'index.sync', root });
  const r = await invoke(sync, {});
  assert.equal(r.kind, 'response');
  assert.equal(r.text, 'null');
  await sync.waitForOutput(/WARN\tThe handler returned a value without a Promise/, 5000, 'stderr');

  const undef = await startShim(t, { handler: 'index.undef', root });
  assert.equal((await invoke(undef, {})).text, 'null', 'an async handler resolving undefined answers null');

  for (const name of ['succeed', 'done']) {
    const shim = await startShim(t, { handler: `index.${name}`, root });
    assert.deepEqual((await invoke(shim, {})).json, { legacy: name });
  }
  const fail = await startShim(t, { handler: 'index.fail', root });
  const f = await invoke(fail, {});
  assert.equal(f.kind, 'error');
  assert.equal(f.json.errorMessage, 'legacy fail');
});

test('errors: thrown, rejected and callback(err) post {errorType, errorMessage, trace} with no type header', T, async (t) => {
  const root = makeProject(t, {
    'index.mjs': `
      class NotFound extends Error { constructor(m) { super(m); this.name = 'NotFound'; } }
      export const thrown = async (event) => { throw new NotFound('no item ' + event.id); };
      export const syncThrow = () => { throw new TypeError('bad type'); };
      export const cb = (event, context, callback) => { callback(new RangeError('out of range')); };
      export const str = (event, context, callback) => { callback('plain string'); };`,
  });
  const shim = await startShim(t, { handler: 'index.thrown', root });
  const r = await invoke(shim, { id: 7 });
  assert.equal(r.kind, 'error');
  assert.equal(r.errorType, undefined, 'no Lambda-Runtime-Function-Error-Type header');
  assert.equal(r.contentType, 'application/vnd.aws.lambda.error+json');
  assert.equal(r.json.errorType, 'NotFound');
  assert.equal(r.json.errorMessage, 'no item 7');
  assert.ok(Array.isArray(r.json.trace) && r.json.trace[0] === 'NotFound: no item 7', JSON.stringify(r.json.trace));
  assert.ok(r.json.trace.some((l) => l.includes('index.mjs')), 'the trace points into the handler file');
  assert.equal(r.json.stackTrace, undefined);
  await shim.waitForOutput(/ERROR\tInvoke Error \t\{"errorType":"NotFound"/, 5000, 'stderr');
  // The worker lives on after a function error.
  const again = await invoke(shim, { id: 8 });
  assert.equal(again.json.errorMessage, 'no item 8');

  const expectations = [['syncThrow', 'TypeError', 'bad type'], ['cb', 'RangeError', 'out of range'], ['str', 'string', 'plain string']];
  for (const [handler, type, message] of expectations) {
    const s = await startShim(t, { handler: `index.${handler}`, root });
    const e = await invoke(s, {});
    assert.equal(e.kind, 'error', handler);
    assert.equal(e.json.errorType, type, handler);
    assert.equal(e.json.errorMessage, message, handler);
  }
});

test('init error: module not found', T, async (t) => {
  const e = await initErrorOf(t, { 'other.js': '' }, 'missing.handler');
  assert.equal(e.errorType, 'Runtime.ImportModuleError');
  assert.match(e.json.errorMessage, /Cannot find module 'missing'/);
  assert.match(e.stderr, /Runtime\.ImportModuleError/);
});

test('init error: a dependency of the handler is missing', T, async (t) => {
  const e = await initErrorOf(t, { 'index.js': 'require("./not-there");\nexports.handler = async () => 1;\n' }, 'index.handler');
  assert.equal(e.errorType, 'Runtime.ImportModuleError');
  assert.match(e.json.errorMessage, /Cannot find module '\.\/not-there'/);
});

test('init error: syntax error in a CommonJS handler names file:line', T, async (t) => {
  const e = await initErrorOf(t, { 'src/app.js': 'exports.a = 1;\n\nexports.handler = () => {\n  let x = ;\n};\n' }, 'src/app.handler');
  assert.equal(e.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(e.json.errorMessage, /^src\/app\.js:4: SyntaxError: Unexpected token/);
  assert.match(e.stderr, /src\/app\.js:4/, 'the developer sees the location too');
});

test('init error: syntax error in an ES module (and in one it imports) names file:line', T, async (t) => {
  const files = {
    'index.mjs': 'export const handler = async () => {\n  return { a: 1 \n};;; }}\n',
    'main.mjs': 'import { helper } from "./lib/helper.mjs";\nexport const handler = async () => helper();\n',
    'lib/helper.mjs': 'export function helper() {\n  return 1;\n}\nexport const broken = (;\n',
  };
  const e1 = await initErrorOf(t, files, 'index.handler');
  assert.equal(e1.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(e1.json.errorMessage, /^index\.mjs:3: SyntaxError: Unexpected token/);
  const e2 = await initErrorOf(t, files, 'main.handler');
  assert.equal(e2.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(e2.json.errorMessage, /^lib\/helper\.mjs:4: SyntaxError/);
});

test('init error: handler missing, not a function, malformed name, top-level throw', T, async (t) => {
  const files = {
    'index.mjs': 'export const notFn = 42;\nexport const handler = async () => 1;\n',
    'boom.js': 'throw new Error("config missing at startup");\n',
  };
  const missing = await initErrorOf(t, files, 'index.nope');
  assert.equal(missing.errorType, 'Runtime.HandlerNotFound');
  assert.equal(missing.json.errorMessage, 'index.nope is undefined or not exported');
  const notFn = await initErrorOf(t, files, 'index.notFn');
  assert.equal(notFn.errorType, 'Runtime.HandlerNotFound');
  assert.equal(notFn.json.errorMessage, 'index.notFn is not a function');
  const malformed = await initErrorOf(t, files, 'index');
  assert.equal(malformed.errorType, 'Runtime.MalformedHandlerName');
  const boom = await initErrorOf(t, files, 'boom.handler');
  assert.equal(boom.errorType, 'Error');
  assert.equal(boom.json.errorMessage, 'config missing at startup');
});

test('init error: a top-level await that never settles', T, async (t) => {
  const e = await initErrorOf(t, { 'index.mjs': 'await new Promise(() => {});\nexport const handler = async () => 1;\n' }, 'index.handler');
  assert.equal(e.errorType, 'Runtime.UnsettledTopLevelAwait');
  assert.match(e.json.errorMessage, /never finished loading/);
});

test('an uncaught exception during an invocation fails it, then the worker exits', T, async (t) => {
  const root = makeProject(t, {
    'index.js': `
      exports.exception = async () => { setTimeout(() => { throw new Error('thrown from a timer'); }, 10); await new Promise((r) => setTimeout(r, 5000)); };
      exports.rejection = async () => { Promise.reject(new Error('nobody caught me')); await new Promise((r) => setTimeout(r, 5000)); };`,
  });
  const ex = await startShim(t, { handler: 'index.exception', root });
  const r = await invoke(ex, {});
  assert.equal(r.kind, 'error');
  assert.equal(r.json.errorType, 'Error');
  assert.equal(r.json.errorMessage, 'thrown from a timer');
  const exDone = await ex.finished();
  assert.equal(exDone.code, 129);
  assert.match(exDone.stderr, /Uncaught Exception/);

  const rej = await startShim(t, { handler: 'index.rejection', root });
  const r2 = await invoke(rej, {});
  assert.equal(r2.kind, 'error');
  assert.equal(r2.json.errorType, 'Runtime.UnhandledPromiseRejection');
  assert.equal(r2.json.errorMessage, 'Error: nobody caught me');
  assert.equal((await rej.finished()).code, 128);
});

test('1 MB event and response; an oversized response is refused and the worker goes on', T, async (t) => {
  const root = makeProject(t, {
    'index.mjs': `export const handler = async (event) => event.big ? 'x'.repeat(7 * 1024 * 1024) : { echo: event.data, length: event.data.length };\n`,
  });
  const shim = await startShim(t, { handler: 'index.handler', root });
  const data = 'é'.repeat(256 * 1024) + 'a'.repeat(512 * 1024); // 1 MiB of UTF-8
  const r = await invoke(shim, { data });
  assert.equal(r.kind, 'response');
  assert.equal(r.json.length, data.length);
  assert.equal(r.json.echo, data);
  assert.ok(r.body.length > 1024 * 1024);

  const big = await invoke(shim, { big: true });
  assert.equal(big.kind, 'error');
  assert.equal(big.errorType, 'Function.ResponseSizeTooLarge');
  await shim.waitForOutput(/Runtime API answered 413/, 5000, 'stderr');
  const after = await invoke(shim, { data: 'ok' });
  assert.deepEqual(after.json, { echo: 'ok', length: 2 });
});

test('console lines carry timestamp, request id and level; JSON log format', T, async (t) => {
  const root = makeProject(t, {
    'index.mjs': `console.log('during init');
      export const handler = async (event, context) => {
        console.log('hello %s', 'world', { a: 1 });
        console.info('info line');
        console.warn('warn line');
        console.error('error line');
        console.debug('debug line');
        return 'ok';
      };\n`,
  });
  const shim = await startShim(t, { handler: 'index.handler', root });
  await invoke(shim, {}, { requestId: 'log-req' });
  await shim.waitForOutput(/error line/, 5000, 'stderr');
  const out = shim.out();
  const err = shim.err();
  assert.match(out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tundefined\tINFO\tduring init$/m);
  assert.match(out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tlog-req\tINFO\thello world \{ a: 1 \}$/m);
  assert.match(out, /\tlog-req\tINFO\tinfo line$/m);
  assert.match(out, /\tlog-req\tDEBUG\tdebug line$/m);
  assert.match(err, /\tlog-req\tWARN\twarn line$/m);
  assert.match(err, /\tlog-req\tERROR\terror line$/m);

  const json = await startShim(t, { handler: 'index.handler', root, env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' } });
  await invoke(json, {}, { requestId: 'json-req' });
  await json.waitForOutput(/error line/, 5000, 'stderr');
  const lines = json.out().trim().split('\n').map((l) => JSON.parse(l));
  const hello = lines.find((l) => l.message === 'hello world { a: 1 }');
  assert.equal(hello.level, 'INFO');
  assert.equal(hello.requestId, 'json-req');
  assert.match(hello.timestamp, /Z$/);
  assert.ok(!lines.some((l) => l.level === 'DEBUG'), 'DEBUG is below AWS_LAMBDA_LOG_LEVEL=INFO');
  const errLine = JSON.parse(json.err().trim().split('\n').find((l) => l.includes('error line')));
  assert.equal(errLine.level, 'ERROR');
});

test('SIGTERM ends the worker promptly', T, async (t) => {
  const root = makeProject(t, { 'index.mjs': 'export const handler = async () => 1;\n' });
  const shim = await startShim(t, { handler: 'index.handler', root });
  await within(shim.api.waitForNext(), 10000, 'the first /next');
  const t0 = Date.now();
  shim.proc.kill('SIGTERM');
  const done = await shim.finished(5000);
  assert.equal(done.code, 0);
  assert.ok(Date.now() - t0 < 2000);
});

test('runs under --inspect (a debugger can attach to the worker)', T, async (t) => {
  const root = makeProject(t, { 'index.mjs': 'export const handler = async () => "inspected";\n' });
  const shim = await startShim(t, { handler: 'index.handler', root, args: ['--inspect=127.0.0.1:0'] });
  await shim.waitForOutput(/Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//, 10000, 'stderr');
  assert.equal((await invoke(shim, {})).json, 'inspected');
});
