// The bridge (tether-bridge) end to end: `tether lambda` runs it as a
// function's bootstrap, `tether broker` carries the packets, and a Node dev
// side (lib/bridge.mjs, not tether dev) answers; callers use the function
// URL (curl) and the Invoke API (fetch).
//
//   cd tests/integration && TETHER_BIN=../../build/san/tether \
//     node --test --test-concurrency=1 bridge.test.mjs
//
// TETHER_BRIDGE_BIN picks the bridge (default build/tether-bridge; the
// sanitizer build is build/san/tether-bridge, whose reports land in the
// function logs, which every test checks). TETHER_BRIDGE_RUNNER runs it: with
// TETHER_BRIDGE_BIN=../../build/tether-bridge-arm64 and
// TETHER_BRIDGE_RUNNER=qemu-aarch64-static the suite checks the arm64 bridge.
//
// Everything listens on 127.0.0.1; every wait has a timeout; brokers,
// services, dev sides and curl are stopped by after() hooks (and killed at
// exit as a last resort), temp folders removed at exit.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { startBroker } from './lib/broker.mjs';
import { curl, parseCurlResponse, startLambda, waitFor, withTimeout } from './lib/lambda.mjs';
import { BRIDGE_BIN, bridgeFunction, newBridgeKey, startDevProcess } from './lib/bridge.mjs';
import { UUID_RE } from './lib/broker.mjs';

const API_KEY = 'bridge-test-key';
// The bridge key every bridge and dev side here shares: packets are sealed.
const BRIDGE_KEY = newBridgeKey();
const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024; // 6291456: the Invoke API's limit

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// Temp folders go when the test process exits, however the tests went.
const tempDirs = [];
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
// The bridge is copied once, so a rebuild of build/ by someone else during
// the run cannot pull it away from under a sandbox that is starting.
const binDir = tempDir('tether-bridge-bin-');
const BRIDGE = path.join(binDir, 'tether-bridge');
if (fs.existsSync(BRIDGE_BIN)) {
  fs.copyFileSync(BRIDGE_BIN, BRIDGE);
  fs.chmodSync(BRIDGE, 0o755);
}
const bridgeFn = (name, options) => bridgeFunction(name, { bridge: BRIDGE, key: BRIDGE_KEY, ...options });

/* ------------------------------------------------------------- plumbing */

async function brokerOn(port) {
  const args = ['--api-key', API_KEY];
  if (port) args.push('--listen', `127.0.0.1:${port}`);
  const broker = await startBroker(args);
  broker.apiKey = API_KEY;
  return broker;
}

function devOptions(broker, app, stage) {
  return { realtimeUrl: broker.realtimeUrl, host: broker.host, apiKey: API_KEY, app, stage, key: BRIDGE_KEY };
}

/** Sanitizer lines in the bridges' output (their stderr is in the function log). */
function assertNoBridgeSanitizerReport(service) {
  const findings = service.stdout.split('\n').filter((l) => SANITIZER_PATTERNS.some((p) => l.includes(p)));
  if (findings.length) throw new Error(`sanitizer report from a bridge:\n${service.stdout.slice(-20000)}`);
}

/** One broker, one `tether lambda` with `functions`, and cleanup. */
function useChain(makeFunctions, config = {}) {
  const chain = { broker: null, service: null, devs: [], dir: tempDir('tether-bridge-') };
  before(async () => {
    chain.broker = await brokerOn();
    chain.service = await startLambda(chain.dir, { ...config, functions: makeFunctions(chain.broker) });
  });
  afterEach(() => {
    if (chain.service) assertNoBridgeSanitizerReport(chain.service);
  });
  after(async () => {
    await Promise.all(chain.devs.map((d) => d.stop()));
    if (chain.service) {
      await chain.service.stop();
      assertNoBridgeSanitizerReport(chain.service);
    }
    await chain.broker?.stop();
  });
  chain.dev = async (app, stage) => {
    const dev = await startDevProcess(devOptions(chain.broker, app, stage));
    chain.devs.push(dev);
    return dev;
  };
  return chain;
}

function writeTemp(dir, name, data) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

/** A JSON string of exactly n bytes (n >= 2) with varied content. */
function jsonStringOfSize(n) {
  const inner = randomBytes(Math.ceil(((n - 2) * 3) / 4) + 3).toString('base64').slice(0, n - 2);
  return `"${inner}"`;
}

function assertFunctionError(res, errorType) {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get('x-amz-function-error'), 'Unhandled', res.text);
  assert.ok(res.json, `not JSON: ${res.text}`);
  assert.equal(res.json.errorType, errorType, res.text);
  return res.json;
}

test(`the bridge under test exists (${BRIDGE_BIN})`, () => {
  assert.ok(fs.existsSync(BRIDGE), `${BRIDGE_BIN} is missing: make ${path.relative(process.cwd(), BRIDGE_BIN)}`);
});

/* ------------------------------------------------------ echo round trips */

describe('echo round trips through the whole chain', () => {
  const chain = useChain((broker) => [
    bridgeFn('echo', { broker, app: 'rt', stage: 'one', url: true }),
  ]);
  let dev;
  before(async () => {
    dev = await chain.dev('rt', 'one');
  });

  for (const [label, size] of [
    ['0 B', 0],
    ['1 KB', 1024],
    ['1 MB', 1024 * 1024],
  ]) {
    test(`function URL, ${label} of binary both ways (curl)`, async () => {
      const payload = randomBytes(size);
      const file = writeTemp(chain.dir, `payload-${size}`, payload);
      const r = await curl([
        '-i',
        '-X',
        'POST',
        '-H',
        'content-type: application/octet-stream',
        '--data-binary',
        `@${file}`,
        chain.service.url('echo', `size/${size}?n=${size}`),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseCurlResponse(r.stdout);
      assert.equal(res.status, 200, res.body.toString().slice(0, 500));
      // The answer is the event dev received, byte for byte ...
      const next = await dev.waitFor((e) => e.type === 'next' && e.sha256 === sha256(res.body), 5000, 'the Next');
      assert.equal(next.bytes, res.body.length);
      // ... and the event carries the request body byte for byte.
      const event = JSON.parse(res.body.toString('utf8'));
      assert.equal(event.rawPath, `/size/${size}`);
      if (size === 0) {
        assert.equal(event.body, undefined);
      } else {
        assert.equal(event.isBase64Encoded, true);
        assert.ok(Buffer.from(event.body, 'base64').equals(payload), 'the request body changed on the way');
      }
    });
  }

  for (const [label, size] of [
    ['0 B (an empty body invokes with {})', 0],
    ['1 KB', 1024],
    ['1 MB', 1024 * 1024],
    ['6 MB (exactly the 6291456-byte limit)', MAX_SYNC_PAYLOAD],
  ]) {
    test(`Invoke API, ${label} both ways`, async (t) => {
      const payload = size === 0 ? '' : jsonStringOfSize(size);
      assert.equal(Buffer.byteLength(payload), size);
      const started = Date.now();
      const res = await chain.service.invoke('echo', payload);
      const ms = Date.now() - started;
      assert.equal(res.status, 200, res.text.slice(0, 500));
      assert.equal(res.headers.get('x-amz-function-error'), null, res.text.slice(0, 500));
      const expected = size === 0 ? '{}' : payload;
      assert.equal(res.text.length, expected.length);
      assert.ok(res.text === expected, 'the echo differs from the payload');
      const next = await dev.waitFor((e) => e.type === 'next' && e.requestId === res.headers.get('x-amzn-requestid'), 5000, 'the Next');
      assert.equal(next.bytes, expected.length);
      assert.equal(next.sha256, sha256(expected));
      if (size === MAX_SYNC_PAYLOAD) t.diagnostic(`6 MB round trip: ${ms} ms`);
    });
  }

  test('one byte over the limit is refused before it reaches the bridge', async () => {
    const before_ = dev.ofType('next').length;
    const res = await chain.service.invoke('echo', jsonStringOfSize(MAX_SYNC_PAYLOAD + 1));
    assert.equal(res.status, 413);
    assert.equal(res.headers.get('x-amzn-errortype'), 'RequestTooLargeException');
    assert.equal(dev.ofType('next').length, before_);
  });

  test('an Error from dev is the function error, with its errorType', async () => {
    const res = await chain.service.invoke('echo', { devMode: 'error' });
    const err = assertFunctionError(res, 'EchoError');
    assert.equal(err.errorMessage, 'the echo dev side was asked to fail');
  });

  test('Reboot: the bridge introduces itself again (a fresh Init) and the invocation goes on', async () => {
    const res = await chain.service.invoke('echo', { devMode: 'reboot' });
    assert.deepEqual(res.json, { devMode: 'reboot' });
    const reboot = await dev.waitFor((e) => e.type === 'rebooted', 1000, 'the Reboot');
    const inits = dev.ofType('init').filter((e) => e.worker === reboot.worker);
    assert.ok(inits.length >= 2, `${inits.length} Init(s) from ${reboot.worker}`);
    const last = inits[inits.length - 1];
    assert.ok(last.t >= reboot.t, 'no Init after the Reboot');
    assert.notEqual(last.id, inits[0].id, 'an Init is sent under a fresh id');
    assert.equal(last.init.functionID, 'echo');
  });

  test('a slow dev that keeps pinging is waited for (7 s, beyond the 5 s silence limit)', async () => {
    const started = Date.now();
    const res = await chain.service.invoke('echo', { devMode: 'slow:7000', n: 1 }, {}, 20000);
    const ms = Date.now() - started;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-amz-function-error'), null, res.text);
    assert.deepEqual(res.json, { devMode: 'slow:7000', n: 1 });
    assert.ok(ms >= 6900 && ms < 10000, `took ${ms} ms`);
  });
});

/* ----------------------------------------------------------- concurrency */

describe('50 concurrent invocations', () => {
  const chain = useChain((broker) => [
    bridgeFn('many', { broker, app: 'conc', stage: 'fifty', concurrency: 50, url: true }),
  ]);

  test('all answered correctly by several bridge sandboxes, each introduced by its Init', async (t) => {
    const dev = await chain.dev('conc', 'fifty');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const payload = { i, pad: randomBytes(200 + i * 37).toString('hex'), devMode: 'slow:300' };
        return chain.service.invoke('many', payload).then((res) => ({ i, payload, res }));
      }),
    );
    for (const { payload, res } of results) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-amz-function-error'), null, res.text);
      assert.deepEqual(res.json, payload);
    }
    // Which sandbox ran what: the Nexts' sources are the bridges' worker ids.
    const nexts = dev.ofType('next').filter((e) => !e.repeat);
    assert.equal(nexts.length, 50);
    const workers = new Set(nexts.map((e) => e.worker));
    assert.ok(workers.size > 1, `only ${workers.size} sandbox(es) served 50 concurrent invocations`);
    // Every worker id is the 32-hex id of one sandbox (the end of its
    // AWS_LAMBDA_LOG_STREAM_NAME, ".../[$LATEST]<id>"), all different.
    const sandboxIds = new Set(
      [...chain.service.stderr.matchAll(/sandbox ([0-9a-f]{32}) started/g)].map((m) => m[1]),
    );
    for (const w of workers) {
      assert.match(w, /^[0-9a-f]{32}$/);
      assert.ok(sandboxIds.has(w), `worker ${w} is not one of the sandboxes ${[...sandboxIds]}`);
      const init = dev.ofType('init').find((e) => e.worker === w);
      assert.ok(init, `no Init from worker ${w}`);
      assert.equal(init.init.workerID, w);
      assert.equal(init.init.functionID, 'many');
    }
    // One Init per sandbox, none twice.
    const inits = dev.ofType('init').map((e) => e.worker);
    assert.equal(new Set(inits).size, inits.length);
    t.diagnostic(`${workers.size} sandboxes served 50 invocations`);
  });
});

/* --------------------------------------------------- dev absent / gone */

describe('when dev does not answer', () => {
  const chain = useChain((broker) => [
    bridgeFn('nodev', { broker, app: 'gone', stage: 'nobody' }),
    bridgeFn('silent', { broker, app: 'gone', stage: 'silent' }),
    bridgeFn('killed', { broker, app: 'gone', stage: 'killed' }),
    bridgeFn('quick', { broker, app: 'gone', stage: 'quick', environment: { TETHER_NO_DEV_TIMEOUT_MS: '1000' } }),
  ]);

  const notRunning = (stage) =>
    `tether dev is not running for app "gone", stage "${stage}" (no answer within 3000 ms). Start it with \`tether dev\` in the project.`;

  test('no dev side at all: TetherDevNotRunning within the 3 s default, not the 30 s timeout', async () => {
    const started = Date.now();
    const res = await chain.service.invoke('nodev', { hello: 1 }, {}, 10000);
    const ms = Date.now() - started;
    const err = assertFunctionError(res, 'TetherDevNotRunning');
    assert.equal(err.errorMessage, notRunning('nobody'));
    assert.ok(ms >= 2900 && ms < 4000, `failed after ${ms} ms`);
    // The bridge survives and fails the next one the same way.
    const again = await chain.service.invoke('nodev', { hello: 2 }, {}, 10000);
    assertFunctionError(again, 'TetherDevNotRunning');
  });

  test('TETHER_NO_DEV_TIMEOUT_MS shortens the wait', async () => {
    const started = Date.now();
    const res = await chain.service.invoke('quick', {}, {}, 10000);
    const ms = Date.now() - started;
    const err = assertFunctionError(res, 'TetherDevNotRunning');
    assert.equal(
      err.errorMessage,
      'tether dev is not running for app "gone", stage "quick" (no answer within 1000 ms). Start it with `tether dev` in the project.',
    );
    assert.ok(ms >= 950 && ms < 2000, `failed after ${ms} ms`);
  });

  test('a dev side that receives but never answers (not even a Ping): TetherDevNotRunning', async () => {
    const dev = await chain.dev('gone', 'silent');
    const started = Date.now();
    const res = await chain.service.invoke('silent', { devMode: 'silent' }, {}, 10000);
    const ms = Date.now() - started;
    const err = assertFunctionError(res, 'TetherDevNotRunning');
    assert.equal(err.errorMessage, notRunning('silent'));
    assert.ok(ms < 4000, `failed after ${ms} ms`);
    assert.equal(dev.ofType('next').length, 1, 'the Next did reach dev');
  });

  test('dev killed mid-invocation after its Ping: TetherDevGone within ~6 s', async () => {
    const dev = await chain.dev('gone', 'killed');
    const started = Date.now();
    const pending = chain.service.invoke('killed', { devMode: 'ping-only' }, {}, 20000);
    await dev.waitFor((e) => e.type === 'pinged', 5000, "dev's Ping");
    await dev.kill('SIGKILL');
    const killedAt = Date.now();
    const res = await pending;
    const sinceKill = Date.now() - killedAt;
    const err = assertFunctionError(res, 'TetherDevGone');
    assert.match(err.errorMessage, /^tether dev stopped answering \(nothing for 5000 ms\) while running this invocation$/);
    assert.ok(sinceKill < 6000, `failed ${sinceKill} ms after the kill (${Date.now() - started} ms in all)`);
  });
});

/* ------------------------------------------------------- broker restart */

/** A broker that can be restarted on its port, one bridge function `name`
 * (debug log) for app/stage, and one dev process (extra: more of its
 * options), warmed by one invocation; and cleanup. */
function useRestartableChain(name, app, stage, extra = {}) {
  const state = { broker: null, service: null, dev: null, port: 0 };
  before(async () => {
    state.broker = await brokerOn();
    state.port = state.broker.port;
    state.service = await startLambda(tempDir(`tether-bridge-${name}-`), {
      functions: [bridgeFn(name, { broker: state.broker, app, stage, environment: { TETHER_LOG: 'debug' } })],
    });
    state.dev = await startDevProcess({ ...devOptions(state.broker, app, stage), ...extra });
    // Warm: the sandbox is up and introduced.
    const warm = await state.service.invoke(name, { warm: true });
    assert.deepEqual(warm.json, { warm: true });
  });
  afterEach(() => assertNoBridgeSanitizerReport(state.service));
  after(async () => {
    await state.dev?.stop();
    if (state.service) {
      await state.service.stop();
      assertNoBridgeSanitizerReport(state.service);
    }
    await state.broker?.stop();
  });
  return state;
}

describe('broker restarted mid-invocation', () => {
  const state = useRestartableChain('restart', 'rs', 'one');

  /** Starts a slow invocation, kills the broker after dev's first Ping,
   * and brings it back on the same port after `downMs`. */
  async function invokeAcrossRestart(payload, downMs) {
    const started = Date.now();
    const logFrom = state.service.stdout.length;
    const pending = state.service.invoke('restart', payload, {}, 25000);
    const first = await state.dev.waitFor((e) => e.type === 'pinged' && e.t >= started, 5000, 'the first Ping');
    // Kill only once the bridge has the Ping (its debug log says so), so the
    // outcome does not depend on whether the broker died with it in flight.
    await waitFor(
      () => /waiting-ping -> waiting-result/.test(state.service.stdout.slice(logFrom)),
      5000,
      'the bridge to receive the Ping',
    );
    const reconnects = state.dev.ofType('reconnected').length;
    state.broker.child.kill('SIGKILL');
    await state.broker.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    state.broker = await brokerOn(state.port);
    assert.equal(state.broker.port, state.port);
    const res = await pending;
    const ms = Date.now() - started;
    await state.dev.waitFor(
      () => state.dev.ofType('reconnected').length > reconnects,
      10000,
      'dev to reconnect',
    );
    const repeats = state.dev.ofType('next').filter((e) => e.repeat && e.requestId === first.requestId);
    // What the bridge did after it reconnected: publishes to dev's channel
    // after its subscription came back (its log is at debug level).
    const log = state.service.stdout.slice(logFrom);
    const resubscribed = log.search(/subscribed to \/tether\/rs\/one\/[0-9a-f]{32}\/in/);
    const resent =
      resubscribed < 0 ? 0 : (log.slice(resubscribed).match(/publishing \d+ event\(s\) to \/tether\/rs\/one\/in /g) ?? []).length;
    return { res, ms, requestId: first.requestId, repeats, resent, log };
  }

  test('restarted at once: the Next is sent again and the invocation completes', async (t) => {
    const payload = { devMode: 'slow:1500', payload: 'x'.repeat(100000) };
    const { res, ms, requestId, repeats, resent, log } = await invokeAcrossRestart(payload, 0);
    // What happens: it completes, with the echo intact.
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.headers.get('x-amz-function-error'), null, res.text.slice(0, 300));
    assert.deepEqual(res.json, payload);
    assert.ok(ms < 10000, `took ${ms} ms`);
    // The bridge sent the Next again, under a fresh message id (never the
    // request id, never one used before), once it had subscribed again.
    // Whether dev sees it depends on who reconnects first (the broker does
    // not keep events for late subscribers); when dev does, it tells the
    // repeat by its request id, answers with a Ping and goes on.
    assert.ok(resent >= 1, `the bridge did not send the Next again:\n${log}`);
    for (const r of repeats) {
      assert.match(r.id, UUID_RE);
      assert.notEqual(r.id, requestId);
    }
    t.diagnostic(`completed after ${ms} ms; Next re-sent ${resent} time(s), dev saw ${repeats.length}`);
    // And the chain keeps working afterwards.
    const again = await state.service.invoke('restart', { after: 1 });
    assert.deepEqual(again.json, { after: 1 });
  });

  test('down for longer than the 5 s silence limit: TetherDevGone, no hang', async (t) => {
    const { res, ms } = await invokeAcrossRestart({ devMode: 'slow:1000', n: 2 }, 6000);
    const err = assertFunctionError(res, 'TetherDevGone');
    assert.match(err.errorMessage, /tether dev stopped answering/);
    assert.ok(ms < 8000, `took ${ms} ms`);
    t.diagnostic(`failed after ${ms} ms`);
    // Until the bridge has reconnected (its backoff grew while the broker
    // was away), invocations fail at once with TetherEventsUnreachable;
    // then it is back in business.
    const deadline = Date.now() + 12000;
    let tries = 0;
    for (;;) {
      const t0 = Date.now();
      const again = await state.service.invoke('restart', { after: 2 }, {}, 5000);
      tries++;
      if (!again.headers.get('x-amz-function-error')) {
        assert.deepEqual(again.json, { after: 2 });
        break;
      }
      assertFunctionError(again, 'TetherEventsUnreachable');
      assert.ok(Date.now() - t0 < 1000, 'an unreachable-events failure took its time');
      assert.ok(Date.now() < deadline, 'the bridge did not reconnect within 12 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    t.diagnostic(`back after ${tries} invocation(s)`);
  });
});

/* ------------------------------------------- dev resubscribes after the bridge */

describe('broker restarted while the Next is lost, dev back after the bridge', () => {
  // Dev waits this long before reconnecting, so the bridge is back first and
  // its first resend of the Next reaches nobody.
  const DEV_RECONNECT_DELAY_MS = 3000;
  const state = useRestartableChain('late', 'lt', 'one', { reconnectDelayMs: DEV_RECONNECT_DELAY_MS });

  test('the bridge keeps sending the Next until dev answers', async (t) => {
    const payload = { devMode: 'deaf', n: 3 };
    const started = Date.now();
    const logFrom = state.service.stdout.length;
    const pending = state.service.invoke('late', payload, {}, 25000);
    // Dev "loses" the first Next (deaf mode), then the broker goes away.
    const first = await state.dev.waitFor((e) => e.type === 'next' && e.t >= started && !e.repeat, 5000, 'the Next');
    state.broker.child.kill('SIGKILL');
    await state.broker.stop();
    state.broker = await brokerOn(state.port);
    const res = await pending;
    const ms = Date.now() - started;
    // What happens: it completes, with the echo intact, once dev is back.
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.headers.get('x-amz-function-error'), null, res.text.slice(0, 300));
    assert.deepEqual(res.json, payload);
    const repeats = state.dev.ofType('next').filter((e) => e.repeat && e.requestId === first.requestId);
    assert.ok(repeats.length >= 1, 'dev never saw the Next again');
    for (const r of repeats) {
      assert.match(r.id, UUID_RE);
      assert.notEqual(r.id, first.requestId);
    }
    // The bridge was subscribed again before dev: its first resend went to
    // nobody, and a later one is what dev answered.
    const log = state.service.stdout.slice(logFrom);
    // (The log names the Next by its first message id.)
    const resends = (log.match(new RegExp(`sending Next ${first.id} again as [0-9a-f-]{36}`, 'g')) ?? []).length;
    assert.ok(resends >= 2, `the bridge sent the Next again ${resends} time(s):\n${log}`);
    t.diagnostic(`completed after ${ms} ms; ${resends} resend(s), dev answered ${repeats[0].id}`);
    // And the chain keeps working afterwards.
    await state.dev.waitFor(() => state.dev.ofType('reconnected').length > 0, 10000, 'dev to reconnect');
    const again = await state.service.invoke('late', { after: 1 });
    assert.deepEqual(again.json, { after: 1 });
  });
});

/* -------------------------------------------------------------- settings */

describe('settings and Init', () => {
  const chain = useChain(
    (broker) => [
      bridgeFn('nohttp', { broker, app: 'cfg', stage: 'one', environment: { TETHER_EVENTS_HTTP: undefined } }),
      bridgeFn('noapp', { broker, app: undefined, stage: 'one' }),
      bridgeFn('badurl', { broker, app: 'cfg', stage: 'one', environment: { TETHER_EVENTS_HTTP: 'notaurl' } }),
      bridgeFn('env', {
        broker,
        app: 'cfg',
        stage: 'env',
        handler: 'index.handler',
        environment: { MY_SETTING: 'value with spaces = and more', PATH: '/custom/bin:/usr/bin:/bin', TETHER_EXTRA: 'hidden' },
      }),
    ],
    {
      credentials: { access_key_id: 'AKIDBRIDGETEST', secret_access_key: 'bridge-secret', session_token: 'bridge-token' },
    },
  );

  test('no TETHER_EVENTS_HTTP: Runtime.InitError naming the variable', async () => {
    const res = await chain.service.invoke('nohttp', {}, {}, 10000);
    const err = assertFunctionError(res, 'Runtime.InitError');
    assert.equal(err.errorMessage, 'tether-bridge: TETHER_EVENTS_HTTP is not set: the bridge needs it to reach tether dev');
  });

  test('no TETHER_APP: Runtime.InitError naming the variable', async () => {
    const res = await chain.service.invoke('noapp', {}, {}, 10000);
    const err = assertFunctionError(res, 'Runtime.InitError');
    assert.match(err.errorMessage, /TETHER_APP is not set/);
  });

  // Settings load, but the relay cannot start: what it made so far is freed
  // (a sanitizer build of the bridge reports leaks in the function log,
  // which afterEach checks).
  test('an unusable TETHER_EVENTS_HTTP: Runtime.InitError with the cause', async () => {
    const res = await chain.service.invoke('badurl', {}, {}, 10000);
    const err = assertFunctionError(res, 'Runtime.InitError');
    assert.match(err.errorMessage, /^tether-bridge: bad HTTP endpoint notaurl/);
  });

  test("Init carries the function's environment minus runtime plumbing and TETHER_*, with credentials", async () => {
    const dev = await chain.dev('cfg', 'env');
    const res = await chain.service.invoke('env', { x: 1 });
    assert.deepEqual(res.json, { x: 1 });
    const next = await dev.waitFor((e) => e.type === 'next', 5000, 'the Next');
    const init = dev.ofType('init').find((e) => e.worker === next.worker);
    assert.ok(init, 'no Init before the Next');
    assert.deepEqual(Object.keys(init.init).sort(), ['environment', 'functionID', 'protocol', 'streaming', 'workerID']);
    assert.equal(init.init.functionID, 'env');
    assert.equal(init.init.workerID, next.worker);
    assert.equal(init.init.streaming, false);
    assert.equal(init.init.protocol, 1);
    const env = Object.fromEntries(
      init.init.environment.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    // The function's own variables and identity, and its credentials.
    assert.equal(env.MY_SETTING, 'value with spaces = and more');
    assert.equal(env.AWS_ACCESS_KEY_ID, 'AKIDBRIDGETEST');
    assert.equal(env.AWS_SECRET_ACCESS_KEY, 'bridge-secret');
    assert.equal(env.AWS_SESSION_TOKEN, 'bridge-token');
    assert.equal(env.AWS_REGION, 'us-east-1');
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'env');
    // Not the runtime's plumbing, and none of the bridge's settings.
    for (const name of [
      'PATH',
      'LANG',
      '_HANDLER',
      'AWS_LAMBDA_RUNTIME_API',
      'LAMBDA_TASK_ROOT',
      'LAMBDA_RUNTIME_DIR',
      'AWS_EXECUTION_ENV',
      'AWS_LAMBDA_LOG_GROUP_NAME',
      'AWS_LAMBDA_LOG_STREAM_NAME',
      'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
    ]) {
      assert.equal(env[name], undefined, `${name} was forwarded`);
    }
    const tether = Object.keys(env).filter((k) => k.startsWith('TETHER_'));
    assert.deepEqual(tether, [], `forwarded: ${tether}`);
    assert.ok(!JSON.stringify(init.init).includes(BRIDGE_KEY.slice(4)), 'the bridge key was forwarded');
  });
});

/* ------------------------------------------------------------- streaming */

describe('streaming', () => {
  const chain = useChain((broker) => [
    bridgeFn('stream', {
      broker,
      app: 'st',
      stage: 'one',
      url: true,
      streaming: true,
      environment: { TETHER_STREAMING: '1' },
    }),
  ]);

  test('a streamed http-integration-response: status and headers from the prelude, the body in pieces', async () => {
    const dev = await chain.dev('st', 'one');
    const r = await curl(['-i', '-N', '-H', 'x-dev-mode: stream:400', chain.service.url('stream', 'live')], 20000);
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 201, r.stdout.toString());
    const header = (name) => res.headers.filter(([k]) => k === name).map(([, v]) => v);
    assert.deepEqual(header('content-type'), ['text/plain']);
    assert.deepEqual(header('x-streamed'), ['yes']);
    assert.deepEqual(header('set-cookie'), ['a=1']);
    assert.deepEqual(header('transfer-encoding'), ['chunked']);
    assert.equal(res.body.toString(), 'chunk one\nchunk two\nchunk three\n');
    // The pieces arrived as dev sent them, 400 ms apart, not all at the end.
    const withBody = r.chunks.filter(([, c]) => /chunk (one|two|three)/.test(c.toString()));
    assert.ok(withBody.length >= 3, `the body came in ${withBody.length} piece(s)`);
    const spread = withBody[withBody.length - 1][0] - withBody[0][0];
    assert.ok(spread >= 600, `the pieces came within ${spread} ms`);
    const init = dev.ofType('init')[0];
    assert.equal(init.init.streaming, true);
  });

  test('a buffered answer from a streaming bridge still works', async () => {
    const res = await withTimeout(
      fetch(chain.service.url('stream', 'plain'), { method: 'POST', body: 'hello' }),
      10000,
      'the answer',
    );
    assert.equal(res.status, 200);
    const event = JSON.parse(await res.text());
    assert.equal(event.body, 'hello');
  });
});
