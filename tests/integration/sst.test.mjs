// SST's id discipline, both ways, through the real binaries (issue 13,
// items 2 and 3, and the `sst` compatibility mode of docs/dev.md):
//
// - tether-bridge served by a dev side that behaves as SST's does
//   (lib/bridge.mjs with sstDiscipline: one Ping per Next, under a fresh id,
//   with an empty body, never again; Response under the request id;
//   InitError under a fresh id), open (TETHER_INSECURE_NO_AUTH=1, as SST
//   writes packets) and sealed with a bridge key;
// - `tether dev --sst --insecure-no-auth` serving a bridge-like peer whose
//   reassembler keys messages by id alone and never forgets the next index
//   it expects for an id (SST's), so a Ping or Reboot under the request id
//   would make the Response under that id wait forever.
//
//   cd tests/integration && TETHER_BIN=../../build/san/tether \
//     node --test --test-concurrency=1 sst.test.mjs
//
// Everything listens on 127.0.0.1; every wait has a timeout; services, dev
// sides and clients are stopped by after() hooks.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { apiKeyAuth, connect, startBroker as startBrokerProcess, UUID_RE } from './lib/broker.mjs';
import { BRIDGE_BIN, bridgeFunction, newBridgeKey, nextText, PACKET_TYPES, packetize, startDevProcess } from './lib/bridge.mjs';
import { startLambda } from './lib/lambda.mjs';
import { makeProject, spawnDev, startBroker, startDev } from './lib/dev.mjs';

const API_KEY = 'sst-test-key';
const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];

const tempDirs = [];
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function assertNoSanitizerReport(text, who) {
  const findings = text.split('\n').filter((l) => SANITIZER_PATTERNS.some((p) => l.includes(p)));
  assert.equal(findings.length, 0, `sanitizer report from ${who}:\n${text.slice(-20000)}`);
}

/* ------------------------------------------- SST's dev side, tether-bridge */

describe("tether-bridge served by a dev side with SST's discipline", () => {
  const BRIDGE_KEY = newBridgeKey();
  let broker;
  let service;
  const devs = [];

  before(async () => {
    broker = await startBrokerProcess(['--api-key', API_KEY]);
    broker.apiKey = API_KEY;
    const fn = (name, stage, options) => bridgeFunction(name, { broker, app: 'sstdev', stage, bridge: BRIDGE_BIN, ...options });
    service = await startLambda(tempDir('tether-sst-bridge-'), {
      functions: [fn('open', 'open', { insecure: true }), fn('sealed', 'sealed', { key: BRIDGE_KEY })],
    });
  });
  after(async () => {
    await Promise.all(devs.map((d) => d.stop()));
    if (service) {
      await service.stop();
      assertNoSanitizerReport(service.stdout, 'a bridge');
    }
    await broker?.stop();
  });

  async function sstDev(stage, key) {
    const dev = await startDevProcess({
      realtimeUrl: broker.realtimeUrl,
      host: broker.host,
      apiKey: API_KEY,
      app: 'sstdev',
      stage,
      key,
      sstDiscipline: true,
    });
    devs.push(dev);
    return dev;
  }

  for (const [name, key] of [
    ['open', undefined],
    ['sealed', BRIDGE_KEY],
  ]) {
    describe(name === 'open' ? 'open packets (TETHER_INSECURE_NO_AUTH=1)' : 'sealed with a bridge key', () => {
      let dev;
      before(async () => {
        dev = await sstDev(name, key);
      });

      test('an invocation is answered; the Next has a fresh id, the one Ping too', async () => {
        const res = await service.invoke(name, { hello: name });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers.get('x-amz-function-error'), null, res.text);
        assert.deepEqual(res.json, { hello: name });
        const next = dev.ofType('next').at(-1);
        assert.match(next.id, UUID_RE);
        assert.notEqual(next.id, next.requestId, 'the Next went out under the request id');
      });

      test('an invocation longer than 5 s, with one Ping at its start and none after, succeeds', async () => {
        const started = Date.now();
        const res = await service.invoke(name, { devMode: 'slow:7000', n: 1 }, {}, 20000);
        const ms = Date.now() - started;
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers.get('x-amz-function-error'), null, res.text);
        assert.deepEqual(res.json, { devMode: 'slow:7000', n: 1 });
        assert.ok(ms >= 6900 && ms < 12000, `took ${ms} ms`);
        const next = dev.ofType('next').at(-1);
        const pings = dev.ofType('pinged').filter((e) => e.requestId === next.requestId);
        assert.equal(pings.length, 1, `dev pinged ${pings.length} times`);
      });

      test('an InitError under a fresh id fails the invocation as its error', async () => {
        const res = await service.invoke(name, { devMode: 'init-error' }, {}, 10000);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers.get('x-amz-function-error'), 'Unhandled', res.text);
        assert.equal(res.json.errorType, 'EchoInitError', res.text);
        // The bridge goes on serving.
        const again = await service.invoke(name, { after: 1 });
        assert.deepEqual(again.json, { after: 1 });
      });
    });
  }
});

/* ------------------------------------ tether dev, a peer keyed by id alone */

/**
 * The bridge's end of the channel as SST's bridge reassembles it: messages
 * keyed by id alone, chunks released in index order, and the next index
 * expected for an id never forgotten, so a second message under an id it has
 * seen waits forever. Packets are open (SST seals nothing).
 */
class IdKeyedBridge {
  constructor(brokerInfo, app, stage) {
    this.brokerInfo = brokerInfo;
    this.host = new URL(brokerInfo.http).host;
    this.app = app;
    this.stage = stage;
    this.worker = crypto.randomBytes(16).toString('hex');
    this.expected = new Map(); // id -> next index (never forgotten)
    this.parts = new Map(); // id -> Map(index -> packet) not released yet
    this.bodies = new Map(); // id -> the bytes released so far
    this.packets = []; // every packet received, in order
    this.messages = []; // {type, id, body} as the reassembler released them
    this.waiters = [];
  }

  get channel() {
    return `/sst/${this.app}/${this.stage}/${this.worker}/in`;
  }

  async start() {
    const auth = apiKeyAuth({ host: this.host }, API_KEY);
    this.client = await connect({ realtimeUrl: this.brokerInfo.realtime, host: this.host }, { auth });
    const sub = await this.client.subscribe(this.channel, auth);
    assert.equal(sub.type, 'subscribe_success', JSON.stringify(sub));
    this.client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString('utf8'));
      if (msg.type === 'data' && msg.id === sub.id) this.onPacket(JSON.parse(msg.event));
    });
    return this;
  }

  onPacket(p) {
    this.packets.push(p);
    const index = p.index ?? 0;
    if (index < (this.expected.get(p.id) ?? 0)) return; // seen: SST's reader drops it
    if (!this.parts.has(p.id)) this.parts.set(p.id, new Map());
    const parts = this.parts.get(p.id);
    parts.set(index, p);
    for (;;) {
      const next = this.expected.get(p.id) ?? 0;
      const chunk = parts.get(next);
      if (!chunk) return;
      parts.delete(next);
      this.expected.set(p.id, next + 1);
      const body = Buffer.concat([this.bodies.get(p.id) ?? Buffer.alloc(0), Buffer.from(chunk.data ?? '', 'base64')]);
      if (chunk.final === false) {
        this.bodies.set(p.id, body);
        continue;
      }
      this.bodies.delete(p.id);
      this.release({ type: chunk.type, id: chunk.id, body });
    }
  }

  release(message) {
    this.messages.push(message);
    for (const w of this.waiters.slice()) {
      if (w.predicate(message)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  }

  waitFor(predicate, ms, what) {
    const seen = this.messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { predicate };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; packets: ${JSON.stringify(this.packets).slice(0, 3000)}`));
      }, ms);
      w.resolve = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(w);
    });
  }

  async publish(packets) {
    const res = await fetch(this.brokerInfo.http, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ channel: `/sst/${this.app}/${this.stage}/in`, events: packets }),
      signal: AbortSignal.timeout(10000),
    });
    assert.equal(res.status, 200, await res.text());
  }

  /** SST's Init: the function id and environment. */
  init(functionID) {
    const body = Buffer.from(JSON.stringify({ functionID, environment: ['GREETING=from sst'] }));
    return this.publish(packetize(PACKET_TYPES.Init, this.worker, crypto.randomUUID(), body));
  }

  /** A Next under a fresh id, as SST's bridge sends one; returns the request id. */
  async next(event) {
    const requestId = crypto.randomUUID();
    await this.publish(packetize(PACKET_TYPES.Next, this.worker, crypto.randomUUID(), nextText(requestId, event)));
    return requestId;
  }

  /** Everything dev sent other than answers must not reuse the request id. */
  assertFreshIds(requestId) {
    const others = this.packets.filter((p) => p.type !== PACKET_TYPES.Response && p.type !== PACKET_TYPES.Error);
    for (const p of others) {
      assert.notEqual(p.id, requestId, `dev sent a ${p.type} under the request id`);
      assert.match(p.id, UUID_RE);
    }
    const ids = others.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `dev used an id twice: ${ids}`);
  }

  async stop() {
    await this.client?.close();
  }
}

describe('tether dev --sst serves a bridge whose reassembler keys by id alone', { timeout: 120000 }, () => {
  const APP = 'sstapp';
  const STAGE = 'dev';
  let broker;
  let dev;
  let dir;
  const peers = [];

  before(async () => {
    broker = await startBroker(['--api-key', API_KEY, '--namespace', 'sst']);
    dir = makeProject({
      files: {
        'src/echo.mjs': 'export const handler = async (event) => ({ echo: event, greeting: process.env.GREETING });\n',
        'tether.json': {
          app: APP,
          stage: STAGE,
          events: { http: broker.info.http, apiKey: API_KEY },
          functions: { Echo: { handler: 'src/echo.handler', runtime: 'nodejs20.x' } },
        },
      },
    });
    dev = await startDev(dir, { args: ['--sst', '--insecure-no-auth'] });
  });
  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    if (dev) {
      await dev.stop();
      assertNoSanitizerReport(dev.stderrText ?? '', 'tether dev');
    }
    await broker?.stop();
  });

  async function peer() {
    const p = await new IdKeyedBridge(broker.info, APP, STAGE).start();
    peers.push(p);
    return p;
  }

  test('says loudly that nothing is authenticated', () => {
    assert.match(dev.stderrText, /SST COMPATIBILITY MODE/);
    assert.match(dev.stderrText, /nothing is authenticated/);
  });

  test('the Response arrives under the request id; its Ping does not use that id', async () => {
    const p = await peer();
    await p.init('Echo');
    const requestId = await p.next({ hello: 'sst' });
    const answer = await p.waitFor((m) => m.id === requestId, 20000, 'the Response');
    assert.equal(answer.type, PACKET_TYPES.Response);
    assert.deepEqual(JSON.parse(answer.body.toString('utf8')), { echo: { hello: 'sst' }, greeting: 'from sst' });
    const pings = p.messages.filter((m) => m.type === PACKET_TYPES.Ping);
    assert.ok(pings.length >= 1, 'no Ping');
    p.assertFreshIds(requestId);
  });

  test('a Next before the Init: Ping and Reboot under fresh ids, then the Response', async () => {
    const p = await peer();
    const requestId = await p.next({ early: true });
    await p.waitFor((m) => m.type === PACKET_TYPES.Reboot, 10000, 'the Reboot');
    await p.init('Echo');
    const answer = await p.waitFor((m) => m.id === requestId, 20000, 'the Response');
    assert.equal(answer.type, PACKET_TYPES.Response);
    assert.deepEqual(JSON.parse(answer.body.toString('utf8')).echo, { early: true });
    p.assertFreshIds(requestId);
  });

  test('a function tether.json does not have: an InitError under a fresh id', async () => {
    const p = await peer();
    await p.init('NotHere');
    const requestId = await p.next({});
    const err = await p.waitFor((m) => m.type === PACKET_TYPES.InitError, 10000, 'the InitError');
    assert.notEqual(err.id, requestId);
    assert.match(JSON.parse(err.body.toString('utf8')).errorMessage, /NotHere|not a live function/);
    p.assertFreshIds(requestId);
  });

  test('--sst without --insecure-no-auth is refused', async () => {
    const refused = spawnDev(dir, { args: ['--sst'] });
    const exited = await refused.waitExit(10000);
    assert.notEqual(exited.code, 0);
    assert.match(refused.stderrText, /--sst needs --insecure-no-auth/);
  });
});
