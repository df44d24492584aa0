// The live channel under attack (issue 11, item 1): the real tether-bridge in
// `tether lambda`, `tether broker` carrying the packets, and the real
// `tether dev` in remote mode, attacked by an adversary who holds the
// broker's API key (may publish and subscribe anywhere in the namespace) but
// not the stage's bridge key. Every test here would succeed as an attack
// against a channel without keys.
//
//   cd tests/integration && TETHER_BIN=$PWD/../../build/san/tether \
//     node --test --test-concurrency=1 hostile-channel.test.mjs
//
// Everything listens on 127.0.0.1; every wait has a timeout; processes are
// stopped by after() hooks (and killed at exit), temp folders removed at
// exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { bridgeFunction, startDevProcess } from './lib/bridge.mjs';
import { apiKeyAuth, closeAllClients, connect, startBroker } from './lib/broker.mjs';
import { BRIDGE_BIN, TETHER_BIN, makeProject, sleep, startDev, tempDir, waitFor } from './lib/dev.mjs';
import { startLambda } from './lib/lambda.mjs';
import { keyFormat, keyGenerate, seal } from './lib/seal.mjs';

const API_KEY = 'hostile-broker-key';
const APP = 'hostile';
const STAGE = 'test';
const NS = 'tether';
const DEV_CHANNEL = `/${NS}/${APP}/${STAGE}/in`;
const CONTROL_CHANNEL = `/${NS}/${APP}/${STAGE}/dev`;
const workerChannel = (worker) => `/${NS}/${APP}/${STAGE}/${worker}/in`;
// What the function is given in Lambda, and must never leave it in clear.
const SECRET_ACCESS_KEY = `hostile-secret-${crypto.randomBytes(12).toString('hex')}`;
const SESSION_TOKEN = `hostile-token-${crypto.randomBytes(12).toString('hex')}`;
const T = { Init: 0, Ping: 1, Next: 2, Response: 3 };
// A dev session's id, the source of its (sealed) presence messages.
const SESSION_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The handler: one line per run in COUNTER_DIR/runs (the side effect the
// replay test counts) and its request id in COUNTER_DIR/ids (so the forger
// below can use the real one, which only an omniscient test knows: it
// travels encrypted), an optional delay, and an answer that says it is real.
const HANDLER = `import fs from 'node:fs';
export const handler = async (event, context) => {
  fs.appendFileSync(process.env.COUNTER_DIR + '/runs', (event.tag ?? '-') + '\\n');
  fs.appendFileSync(process.env.COUNTER_DIR + '/ids', (event.tag ?? '-') + ' ' + context.awsRequestId + '\\n');
  if (event.delayMs) await new Promise((r) => setTimeout(r, event.delayMs));
  return { real: true, tag: event.tag ?? null };
};
`;

/** A packet as SST writes it: no seal at all. */
function openPacket(type, source, id, data) {
  return JSON.stringify({ type, source, id, index: 0, data: Buffer.from(data).toString('base64'), final: true });
}

/** A packet sealed with a key that is not the stage's. */
function wrongKeyPacket(channel, type, source, id, data) {
  return seal({ type, source, id, data: Buffer.from(data) }, { key: keyGenerate(), channel });
}

/** The relayed Next for a request id, as the bridge writes it (the Runtime
 * API's answer as text). */
function nextText(requestId, event) {
  const body = JSON.stringify(event);
  return (
    'HTTP/1.1 200 OK\r\n' +
    `Lambda-Runtime-Aws-Request-Id: ${requestId}\r\n` +
    `Lambda-Runtime-Deadline-Ms: ${Date.now() + 30000}\r\n` +
    'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:Fn\r\n' +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** The adversary: subscribed to every channel of the stage (one wildcard:
 * the dev channel, the control channel and every bridge's channel),
 * recording every event it is sent ({text}; which channel it came on is
 * not said, the envelope tells), and publishing whatever it likes. */
class Adversary {
  constructor(broker) {
    this.broker = broker;
    this.events = [];
    this.listeners = new Set();
  }

  async start() {
    this.client = await connect(this.broker, { auth: apiKeyAuth(this.broker) });
    this.client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString('utf8'));
      if (msg.type !== 'data') return;
      const e = { text: msg.event };
      this.events.push(e);
      for (const l of this.listeners) l(e);
    });
    const id = crypto.randomUUID();
    const channel = `/${NS}/${APP}/${STAGE}/*`;
    this.client.send({ type: 'subscribe', id, channel, authorization: apiKeyAuth(this.broker) });
    await this.client.next({ type: 'subscribe_success', id }, { what: `subscribed to ${channel}` });
    return this;
  }

  async publish(channel, events) {
    const id = crypto.randomUUID();
    this.client.send({ type: 'publish', id, channel, events, authorization: apiKeyAuth(this.broker) });
    const answer = await this.client.next((m) => m.id === id, { what: 'the publish answer' });
    assert.equal(answer.type, 'publish_success', JSON.stringify(answer));
  }

  /** Resolves with the first event matching pred, among those from index
   * since on (already seen or future). */
  waitFor(pred, ms, what, since = 0) {
    const seen = this.events.slice(since).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`the adversary saw no ${what} within ${ms} ms`));
      }, ms);
      const listener = (e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      this.listeners.add(listener);
    });
  }
}

/** The envelope of an event: its fields are in clear even when sealed. */
function envelope(e) {
  try {
    return JSON.parse(e.text);
  } catch {
    return {};
  }
}

describe('the live channel against an adversary without the bridge key', () => {
  let broker;
  let lambda;
  let project;
  let counterDir;
  let bridgeKey;
  let dev;
  let adversary;
  const devs = [];

  const startProjectDev = async () => {
    const d = await startDev(project, { timeoutMs: 20000 });
    devs.push(d);
    return d;
  };
  const runs = (tag) =>
    (fs.existsSync(path.join(counterDir, 'runs')) ? fs.readFileSync(path.join(counterDir, 'runs'), 'utf8') : '')
      .split('\n')
      .filter((line) => line === tag).length;

  before(async () => {
    broker = await startBroker(['--api-key', API_KEY]);
    counterDir = tempDir('tether-hostile-counter-');
    project = makeProject({
      prefix: 'tether-hostile-',
      files: {
        'index.mjs': HANDLER,
        'tether.json': {
          app: APP,
          stage: STAGE,
          events: { http: broker.httpUrl, apiKey: API_KEY },
          functions: { Fn: { handler: 'index.handler', runtime: 'nodejs20.x' } },
        },
      },
    });
    const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: project, encoding: 'utf8', timeout: 10000 });
    assert.equal(made.status, 0, made.stderr);
    bridgeKey = made.stdout.trim();
    const common = { broker, app: APP, bridge: BRIDGE_BIN, timeout: 30 };
    lambda = await startLambda(tempDir('tether-hostile-lambda-'), {
      credentials: { access_key_id: 'AKIDHOSTILE', secret_access_key: SECRET_ACCESS_KEY, session_token: SESSION_TOKEN },
      functions: [
        bridgeFunction('Fn', {
          ...common,
          stage: STAGE,
          key: bridgeKey,
          environment: { TETHER_FUNCTION_ID: 'Fn', COUNTER_DIR: counterDir },
        }),
        // No key and no TETHER_INSECURE_NO_AUTH: must refuse to start.
        bridgeFunction('NoKey', { ...common, stage: 'nokey', insecure: true, environment: { TETHER_INSECURE_NO_AUTH: undefined } }),
        // Deliberately insecure: starts, and says so loudly.
        bridgeFunction('Insecure', { ...common, stage: 'insecure', insecure: true }),
      ],
    });
    adversary = await new Adversary(broker).start();
    dev = await startProjectDev();
  });

  after(async () => {
    await closeAllClients();
    for (const d of devs) await d.stop();
    if (lambda) await lambda.stop();
    if (broker) await broker.stop();
  });

  test('a subscriber to the dev and worker channels learns no credentials', async () => {
    const res = await lambda.invoke('Fn', { tag: 'plain' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { real: true, tag: 'plain' });
    const init = await adversary.waitFor((e) => envelope(e).type === T.Init, 5000, 'Init');
    await adversary.waitFor((e) => envelope(e).type === T.Response, 5000, 'Response');
    assert.ok(adversary.events.some((e) => envelope(e).source === 'dev'), 'nothing from dev was seen');
    assert.ok(init, 'the Init was not seen');
    // Every byte received, as sent and with every data field decoded.
    for (const e of adversary.events) {
      const decoded = Buffer.from(envelope(e).data ?? '', 'base64').toString('latin1');
      for (const secret of [SECRET_ACCESS_KEY, SESSION_TOKEN, bridgeKey.slice(4)]) {
        assert.ok(!e.text.includes(secret), `a secret in clear: ${e.text.slice(0, 200)}`);
        assert.ok(!decoded.includes(secret), `a secret in a packet's data: ${e.text.slice(0, 200)}`);
      }
    }
  });

  test('a forged Init that sets NODE_OPTIONS never runs code', async () => {
    const marker = path.join(counterDir, 'pwned');
    const code = `import fs from "node:fs"; fs.writeFileSync(${JSON.stringify(marker)}, "pwned");`;
    const environment = [`NODE_OPTIONS=--import=data:text/javascript,${encodeURIComponent(code)}`, `COUNTER_DIR=${counterDir}`];
    const init = JSON.stringify({ functionID: 'Fn', workerID: 'evil', environment, streaming: false, protocol: 1 });
    const next = nextText('evil-request-1', { tag: 'forged-init' });
    for (const [worker, make] of [
      ['evilopen', (type, id, data) => openPacket(type, 'evilopen', id, data)],
      ['evilsealed', (type, id, data) => wrongKeyPacket(DEV_CHANNEL, type, 'evilsealed', id, data)],
    ]) {
      await adversary.publish(DEV_CHANNEL, [make(T.Init, `${worker}-init`, init)]);
      await adversary.publish(DEV_CHANNEL, [make(T.Next, `${worker}-next`, next)]);
    }
    await sleep(3000);
    assert.ok(!fs.existsSync(marker), 'the forged NODE_OPTIONS ran');
    assert.equal(runs('forged-init'), 0, 'the forged Next ran');
    assert.ok(dev.alive, dev.dump());
    assert.match(dev.stderrText, /not authentic/);
    // dev still serves the real bridge
    const res = await lambda.invoke('Fn', { tag: 'after-init' });
    assert.deepEqual(res.json, { real: true, tag: 'after-init' });
  });

  test('a forged Response never reaches the caller; the real answer does', async () => {
    const since = adversary.events.length;
    const pending = lambda.invoke('Fn', { tag: 'slow', delayMs: 1500 });
    const next = await adversary.waitFor((e) => envelope(e).type === T.Next, 10000, 'the Next', since);
    const { source: worker } = envelope(next);
    // The real request id, as if the attacker had guessed it.
    const idOf = () => {
      const file = path.join(counterDir, 'ids');
      const line = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('slow ')) : null;
      return line ? line.slice(5) : null;
    };
    await waitFor(() => idOf() !== null, 10000, 'the handler to start');
    const requestId = idOf();
    const forged = Buffer.from(JSON.stringify({ real: false, forged: true }));
    await adversary.publish(workerChannel(worker), [
      openPacket(T.Ping, 'dev', requestId, ''),
      openPacket(T.Response, 'dev', requestId, forged),
      wrongKeyPacket(workerChannel(worker), T.Response, 'dev', requestId, forged),
    ]);
    const res = await pending;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { real: true, tag: 'slow' });
    assert.match(lambda.stdout, /not authentic/);
  });

  test('a captured sealed packet replayed is dropped: the invocation runs once', async () => {
    adversary.events.length = 0;
    const res = await lambda.invoke('Fn', { tag: 'replayed' });
    assert.deepEqual(res.json, { real: true, tag: 'replayed' });
    assert.equal(runs('replayed'), 1);
    const captured = adversary.events.filter((e) => envelope(e).source !== 'dev');
    assert.ok(captured.some((e) => envelope(e).type === T.Next), 'no Next captured');
    const replay = async () => {
      for (const e of captured) {
        const p = envelope(e);
        if (p.type === T.Init || p.type === T.Next) await adversary.publish(DEV_CHANNEL, [e.text]);
      }
    };
    // To the running dev, and to a dev started afresh (empty replay memory).
    await replay();
    await sleep(1500);
    assert.equal(runs('replayed'), 1, 'replayed to the running dev, the invocation ran again');
    // A restarted dev has an empty replay memory; it refuses what was
    // sealed before it started (beyond the 5 s allowed for clocks that
    // differ), which a capture taken before the restart is.
    await sleep(5500);
    await dev.stop();
    dev = await startProjectDev();
    await replay();
    await sleep(2000);
    assert.equal(runs('replayed'), 1, 'replayed to a restarted dev, the invocation ran again');
    assert.match(dev.stderrText, /not authentic/);
  });

  test('an unauthenticated presence "force" does not stop a running dev', async () => {
    const hello = { type: 'hello', session: '00000000-0000-4000-8000-000000000000', host: 'evil', pid: 1, force: true };
    await adversary.publish(CONTROL_CHANNEL, [
      JSON.stringify(hello),
      wrongKeyPacket(CONTROL_CHANNEL, T.Ping, hello.session, crypto.randomUUID(), JSON.stringify(hello)),
    ]);
    // dev's own sealed presence messages, captured and replayed, are
    // refused too.
    const captured = adversary.events.filter((e) => SESSION_RE.test(envelope(e).source ?? ''));
    assert.ok(captured.length > 0, 'no presence message of dev was seen');
    for (const e of captured) await adversary.publish(CONTROL_CHANNEL, [e.text]);
    await sleep(2000);
    assert.ok(dev.alive, `dev stopped:\n${dev.dump()}`);
    const res = await lambda.invoke('Fn', { tag: 'after-force' });
    assert.deepEqual(res.json, { real: true, tag: 'after-force' });
  });

  test('an unauthenticated presence "here" does not keep a dev from starting', async () => {
    await dev.stop();
    // Answer every hello on the control channel at once, as a running
    // session would (its envelope's source is the newcomer's session).
    const answer = (e) => {
      const p = envelope(e);
      const session = p.type === 'hello' ? p.session : SESSION_RE.test(p.source ?? '') ? p.source : null;
      if (!session) return;
      const here = { type: 'here', session: 'ffffffff-0000-4000-8000-000000000000', to: session, host: 'evil', pid: 1, force: false };
      adversary.publish(CONTROL_CHANNEL, [JSON.stringify(here)]).catch(() => {});
    };
    adversary.listeners.add(answer);
    try {
      dev = await startProjectDev();
    } finally {
      adversary.listeners.delete(answer);
    }
    const res = await lambda.invoke('Fn', { tag: 'after-here' });
    assert.deepEqual(res.json, { real: true, tag: 'after-here' });
  });

  test('the bridge refuses to start without a key, and starts loudly with TETHER_INSECURE_NO_AUTH=1', async () => {
    const refused = await lambda.invoke('NoKey', {});
    assert.equal(refused.headers.get('x-amz-function-error'), 'Unhandled', refused.text);
    assert.equal(refused.json.errorType, 'Runtime.InitError', refused.text);
    assert.match(refused.json.errorMessage, /TETHER_BRIDGE_KEY is not set/);
    // This dev side deliberately speaks the insecure form (no key).
    const insecureDev = await startDevProcess({ realtimeUrl: broker.realtimeUrl, host: broker.host, apiKey: API_KEY, app: APP, stage: 'insecure' });
    try {
      const res = await lambda.invoke('Insecure', { hello: 'insecure' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { hello: 'insecure' });
    } finally {
      await insecureDev.stop();
    }
    await waitFor(() => /INSECURE: TETHER_INSECURE_NO_AUTH=1/.test(lambda.stdout), 5000, 'the loud insecure line');
  });
});
