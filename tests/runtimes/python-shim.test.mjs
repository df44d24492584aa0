// The Python runtime shim (runtimes/python/bootstrap.py) against the test
// Runtime API. The first Python 3.9+ found gets the whole suite, any other
// one a smoke test.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { LOG_STREAM, invoke, makeProject, pythonInterpreters, startShim, within } from './lib/harness.mjs';
import { DEFAULT_ARN } from './lib/runtime-api.mjs';

const T = { timeout: 30000 };
const pythons = pythonInterpreters();

const APP = `
import decimal
import json
import logging
import os
import sys
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("module loaded")

class OrderError(Exception):
    pass

def handler(event, context):
    cc = context.client_context
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "app_title": cc.client.app_title if cc.client else None,
            "custom": cc.custom,
            "env": cc.env,
        },
        "sys_path0": sys.path[0],
    }

def fails(event, context):
    raise OrderError("order %s not found" % event.get("id"))

def nested_fail(event, context):
    def inner():
        return {}["missing"]
    return inner()

def decimals(event, context):
    return {"price": decimal.Decimal("9.5"), "count": decimal.Decimal("3")}

def unserializable(event, context):
    return {"when": object()}

def echo(event, context):
    if event.get("big"):
        return "x" * (7 * 1024 * 1024)
    return {"data": event["data"], "length": len(event["data"])}

def logs(event, context):
    print("plain print")
    logger.info("info %s", "line")
    logger.warning("warn line")
    logger.error("error line")
    logger.debug("debug line")
    return "ok"

def exits(event, context):
    sys.exit(3)

def nothing(event, context):
    return None

not_callable = 42
`;

const pythonOnly = pythons.length === 0 ? 'no Python 3.9+ found' : false;

describe(`python shim (${pythons[0] ? `${pythons[0].version} ${pythons[0].exe}` : 'none'})`, { skip: pythonOnly }, () => {
  const python = pythons[0]?.exe;
  const start = (t, handler, root, env, extra = {}) => startShim(t, { runtime: 'python', python, handler, root, env, ...extra });

  async function initErrorOf(t, files, handler) {
    const root = makeProject(t, files);
    const shim = await start(t, handler, root);
    const e = await within(shim.api.initError, 15000, 'the init error');
    const done = await shim.finished();
    assert.notEqual(done.code, 0, 'the shim exits non-zero after an init error');
    assert.equal(e.contentType, 'application/vnd.aws.lambda.error+json');
    assert.equal(e.json.errorType, e.errorType, 'header and body agree');
    assert.ok(Array.isArray(e.json.stackTrace));
    return { ...e, ...done };
  }

  test('result, context fields, trace id, keep-alive connection', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.handler', root);
    const clientContext = { client: { app_title: 'my app' }, custom: { k: 'v' }, env: { platform: 'test' } };
    const r = await invoke(shim, { a: [1, 'two'] }, {
      requestId: 'py-1', timeoutMs: 60000, traceId: 'Root=1-abc;Parent=def;Sampled=1', clientContext,
      cognitoIdentity: { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' },
    });
    assert.equal(r.kind, 'response');
    const v = r.json;
    assert.deepEqual(v.event, { a: [1, 'two'] });
    assert.equal(v.aws_request_id, 'py-1');
    assert.equal(v.function_name, 'test-fn');
    assert.equal(v.function_version, '$LATEST');
    assert.equal(v.invoked_function_arn, DEFAULT_ARN);
    assert.equal(v.memory_limit_in_mb, '256');
    assert.equal(v.log_group_name, '/aws/lambda/test-fn');
    assert.equal(v.log_stream_name, LOG_STREAM);
    assert.ok(v.remaining > 50000 && v.remaining <= 60000, `remaining ${v.remaining}`);
    assert.equal(v.trace, 'Root=1-abc;Parent=def;Sampled=1');
    assert.deepEqual(v.identity, ['id-1', 'pool-1']);
    assert.deepEqual(v.client_context, { app_title: 'my app', custom: { k: 'v' }, env: { platform: 'test' } });
    assert.equal(v.sys_path0, root, 'LAMBDA_TASK_ROOT is first on sys.path');

    const r2 = await invoke(shim, {}, { requestId: 'py-2', timeoutMs: 2000 });
    assert.ok(r2.json.remaining <= 2000 && r2.json.remaining > 500, `remaining ${r2.json.remaining}`);
    assert.equal(r2.json.client_context, null);
    assert.deepEqual(r2.json.identity, [null, null]);
    assert.notEqual(r2.json.trace, v.trace);
    assert.equal(new Set(shim.api.log.map((e) => e.socket)).size, 1, 'one keep-alive connection');
  });

  test('dotted and slashed package paths', T, async (t) => {
    const root = makeProject(t, {
      'pkg/__init__.py': '',
      'pkg/sub/__init__.py': '',
      'pkg/sub/mod.py': 'def handler(event, context):\n    return __name__\n',
    });
    for (const handler of ['pkg.sub.mod.handler', 'pkg/sub/mod.handler']) {
      const shim = await start(t, handler, root);
      assert.equal((await invoke(shim, {})).json, 'pkg.sub.mod', handler);
    }
  });

  test('an exception posts {errorMessage, errorType, requestId, stackTrace} with the type header', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.fails', root);
    const r = await invoke(shim, { id: 42 }, { requestId: 'err-1' });
    assert.equal(r.kind, 'error');
    assert.equal(r.errorType, 'OrderError');
    assert.equal(r.contentType, 'application/vnd.aws.lambda.error+json');
    assert.deepEqual(Object.keys(r.json).sort(), ['errorMessage', 'errorType', 'requestId', 'stackTrace']);
    assert.equal(r.json.errorType, 'OrderError');
    assert.equal(r.json.errorMessage, 'order 42 not found');
    assert.equal(r.json.requestId, 'err-1');
    assert.equal(r.json.stackTrace.length, 1, JSON.stringify(r.json.stackTrace));
    assert.match(r.json.stackTrace[0], /^ {2}File ".*app\.py", line \d+, in fails\n {4}raise OrderError/);
    await shim.waitForOutput(/\[ERROR\]\t.*\terr-1\tOrderError: order 42 not found/, 5000, 'stderr');
    // The worker goes on.
    assert.equal((await invoke(shim, { id: 43 })).json.errorMessage, 'order 43 not found');

    const nested = await start(t, 'app.nested_fail', root);
    const n = await invoke(nested, {});
    assert.equal(n.errorType, 'KeyError');
    assert.equal(n.json.errorMessage, "'missing'");
    assert.equal(n.json.stackTrace.length, 2);
  });

  test('a same-sized edit within the same second is seen (no stale .pyc)', T, async (t) => {
    const root = makeProject(t, { 'app.py': 'def handler(event, context):\n    return 1\n' });
    const file = path.join(root, 'app.py');
    // Both versions carry the same whole-second mtime and the same size, as
    // two quick saves do; a .pyc of the first would pass Python's check.
    const second = new Date(Math.floor(Date.now() / 1000) * 1000);
    fs.utimesSync(file, second, second);
    const first = await start(t, 'app.handler', root);
    assert.equal((await invoke(first, {})).json, 1);
    fs.writeFileSync(file, 'def handler(event, context):\n    return 2\n');
    fs.utimesSync(file, second, second);
    const next = await start(t, 'app.handler', root);
    assert.equal((await invoke(next, {})).json, 2, 'the edited file ran, not a cached first version');
  });

  test('init errors: missing module, missing dependency, syntax error with file and line', T, async (t) => {
    const missing = await initErrorOf(t, { 'other.py': '' }, 'nope.handler');
    assert.equal(missing.errorType, 'Runtime.ImportModuleError');
    assert.equal(missing.json.errorMessage, "Unable to import module 'nope': No module named 'nope'");
    assert.match(missing.stderr, /Runtime\.ImportModuleError/);

    const dep = await initErrorOf(t, { 'app.py': 'import requests_not_installed\ndef handler(e, c):\n    return 1\n' }, 'app.handler');
    assert.equal(dep.errorType, 'Runtime.ImportModuleError');
    assert.match(dep.json.errorMessage, /No module named 'requests_not_installed'/);

    const syntax = await initErrorOf(t, {
      'pkg/__init__.py': '',
      'pkg/app.py': 'def handler(event, context):\n    x = (1,\n    return x\n\ndef other(:\n    pass\n',
    }, 'pkg/app.handler');
    assert.equal(syntax.errorType, 'Runtime.UserCodeSyntaxError');
    assert.match(syntax.json.errorMessage, /^Syntax error in module 'pkg\.app': .+ \(pkg\/app\.py, line \d+\)$/);
    assert.match(syntax.json.stackTrace[0], /File ".*pkg\/app\.py" Line \d+/);
    assert.match(syntax.stderr, /pkg\/app\.py, line \d+/, 'the developer sees the location');
  });

  test('init errors: handler missing, not callable, malformed name, exception at import', T, async (t) => {
    const files = { 'app.py': APP, 'boom.py': 'raise ValueError("bad config")\n' };
    const missing = await initErrorOf(t, files, 'app.nope');
    assert.equal(missing.errorType, 'Runtime.HandlerNotFound');
    assert.equal(missing.json.errorMessage, "Handler 'nope' missing on module 'app'");
    const notCallable = await initErrorOf(t, files, 'app.not_callable');
    assert.equal(notCallable.errorType, 'Runtime.HandlerNotFound');
    const malformed = await initErrorOf(t, files, 'app');
    assert.equal(malformed.errorType, 'Runtime.MalformedHandlerName');
    assert.match(malformed.json.errorMessage, /^Bad handler 'app'/);
    const boom = await initErrorOf(t, files, 'boom.handler');
    assert.equal(boom.errorType, 'ValueError');
    assert.equal(boom.json.errorMessage, 'bad config');
    assert.match(boom.json.stackTrace.join(''), /boom\.py", line 1/);
  });

  test('results: None is null, Decimal is a float, unserialisable is Runtime.MarshalError', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const none = await start(t, 'app.nothing', root);
    assert.equal((await invoke(none, {})).text, 'null');
    const dec = await start(t, 'app.decimals', root);
    assert.deepEqual((await invoke(dec, {})).json, { price: 9.5, count: 3 });
    const bad = await start(t, 'app.unserializable', root);
    const r = await invoke(bad, {});
    assert.equal(r.kind, 'error');
    assert.equal(r.errorType, 'Runtime.MarshalError');
    assert.match(r.json.errorMessage, /^Unable to marshal response: Object of type object is not JSON serializable/);
  });

  test('1 MB event and response; an oversized response is refused and the worker goes on', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.echo', root);
    const data = 'é'.repeat(256 * 1024) + 'a'.repeat(512 * 1024);
    const r = await invoke(shim, { data });
    assert.equal(r.kind, 'response');
    assert.equal(r.json.length, data.length);
    assert.equal(r.json.data, data);
    const big = await invoke(shim, { big: true });
    assert.equal(big.errorType, 'Function.ResponseSizeTooLarge');
    await shim.waitForOutput(/Runtime API answered 413/, 5000, 'stderr');
    assert.deepEqual((await invoke(shim, { data: 'ok' })).json, { data: 'ok', length: 2 });
  });

  test('logging lines carry level, timestamp and request id; print passes through; JSON format', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.logs', root);
    await invoke(shim, {}, { requestId: 'log-1' });
    await shim.waitForOutput(/error line/, 5000, 'stderr');
    assert.match(shim.out(), /^module loaded$/m);
    assert.match(shim.out(), /^plain print$/m);
    assert.match(shim.out(), /^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tlog-1\tinfo line$/m);
    assert.match(shim.err(), /^\[WARNING\]\t\S+Z\tlog-1\twarn line$/m);
    assert.match(shim.err(), /^\[ERROR\]\t\S+Z\tlog-1\terror line$/m);
    assert.doesNotMatch(shim.out() + shim.err(), /debug line/, 'the level the code set applies');

    const json = await start(t, 'app.logs', root, { AWS_LAMBDA_LOG_FORMAT: 'JSON' });
    await invoke(json, {}, { requestId: 'log-2' });
    await json.waitForOutput(/error line/, 5000, 'stderr');
    const info = json.out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.message === 'info line');
    assert.equal(info.level, 'INFO');
    assert.equal(info.requestId, 'log-2');
    assert.equal(info.logger, 'root');
    assert.match(info.timestamp, /Z$/);
  });

  test('debugpy: a clear notice when it is missing; listen() without waiting when it is there', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.nothing', root, { TETHER_DEBUGPY_PORT: '5679' });
    await shim.waitForOutput(/TETHER_DEBUGPY_PORT=5679 is set but debugpy is not installed/, 5000, 'stderr');
    assert.equal((await invoke(shim, {})).text, 'null', 'the function runs without a debugger');

    // A stand-in debugpy module records how it was called.
    const fake = makeProject(t, {
      'debugpy/__init__.py': [
        'import json, os',
        'def listen(address):',
        '    open(os.environ["FAKE_DEBUGPY_LOG"], "a").write(json.dumps({"listen": list(address)}) + "\\n")',
        'def wait_for_client():',
        '    open(os.environ["FAKE_DEBUGPY_LOG"], "a").write("waited\\n")',
        '',
      ].join('\n'),
    });
    const logFile = `${fake}/calls.log`;
    const withDebugpy = await start(t, 'app.nothing', root, { TETHER_DEBUGPY_PORT: '5680', PYTHONPATH: fake, FAKE_DEBUGPY_LOG: logFile });
    await withDebugpy.waitForOutput(/debugpy listening on 127\.0\.0\.1:5680/, 5000, 'stderr');
    assert.equal((await invoke(withDebugpy, {})).text, 'null');
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(logFile, 'utf8'), '{"listen": ["127.0.0.1", 5680]}\n');
  });

  test('SIGTERM ends the worker promptly; sys.exit in a handler ends the process', T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const shim = await start(t, 'app.nothing', root);
    await within(shim.api.waitForNext(), 10000, 'the first /next');
    const t0 = Date.now();
    shim.proc.kill('SIGTERM');
    const done = await shim.finished(5000);
    assert.equal(done.code, 0);
    assert.ok(Date.now() - t0 < 2000);

    const exits = await start(t, 'app.exits', root);
    exits.api.invoke({});
    const status = await exits.finished(10000);
    assert.equal(status.code, 3, 'the exit status tether reports as Runtime.ExitError');
  });
});

for (const other of pythons.slice(1)) {
  test(`python shim smoke test on ${other.version} (${other.exe})`, T, async (t) => {
    const root = makeProject(t, { 'app.py': APP });
    const ok = await startShim(t, { runtime: 'python', python: other.exe, handler: 'app.handler', root });
    const r = await invoke(ok, { n: 1 }, { requestId: 'smoke' });
    assert.equal(r.json.aws_request_id, 'smoke');
    const fail = await startShim(t, { runtime: 'python', python: other.exe, handler: 'app.fails', root });
    const e = await invoke(fail, { id: 1 });
    assert.equal(e.errorType, 'OrderError');
  });
}
