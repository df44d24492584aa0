// `tether dev` end to end, with real processes only: the embedded broker and
// Lambda service (whose sandboxes run the real tether-bridge), the dev
// session, real Node (tether's shim and AWS's aws-lambda-ric), Python and C
// workers, and curl / fetch / `tether invoke` as callers.
//
//   caller ─► Lambda service ─► tether-bridge ─► broker ─► dev session ─► worker
//
// 1. the examples, each as shipped (examples/*), one dev each;
// 2. one project with a function per behaviour (every runtime, async,
//    callback and streamed answers, errors, timeouts, crashes, reloads,
//    6 MB payloads, 50 parallel calls, `tether invoke`), then stopping and
//    restarting that dev;
// 3. remote mode: `tether broker` and `tether lambda` started here as "the
//    cloud", dev pointed at them through tether.json's "events": killing and
//    restarting dev, a second dev on the same stage, --force;
// 4. `tether bridge key`: the stage key's file, modes, printing, rotation,
//    and a .tether planted as a link.
//
// Measured numbers (reload latency, 6 MB round trip, 50 parallel calls) are
// printed as test diagnostics (`# ...` lines).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  BRIDGE_BIN,
  EXAMPLES_DIR,
  TETHER_BIN,
  alive,
  curl,
  httpRequest,
  invokeApi,
  invokeJson,
  makeProject,
  parseCurlResponse,
  remoteProject,
  spawnDev,
  startBroker,
  startDev,
  startLambda,
  tempDir,
  tetherInvoke,
  waitFor,
} from './lib/dev.mjs';
import { freePort } from './lib/cloud.mjs';

/** Builds examples/c-provided's bootstrap in a project copy. */
function buildBootstrap(dir) {
  const r = spawnSync('make', ['-s', '-C', dir, 'bootstrap'], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `make bootstrap failed:\n${r.stdout}${r.stderr}`);
}

/** Chunks as [ms, text] of a streamed curl, grouped by arrival more than `gap` ms apart. */
function arrivals(chunks, gap = 150) {
  const groups = [];
  for (const [ms, data] of chunks) {
    const last = groups[groups.length - 1];
    if (last && ms - last.ms < gap) last.text += data.toString();
    else groups.push({ ms, text: data.toString() });
  }
  return groups;
}

/** assert.equal on an HTTP status, with the answer and the end of dev's output. */
function expectStatus(r, status, dev) {
  assert.equal(r.status, status, `${r.text?.slice(0, 2000)}\n${dev ? dev.dump().slice(-6000) : ''}`);
}

/* ================================================================ examples */

describe('the examples, as shipped', () => {
  test('node-api: a Node handler behind a function URL (tether shim)', async () => {
    const dir = makeProject({ from: 'node-api' });
    const dev = await startDev(dir);
    try {
      const r = await httpRequest(`${dev.urls.Api}hi?name=test`);
      expectStatus(r, 200, dev);
      assert.equal(r.json.message, 'hello, test!');
      assert.equal(r.json.path, '/hi');
      assert.equal(r.json.runningLocally, true);
    } finally {
      const stopped = await dev.stop();
      assert.equal(stopped.code, 0, dev.dump());
    }
  });

  test('a request sent the moment the port opens is answered, not lost to the start-up', async () => {
    // The function URL must not be served before the session hears the
    // bridges (its presence check takes ~0.8 s): a request taken earlier
    // used to fail with TetherDevNotRunning after 3 s.
    const dir = makeProject({ from: 'node-api' });
    const port = await freePort();
    const dev = spawnDev(dir, { port });
    try {
      let r;
      await waitFor(async () => {
        try {
          r = await httpRequest(`http://127.0.0.1:${port}/url/Api/early`, { ms: 15000 });
          return true;
        } catch {
          return !dev.alive; // refused: not open yet
        }
      }, 20000, 'the function URL to open');
      assert.ok(dev.alive, dev.dump());
      expectStatus(r, 200, dev);
      assert.equal(r.json.path, '/early');
    } finally {
      const stopped = await dev.stop();
      assert.equal(stopped.code, 0, dev.dump());
    }
  });

  test('python-handler: a Python 3.12 handler behind a function URL', async () => {
    const dir = makeProject({ from: 'python-handler' });
    const dev = await startDev(dir);
    try {
      const r = await httpRequest(`${dev.urls.Hello}?name=py`);
      expectStatus(r, 200, dev);
      assert.equal(r.json.message, 'hello, py!');
      assert.equal(r.json.runningLocally, true);
      const inv = await invokeJson('Hello', { cwd: dir });
      assert.equal(inv.code, 0, inv.stderr);
      assert.equal(inv.json.statusCode, 200);
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });

  test('node-streaming: 3 chunks 300 ms apart reach curl one by one', async () => {
    const dir = makeProject({ from: 'node-streaming' });
    const dev = await startDev(dir);
    try {
      const r = await curl(['-N', '-i', dev.urls.Stream]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseCurlResponse(r.stdout);
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /^chunk 1 of 3 .*\nchunk 2 of 3 .*\nchunk 3 of 3 .*\n$/);
      const groups = arrivals(r.chunks).filter((g) => g.text.includes('chunk '));
      assert.ok(groups.length >= 3, `the chunks arrived together: ${JSON.stringify(groups)}`);
      assert.ok(groups[2].ms - groups[0].ms >= 450, `chunks not spread out: ${JSON.stringify(groups)}`);
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });

  test('c-provided: a custom runtime in C (make, then dev)', async () => {
    const dir = makeProject({ from: 'c-provided' });
    buildBootstrap(dir);
    const dev = await startDev(dir);
    try {
      const r = await httpRequest(`${dev.urls.Echo}path?q=1`, { method: 'POST', body: 'hello C' });
      expectStatus(r, 200, dev);
      assert.equal(r.json.rawPath, '/path');
      assert.equal(r.json.body, 'hello C');
      const inv = await tetherInvoke('Echo', { cwd: dir, args: ['--event', '-'], input: '{"hello":"world"}' });
      assert.equal(inv.code, 0, inv.stderr);
      assert.equal(inv.stdout.toString(), '{"hello":"world"}');
      const fail = await invokeJson('Echo', { cwd: dir, args: ['--event', '-'], input: '{"fail":true}' });
      assert.equal(fail.code, 1);
      assert.equal(fail.json.errorType, 'EchoFailure');
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });
});

/* ================================================================ one project, every behaviour */

const FAIL_JS = `
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = async (event, context) => {
  const why = event.throw ?? event.queryStringParameters?.throw;
  if (why) {
    const err = new Error('boom: ' + why);
    err.name = 'BoomError';
    throw err;
  }
  if (event.crash) process.exit(3);
  if (event.sleep) await sleep(event.sleep);
  return { pid: process.pid, requestId: context.awsRequestId };
};
`;

const CALLBACK_JS = `
exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, { style: 'callback', requestId: context.awsRequestId }), 20);
};
`;

const RIC_JS = `
export const handler = async (event, context) => ({
  entry: process.argv[1],
  tetherDev: process.env.TETHER_DEV,
  requestId: context.awsRequestId,
  event,
});
`;

const PAR_JS = `
export const handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { pid: process.pid, n: event.queryStringParameters?.n ?? null };
};
`;

const ECHO_JS = 'export const handler = async (event) => event;\n';

const reloadJs = (version) => `export const handler = async () => ({ version: ${version} });\n`;

const PY_FAIL = `
def handler(event, context):
    raise ValueError("python says no: " + str(event.get("why")))
`;

const PROJECT = {
  app: 'devtest',
  stage: 'ci',
  functions: {
    Api: { handler: 'src/api.handler', runtime: 'nodejs20.x', url: true, environment: { GREETING: 'hello' } },
    Callback: { handler: 'src/callback.handler', runtime: 'nodejs20.x', url: true },
    Ric: { handler: 'src/ric.handler', runtime: 'nodejs20.x', worker: 'aws-lambda-ric', url: true },
    Stream: { handler: 'src/stream.handler', runtime: 'nodejs22.x', url: true, streaming: true },
    Hello: { handler: 'app.handler', runtime: 'python3.12', url: true, environment: { GREETING: 'hi' } },
    PyFail: { handler: 'pyfail.handler', runtime: 'python3.11' },
    Echo: { runtime: 'provided.al2023', bootstrap: 'bootstrap', handler: 'echo', url: true },
    NodeEcho: { handler: 'src/echo.handler', runtime: 'nodejs20.x' },
    Throws: { handler: 'src/fail.handler', runtime: 'nodejs20.x', url: true },
    Slow: { handler: 'src/fail.handler', runtime: 'nodejs20.x', timeout: 1 },
    Crash: { handler: 'src/fail.handler', runtime: 'nodejs20.x' },
    Reload: { handler: 'src/reload.handler', runtime: 'nodejs20.x' },
    Par: { handler: 'src/par.handler', runtime: 'nodejs20.x', url: true, concurrency: 10 },
  },
};

function makeBigProject() {
  const dir = makeProject({
    from: 'node-api',
    ric: true,
    files: {
      'tether.json': PROJECT,
      'src/callback.js': CALLBACK_JS,
      'src/ric.mjs': RIC_JS,
      'src/stream.mjs': fs.readFileSync(path.join(EXAMPLES_DIR, 'node-streaming', 'src', 'stream.mjs')),
      'app.py': fs.readFileSync(path.join(EXAMPLES_DIR, 'python-handler', 'app.py')),
      'pyfail.py': PY_FAIL,
      'bootstrap.c': fs.readFileSync(path.join(EXAMPLES_DIR, 'c-provided', 'bootstrap.c')),
      Makefile: fs.readFileSync(path.join(EXAMPLES_DIR, 'c-provided', 'Makefile')),
      'src/echo.mjs': ECHO_JS,
      'src/fail.mjs': FAIL_JS,
      'src/reload.mjs': reloadJs(1),
      'src/par.mjs': PAR_JS,
    },
  });
  buildBootstrap(dir);
  return dir;
}

describe('one project, every runtime and behaviour (embedded mode)', () => {
  let dir;
  let dev;
  const scratch = tempDir('tether-dev-events-'); // event files live outside the watched project

  before(async () => {
    dir = makeBigProject();
    dev = await startDev(dir);
  });
  after(async () => {
    if (dev?.alive) assert.equal((await dev.stop()).code, 0, dev.dump());
  });

  test('dev printed the endpoints, a URL per url function, and .tether/dev.json', () => {
    assert.match(dev.lambda, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(dev.events, /^http:\/\/127\.0\.0\.1:\d+\/event$/);
    assert.deepEqual(Object.keys(dev.urls).sort(), ['Api', 'Callback', 'Echo', 'Hello', 'Par', 'Ric', 'Stream', 'Throws']);
    assert.equal(dev.urls.Api, `${dev.lambda}/url/Api/`);
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.tether', 'dev.json'), 'utf8'));
    assert.equal(state.pid, dev.pid);
    assert.equal(state.lambda, dev.lambda);
    assert.equal(state.app, 'devtest');
    assert.equal(state.stage, 'ci');
    assert.equal(fs.statSync(path.join(dir, '.tether', 'dev.json')).mode & 0o777, 0o600);
  });

  test('Node (tether shim), async handler, via the function URL', async () => {
    const from = dev.records.length;
    const r = await httpRequest(`${dev.urls.Api}some/path?name=node`);
    expectStatus(r, 200, dev);
    assert.equal(r.json.message, 'hello, node!');
    assert.equal(r.json.path, '/some/path');
    assert.equal(r.json.runningLocally, true);
    const rec = await dev.waitForRecord((x) => x.type === 'invocation' && x.function === 'Api', 5000, 'the invocation line', from);
    assert.equal(rec.status, 'ok');
    assert.equal(rec.source, 'GET /some/path');
    assert.equal(rec.requestId, r.json.requestId);
    // the record of the whole exchange
    const logs = fs.readdirSync(path.join(dir, '.tether', 'log')).filter((f) => f.includes(rec.requestId));
    assert.equal(logs.length, 1);
    const record = JSON.parse(fs.readFileSync(path.join(dir, '.tether', 'log', logs[0]), 'utf8'));
    assert.equal(record.function, 'Api');
    assert.equal(record.event.rawPath, '/some/path');
  });

  test('Node (tether shim), callback handler', async () => {
    const r = await httpRequest(dev.urls.Callback);
    expectStatus(r, 200, dev);
    assert.equal(r.json.style, 'callback');
  });

  test('Node through the official aws-lambda-ric as the worker', async () => {
    const r = await httpRequest(`${dev.urls.Ric}?via=ric`);
    expectStatus(r, 200, dev);
    // the worker process runs the package's own entry point
    assert.match(r.json.entry, /node_modules\/aws-lambda-ric\/bin\/index\.mjs$/);
    assert.equal(r.json.tetherDev, 'true');
    assert.equal(r.json.event.rawQueryString, 'via=ric');
    const inv = await invokeJson('Ric', { cwd: dir, args: ['--event', '-'], input: '{"k":1}' });
    assert.equal(inv.code, 0, inv.stderr);
    assert.deepEqual(inv.json.event, { k: 1 });
  });

  test('Python (tether shim): answer and raised exception', async () => {
    const r = await httpRequest(`${dev.urls.Hello}?name=python`);
    expectStatus(r, 200, dev);
    assert.equal(r.json.message, 'hi, python!');
    const inv = await invokeJson('PyFail', { cwd: dir, args: ['--event', '-'], input: '{"why":"test"}' });
    assert.equal(inv.code, 1, inv.stderr);
    assert.equal(inv.json.errorType, 'ValueError');
    assert.equal(inv.json.errorMessage, 'python says no: test');
  });

  test('provided runtime in C behind a function URL', async () => {
    const r = await httpRequest(dev.urls.Echo, { method: 'PUT', body: 'c body' });
    expectStatus(r, 200, dev);
    assert.equal(r.json.body, 'c body');
    assert.equal(r.json.requestContext.http.method, 'PUT');
  });

  test('streaming: the chunks reach the caller as they are written', async () => {
    const r = await curl(['-N', '-i', `${dev.urls.Stream}?chunks=3&delay=500`]);
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 200);
    assert.equal(res.headers.find(([k]) => k === 'transfer-encoding')?.[1], 'chunked');
    assert.match(res.body.toString(), /^chunk 1 of 3 .*\nchunk 2 of 3 .*\nchunk 3 of 3 .*\n$/);
    // each line arrived on its own, about 500 ms after the one before
    const groups = arrivals(r.chunks, 150).filter((g) => g.text.includes('chunk '));
    assert.equal(groups.length, 3, `expected 3 separate arrivals: ${JSON.stringify(groups)}`);
    assert.ok(groups[2].ms - groups[0].ms >= 800, `chunks not spread out: ${JSON.stringify(groups)}`);
  });

  test('handler throws: function URL 502, tether invoke error JSON and exit 1, dev reports it', async () => {
    let from = dev.records.length;
    const url = await httpRequest(`${dev.urls.Throws}?throw=url`);
    expectStatus(url, 502, dev);
    assert.deepEqual(url.json, { message: 'Internal Server Error' });
    let rec = await dev.waitForRecord((x) => x.type === 'invocation' && x.function === 'Throws', 5000, 'the error line', from);
    assert.equal(rec.status, 'error');
    assert.equal(rec.errorMessage, 'boom: url');

    from = dev.records.length;
    const inv = await invokeJson('Throws', { cwd: dir, args: ['--event', '-'], input: '{"throw":"invoke"}' });
    assert.equal(inv.code, 1, inv.stderr);
    assert.equal(inv.stdout.length, 0);
    assert.equal(inv.json.errorType, 'BoomError');
    assert.equal(inv.json.errorMessage, 'boom: invoke');
    assert.ok(Array.isArray(inv.json.trace ?? inv.json.stackTrace), inv.stderr);
    rec = await dev.waitForRecord((x) => x.type === 'invocation' && x.function === 'Throws', 5000, 'the error line', from);
    assert.equal(rec.status, 'error');
    assert.equal(rec.errorType, 'BoomError');
    assert.equal(rec.errorMessage, 'boom: invoke');
  });

  test('handler times out: "Task timed out after 1.00 seconds", then the function works again', async () => {
    const started = Date.now();
    const inv = await invokeJson('Slow', { cwd: dir, args: ['--event', '-'], input: '{"sleep":4000}' });
    const ms = Date.now() - started;
    assert.equal(inv.code, 1, inv.stderr);
    assert.match(inv.json.errorMessage, /Task timed out after 1\.00 seconds/);
    assert.ok(ms < 3500, `the timeout took ${ms} ms`);
    const again = await invokeJson('Slow', { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.json.pid > 0);
  });

  test('worker crashes (process.exit): the caller gets Runtime.ExitError, the next call a fresh worker', async () => {
    const first = await invokeJson('Crash', { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const crash = await invokeJson('Crash', { cwd: dir, args: ['--event', '-'], input: '{"crash":true}' });
    assert.equal(crash.code, 1, crash.stderr);
    assert.equal(crash.json.errorType, 'Runtime.ExitError');
    assert.match(crash.json.errorMessage, /exit status 3/);
    assert.ok(!alive(first.json.pid), 'the crashed worker is still running');
    const next = await invokeJson('Crash', { cwd: dir });
    assert.equal(next.code, 0, next.stderr);
    assert.notEqual(next.json.pid, first.json.pid);
  });

  test('editing a handler: the next call runs the new code (reload latency measured)', async (t) => {
    const before1 = await invokeJson('Reload', { cwd: dir });
    assert.equal(before1.code, 0, before1.stderr);
    assert.deepEqual(before1.json, { version: 1 });
    const from = dev.records.length;
    const written = Date.now();
    fs.writeFileSync(path.join(dir, 'src', 'reload.mjs'), reloadJs(2));
    const reload = await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Reload', 5000, 'the reload line', from);
    assert.equal(reload.file, 'src/reload.mjs');
    assert.equal(typeof reload.watcherMs, 'number');
    const after2 = await invokeJson('Reload', { cwd: dir });
    const answered = Date.now() - written;
    assert.equal(after2.code, 0, after2.stderr);
    assert.deepEqual(after2.json, { version: 2 });
    t.diagnostic(`reload: watcher ${reload.watcherMs.toFixed(1)} ms (write to restart); write to new answer ${answered} ms (includes a tether invoke process and a cold worker)`);
  });

  test('syntax error on reload: clear error to the caller and in dev output; fixing it recovers', async () => {
    const devPid = dev.pid;
    let from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'reload.mjs'), 'export const handler = async () => ({ version: ;\n');
    await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Reload', 5000, 'the reload line', from);
    const broken = await invokeJson('Reload', { cwd: dir });
    assert.equal(broken.code, 1, broken.stderr);
    assert.equal(broken.json.errorType, 'Runtime.UserCodeSyntaxError');
    assert.match(broken.json.errorMessage, /reload\.mjs/);
    const rec = await dev.waitForRecord(
      (x) => x.type === 'invocation' && x.function === 'Reload',
      5000,
      'the error line',
      from,
    );
    assert.equal(rec.status, 'error');
    assert.equal(rec.errorType, 'Runtime.UserCodeSyntaxError');
    assert.match(dev.stderrText, /SyntaxError/);
    from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'reload.mjs'), reloadJs(3));
    await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Reload', 5000, 'the reload line', from);
    const fixed = await invokeJson('Reload', { cwd: dir });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(fixed.json, { version: 3 });
    assert.equal(dev.pid, devPid);
    assert.ok(dev.alive);
  });

  test('6 MB request and response through the whole chain, byte for byte', async (t) => {
    // {"data":"<base64>"}: compact JSON a JSON echo gives back unchanged
    const size = 6 * 1024 * 1024 - 1024;
    const filler = crypto.randomBytes(Math.ceil(size * 0.75)).toString('base64').slice(0, size - 11);
    const event = Buffer.from(`{"data":"${filler}"}`);
    assert.equal(event.length, size);
    const file = path.join(scratch, 'big.json');
    fs.writeFileSync(file, event);
    let started = Date.now();
    const c = await tetherInvoke('Echo', { cwd: dir, args: ['--event', file], ms: 60000 });
    const cMs = Date.now() - started;
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.length, event.length);
    assert.ok(c.stdout.equals(event), 'the C echo changed the payload');
    started = Date.now();
    const node = await invokeApi(dev.lambda, 'NodeEcho', event, { ms: 60000 });
    const nodeMs = Date.now() - started;
    assert.equal(node.status, 200, node.text.slice(0, 300));
    assert.equal(node.headers.get('x-amz-function-error'), null, node.text.slice(0, 300));
    assert.equal(node.text.length, event.length);
    assert.ok(Buffer.from(node.text).equals(event), 'the Node echo changed the payload');
    t.diagnostic(`6 MB round trip: C echo via tether invoke ${cMs} ms; Node echo via the Invoke API ${nodeMs} ms`);
  });

  test('50 parallel invocations all succeed', async (t) => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => httpRequest(`${dev.urls.Par}?n=${n}`, { ms: 60000 })),
    );
    const ms = Date.now() - started;
    for (const [n, r] of results.entries()) {
      assert.equal(r.status, 200, `call ${n}: ${r.status} ${r.text}`);
      assert.equal(r.json.n, String(n));
    }
    const workers = new Set(results.map((r) => r.json.pid));
    assert.ok(workers.size > 1 && workers.size <= 10, `${workers.size} workers`);
    t.diagnostic(`50 parallel function URL calls: ${ms} ms, ${workers.size} local workers (concurrency 10)`);
  });

  test('tether invoke: round trip, unknown function, bad event, usage', async () => {
    const eventFile = path.join(scratch, 'event.json');
    fs.writeFileSync(eventFile, '{"queryStringParameters":{"name":"file"}}');
    const ok = await invokeJson('Api', { cwd: path.join(dir, 'src'), args: ['--event', eventFile] });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    assert.equal(JSON.parse(ok.json.body).message, 'hello, file!');
    const byProject = await invokeJson('Callback', { cwd: scratch, args: ['--project', dir] });
    assert.equal(byProject.code, 0, byProject.stderr);
    assert.equal(byProject.json.style, 'callback');
    const unknown = await tetherInvoke('Nope', { cwd: dir });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no function "Nope"/);
    assert.match(unknown.stderr, /Api/);
    const bad = await tetherInvoke('Api', { cwd: dir, args: ['--event', '-'], input: '{not json' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not JSON/);
    const none = await tetherInvoke(undefined, { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: tether invoke/);
    const help = await tetherInvoke(undefined, { cwd: dir, args: ['--help'] });
    assert.equal(help.code, 0);
    assert.match(help.stdout.toString(), /^usage: tether invoke FUNCTION/);
    const nowhere = await tetherInvoke('Api', { cwd: scratch });
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /no tether\.json/);
  });

  test('dev stopped: callers fail fast with "not running"; a new dev serves the same URL', async () => {
    // Embedded mode: the Lambda service lives inside dev, so stopping dev
    // takes "the cloud" down with it. What this proves: dev exits 0 and
    // cleans up (state file, sandboxes), callers are told at once instead of
    // hanging, and a new dev on the same port serves the same function URL
    // with fresh bridges (nothing has to be redeployed). Remote mode, where
    // the bridges outlive dev, is tested below.
    const port = dev.port;
    const url = dev.urls.Api;
    const stopped = await dev.stop();
    assert.equal(stopped.code, 0, dev.dump());
    assert.ok(stopped.ms < 5000, `dev took ${stopped.ms} ms to stop`);
    assert.ok(!fs.existsSync(path.join(dir, '.tether', 'dev.json')), 'dev.json left behind');
    const inv = await tetherInvoke('Api', { cwd: dir });
    assert.equal(inv.code, 1);
    assert.match(inv.stderr, /tether dev is not running/);
    assert.ok(inv.ms < 3000, `tether invoke took ${inv.ms} ms`);
    const refused = await curl(['-m', '5', url]);
    assert.notEqual(refused.code, 0, 'the URL still answers');

    dev = await startDev(dir, { port });
    assert.equal(dev.urls.Api, url);
    const r = await httpRequest(`${url}?name=again`);
    expectStatus(r, 200, dev);
    assert.equal(r.json.message, 'hello, again!');

    // killed outright: dev.json stays, naming a dead pid
    const killed = await dev.stop('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(fs.existsSync(path.join(dir, '.tether', 'dev.json')));
    const stale = await tetherInvoke('Api', { cwd: dir });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /tether dev is not running .*has exited/);
    assert.ok(stale.ms < 3000, `tether invoke took ${stale.ms} ms`);

    dev = await startDev(dir, { port });
    const back = await invokeJson('Api', { cwd: dir });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(JSON.parse(back.json.body).message, 'hello, world!');
  });
});

/* ================================================================ remote mode */

describe('remote mode: tether broker + tether lambda as the cloud', () => {
  const KEY = 'da2-devremotetestkey0000000001';
  const APP = 'remote';
  const STAGE = 'test';
  let broker;
  let lambda;
  let dir;
  const devs = [];

  const start = async (args = []) => {
    const d = await startDev(dir, { args });
    devs.push(d);
    return d;
  };

  before(async () => {
    broker = await startBroker(['--api-key', KEY]);
    // As docs/deploy.md says: the stage's bridge key, made in the project,
    // goes into the deployed function's environment.
    const project = remoteProject(broker, { apiKey: KEY, app: APP, stage: STAGE });
    dir = project.dir;
    const { bridgeKey } = project;
    assert.match(bridgeKey, /^tk1\.[A-Za-z0-9_-]{43}$/);
    assert.equal(fs.statSync(path.join(dir, '.tether', 'keys', `${STAGE}.key`)).mode & 0o777, 0o600);
    const cloudDir = tempDir('tether-dev-cloud-');
    lambda = await startLambda(cloudDir, {
      idle_timeout: 600,
      functions: [
        {
          name: 'Api',
          runtime: 'provided.al2023',
          handler: 'src/api.handler',
          bootstrap: BRIDGE_BIN,
          timeout: 10,
          url: true,
          environment: {
            GREETING: 'hello from the cloud',
            TETHER_EVENTS_HTTP: broker.info.http,
            TETHER_EVENTS_API_KEY: KEY,
            TETHER_APP: APP,
            TETHER_STAGE: STAGE,
            TETHER_FUNCTION_ID: 'Api',
            TETHER_BRIDGE_KEY: bridgeKey,
          },
        },
      ],
    });
  });

  after(async () => {
    for (const d of devs) await d.stop(); // also checks the exited ones for sanitizer reports
    // stop() also fails on sanitizer reports, the bridges' included (their
    // logs are the Lambda service's stdout)
    if (lambda) await lambda.stop();
    if (broker) await broker.stop();
  });

  const invoke = (payload = {}) => invokeApi(lambda.endpoint, 'Api', payload, { ms: 20000 });
  const sandboxesStarted = () => (lambda.stderr.match(/sandbox [0-9a-f]{32} started/g) ?? []).length;

  test('dev serves the bridges of the remote Lambda, with its environment', async () => {
    const dev = await start();
    assert.deepEqual(dev.urls, {}); // nothing embedded
    const r = await invoke({ queryStringParameters: { name: 'remote' } });
    expectStatus(r, 200, dev);
    assert.equal(r.headers.get('x-amz-function-error'), null, r.text);
    const body = JSON.parse(r.json.body);
    assert.equal(body.message, 'hello from the cloud, remote!');
    assert.equal(body.runningLocally, true);
    const url = await httpRequest(`${`${lambda.endpoint}/url/Api/`}x?name=url`);
    expectStatus(url, 200, dev);
    assert.equal(url.json.message, 'hello from the cloud, url!');
  });

  test('a second dev on the same app and stage is refused; --force takes over', async () => {
    const first = devs[0];
    const second = spawnDev(dir);
    devs.push(second);
    const exit = await second.waitExit(15000);
    assert.equal(exit.code, 1, second.dump());
    const refusal = second.records.find((r) => r.type === 'error');
    assert.ok(refusal, second.dump());
    assert.match(refusal.message, /another tether dev already serves app "remote", stage "test"/);
    assert.match(refusal.message, /--force/);
    assert.ok(first.alive, 'the first dev was disturbed');

    const third = await start(['--force']);
    const displaced = await first.waitExit(10000);
    assert.equal(displaced.code, 1, first.dump());
    assert.ok(first.records.some((r) => r.type === 'error' && /took over/.test(r.message)), first.dump());
    const r = await invoke({ queryStringParameters: { name: 'forced' } });
    expectStatus(r, 200, third);
    assert.equal(JSON.parse(r.json.body).message, 'hello from the cloud, forced!');
    assert.ok(third.recordsOf('invocation').length >= 1, third.dump());
  });

  test('tether invoke explains that it needs the embedded Lambda service', async () => {
    const r = await tetherInvoke('Api', { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sets "events", so the functions run in AWS Lambda/);
  });

  test('dev killed: callers fail fast with "tether dev is not running"; a new dev recovers without redeploying', async () => {
    const dev = devs[devs.length - 1];
    await dev.stop('SIGKILL');
    const sandboxes = sandboxesStarted();

    const failed = await invoke({});
    assert.equal(failed.status, 200);
    assert.equal(failed.headers.get('x-amz-function-error'), 'Unhandled', failed.text);
    assert.equal(failed.json.errorType, 'TetherDevNotRunning');
    assert.match(failed.json.errorMessage, /tether dev is not running for app "remote", stage "test"/);
    assert.ok(failed.ms < 4500, `the failure took ${failed.ms} ms`);
    const url = await httpRequest(`${lambda.endpoint}/url/Api/`, { ms: 10000 });
    assert.equal(url.status, 502);
    assert.ok(url.ms < 4500, `the URL failure took ${url.ms} ms`);

    const again = await start();
    const r = await invoke({ queryStringParameters: { name: 'back' } });
    expectStatus(r, 200, again);
    assert.equal(r.headers.get('x-amz-function-error'), null, r.text);
    assert.equal(JSON.parse(r.json.body).message, 'hello from the cloud, back!');
    assert.equal(sandboxesStarted(), sandboxes, `the Lambda side started new sandboxes:\n${lambda.stderr}`);
    assert.ok(again.recordsOf('worker').length >= 1, 'no Init (after Reboot) reached the new dev');
    assert.equal((await again.stop()).code, 0, again.dump());
  });
});

/* ================================================================ the bridge key */

describe('tether bridge key: where the stage key is kept, made, rotated, printed', () => {
  const key = (dir, args = []) => spawnSync(TETHER_BIN, ['bridge', 'key', ...args], { cwd: dir, encoding: 'utf8', timeout: 10000 });

  test('made once 0600 in 0700 directories, printed alone on stdout, rotated on request', () => {
    const dir = makeProject({ from: 'node-api' });
    const made = key(dir, ['--stage', 'jane']);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /stage jane: bridge key created in .*\/\.tether\/keys\/jane\.key/);
    assert.doesNotMatch(made.stdout, /tk1\./); // not printed unless asked
    const file = path.join(dir, '.tether', 'keys', 'jane.key');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, '.tether')).mode & 0o777, 0o700);
    const printed = key(dir, ['--stage', 'jane', '--print']);
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(printed.stdout, fs.readFileSync(file, 'utf8'));
    assert.match(printed.stderr, /bridge key kept in/);
    const rotated = key(dir, ['--stage', 'jane', '--rotate', '--print']);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.notEqual(rotated.stdout, printed.stdout);
    assert.match(rotated.stderr, /deployed bridges of this stage stop working until their TETHER_BRIDGE_KEY is set/);
    assert.equal(fs.readFileSync(file, 'utf8'), rotated.stdout);
  });

  test('a .tether that is a link elsewhere is refused, by tether bridge key and tether dev', async () => {
    const dir = makeProject({ from: 'node-api' });
    const elsewhere = tempDir('tether-dev-elsewhere-');
    fs.symlinkSync(elsewhere, path.join(dir, '.tether'));
    const refused = key(dir);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /\.tether: a symbolic link or not a directory; refusing to use it/);
    const dev = spawnDev(dir);
    const exit = await dev.waitExit(15000);
    assert.equal(exit.code, 1, dev.dump());
    assert.ok(dev.records.some((r) => r.type === 'error' && /symbolic link/.test(r.message)), dev.dump());
    assert.deepEqual(fs.readdirSync(elsewhere), []);
  });
});
