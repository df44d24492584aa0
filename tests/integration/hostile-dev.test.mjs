// Hostile input against the real `tether dev` (issue 11, items 2 and 4):
// this test publishes packets on the stage's channel as a bridge would, but
// as an attacker who holds whatever the channel asks for. Each test proves
// that one attack harms no one: a forged Init never changes what a local
// worker runs, a functionID cut inside a UTF-8 sequence does not crash dev,
// a flood of Inits starts no more workers than the function's concurrency,
// sources of the wrong form are refused, an oversized message is abandoned
// alone; and local runtimes start with default signal dispositions.
//
// The attacker here also holds the stage's bridge key (a compromised function
// role, say): every packet goes out sealed with it through publishPackets()
// below, and dev's answers are opened with it, so what is tested is the
// dev side's own defence, not the channel's authentication
// (hostile-channel.test.mjs covers that).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { connect, apiKeyAuth } from './lib/broker.mjs';
import { nextText, PACKET_TYPES, packetize } from './lib/bridge.mjs';
import { keyParse, open, seal } from './lib/seal.mjs';
import { alive, invokeApi, makeProject, sleep, startBroker, startDev, startLambda, tempDir, waitFor } from './lib/dev.mjs';

const KEY = `hostile-${crypto.randomBytes(8).toString('hex')}`;
const APP = 'hostile';
const STAGE = 'test';
const CONCURRENCY = 2;
const PUBLISH_BATCH = 5; // events per publish, as AppSync allows

let broker;
let bridgeKey; // the stage's key, read from the project once dev made it

/** Seals packets (open JSON strings, as packetize makes them) with the
 * stage's key and publishes them on a channel with the broker's API key. */
async function publishPackets(channel, openPackets) {
  const packets = openPackets.map((text) => {
    const p = JSON.parse(text);
    const data = Buffer.from(p.data, 'base64');
    return seal({ type: p.type, source: p.source, id: p.id, index: p.index, final: p.final !== false, data }, { key: bridgeKey, channel });
  });
  for (let i = 0; i < packets.length; i += PUBLISH_BATCH) {
    const res = await fetch(broker.info.http, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ channel, events: packets.slice(i, i + PUBLISH_BATCH) }),
      signal: AbortSignal.timeout(30000), // 5 × 128 KiB sealed chunks, on a loaded machine
    });
    const text = await res.text();
    assert.equal(res.status, 200, `publish on ${channel}: ${text}`);
  }
}

const devChannel = `/tether/${APP}/${STAGE}/in`;
const workerChannel = (source) => `/tether/${APP}/${STAGE}/${source}/in`;
const newSource = () => crypto.randomBytes(16).toString('hex');

function initPackets(source, functionID, environment) {
  const body = Buffer.from(JSON.stringify({ functionID, workerID: source, environment, streaming: false, protocol: 1 }));
  return packetize(PACKET_TYPES.Init, source, crypto.randomUUID(), body);
}

/** A relayed GET /next answer, as the bridge sends it: under a fresh id,
 * the request id inside (docs/bridge-protocol.md, "Ids"). */
function nextPackets(source, requestId, event = {}) {
  return packetize(PACKET_TYPES.Next, source, crypto.randomUUID(), nextText(requestId, event, 'Env'));
}

/** Subscribes to a worker's channel; resolves to a function that waits
 * for dev's final answer (Response, Error or InitError) to a request id. */
async function listen(source) {
  const client = await connect({ realtimeUrl: broker.info.realtime, host: new URL(broker.info.http).host }, { auth: apiKeyAuth({ host: new URL(broker.info.http).host }, KEY) });
  const sub = await client.subscribe(workerChannel(source), apiKeyAuth({ host: new URL(broker.info.http).host }, KEY));
  assert.equal(sub.type, 'subscribe_success', JSON.stringify(sub));
  const answer = async (requestId, ms = 20000) => {
    const chunks = [];
    for (;;) {
      const m = await client.next(
        (msg) => {
          if (msg.type !== 'data' || msg.id !== sub.id) return false;
          const p = open(msg.event, { key: bridgeKey, channel: workerChannel(source) });
          // Answers carry the request id; an InitError has a fresh id of its
          // own (docs/bridge-protocol.md, "Ids") and is about the one Next
          // each of these sources sends at a time.
          if (p.type === PACKET_TYPES.InitError) return true;
          return p.id === requestId && p.type !== PACKET_TYPES.Ping && p.type !== PACKET_TYPES.Reboot;
        },
        { timeoutMs: ms, what: `dev's answer to ${requestId}` },
      );
      const p = open(m.event, { key: bridgeKey, channel: workerChannel(source) });
      chunks[p.index] = p.data;
      if (p.final !== false) return { type: p.type, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    }
  };
  return { client, answer };
}

// The handler reports its environment and whether a marker file exists.
const HANDLER = `import fs from 'node:fs';
export const handler = async (event) => ({ env: process.env, marker: fs.existsSync(event.marker ?? '/nonexistent') });
`;

describe('tether dev under hostile packets', { timeout: 600000 }, () => {
  let dev;
  let dir;

  before(async () => {
    broker = await startBroker(['--api-key', KEY]);
    dir = makeProject({
      files: {
        'src/env.mjs': HANDLER,
        'tether.json': {
          app: APP,
          stage: STAGE,
          events: { http: broker.info.http, apiKey: KEY },
          functions: {
            Env: { handler: 'src/env.handler', runtime: 'nodejs20.x' },
            Capped: { handler: 'src/env.handler', runtime: 'nodejs20.x', concurrency: CONCURRENCY },
          },
        },
      },
    });
    dev = await startDev(dir);
    bridgeKey = keyParse(fs.readFileSync(path.join(dir, '.tether', 'keys', `${STAGE}.key`), 'utf8'));
  });

  after(async () => {
    if (dev) await dev.stop();
    if (broker) await broker.stop();
  });

  // A test that crashed dev (as main did) must not fail the ones after it.
  beforeEach(async () => {
    if (!dev.alive) {
      await dev.stop().catch(() => {});
      dev = await startDev(dir);
    }
  });

  /** Runs one invocation through a new source whose Init carries env. */
  async function invokeThrough(environment, event = {}) {
    const source = newSource();
    const { client, answer } = await listen(source);
    try {
      const requestId = crypto.randomUUID();
      await publishPackets(devChannel, initPackets(source, 'Env', environment));
      await publishPackets(devChannel, nextPackets(source, requestId, event));
      return await answer(requestId);
    } finally {
      await client.close();
    }
  }

  test('a forged Init cannot change how the worker starts; the real settings still arrive', async () => {
    const marker = path.join(tempDir('tether-hostile-'), 'ran');
    const evil = path.join(path.dirname(marker), 'evil.cjs');
    fs.writeFileSync(evil, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
    const r = await invokeThrough(
      [
        `NODE_OPTIONS=--require=${evil}`,
        'LD_PRELOAD=/nonexistent/hostile.so',
        `BASH_ENV=${evil}`,
        `PYTHONSTARTUP=${evil}`,
        'TETHER_DEV=false',
        'AWS_LAMBDA_RUNTIME_API=127.0.0.1:1',
        'GREETING=from the deployed function',
        'AWS_ACCESS_KEY_ID=AKIAHOSTILETEST',
        'AWS_SECRET_ACCESS_KEY=secret-from-init',
        'AWS_SESSION_TOKEN=token-from-init',
      ],
      { marker },
    );
    assert.equal(r.type, PACKET_TYPES.Response, `${JSON.stringify(r.body)}\n${dev.dump()}`);
    const { env } = r.body;
    assert.equal(r.body.marker, false, 'the code NODE_OPTIONS named ran');
    assert.equal(fs.existsSync(marker), false, 'the code NODE_OPTIONS named ran');
    for (const name of ['NODE_OPTIONS', 'LD_PRELOAD', 'BASH_ENV', 'PYTHONSTARTUP']) {
      assert.equal(env[name], undefined, `${name} reached the worker`);
    }
    assert.notEqual(env.AWS_LAMBDA_RUNTIME_API, '127.0.0.1:1');
    // The deployed function's settings and credentials are what an Init is for.
    const kept = ['TETHER_DEV', 'GREETING', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
    assert.deepEqual(Object.fromEntries(kept.map((name) => [name, env[name]])), {
      TETHER_DEV: 'true',
      GREETING: 'from the deployed function',
      AWS_ACCESS_KEY_ID: 'AKIAHOSTILETEST',
      AWS_SECRET_ACCESS_KEY: 'secret-from-init',
      AWS_SESSION_TOKEN: 'token-from-init',
    });
    // One warning names what was dropped, never a value.
    await dev.waitForStderr(/not taken.*NODE_OPTIONS.*LD_PRELOAD/);
    assert.doesNotMatch(dev.stderrText, /evil\.cjs|hostile\.so/);
  });

  test('a forged Init cannot choose where programs are found (PATH)', async () => {
    const r = await invokeThrough(['PATH=/nonexistent/hostile-bin', 'GREETING=path test']);
    assert.equal(r.type, PACKET_TYPES.Response, `${JSON.stringify(r.body)}\n${dev.dump()}`);
    assert.notEqual(r.body.env.PATH, '/nonexistent/hostile-bin');
    assert.equal(r.body.env.GREETING, 'path test');
    assert.doesNotMatch(dev.stderrText, /hostile-bin/);
  });

  test('a functionID cut inside a UTF-8 sequence is refused, and dev keeps serving', async () => {
    const source = newSource();
    const { client, answer } = await listen(source);
    try {
      // 2 + 2n bytes: any cut at an odd length lands inside a character.
      const functionID = `Ab${'é'.repeat(60)}`;
      const requestId = crypto.randomUUID();
      await publishPackets(devChannel, initPackets(source, functionID, ['A=b']));
      await publishPackets(devChannel, nextPackets(source, requestId));
      const r = await answer(requestId).catch((err) => {
        throw new Error(`${err.message}\ndev alive: ${dev.alive} (${JSON.stringify(dev.exited)})\n${dev.dump()}`);
      });
      assert.equal(r.type, PACKET_TYPES.InitError, JSON.stringify(r.body));
      assert.match(r.body.errorMessage, /not a live function in tether\.json/);
    } finally {
      await client.close();
    }
    assert.ok(dev.alive, dev.dump());
    const ok = await invokeThrough(['GREETING=still here']);
    assert.equal(ok.type, PACKET_TYPES.Response, dev.dump());
    assert.equal(ok.body.env.GREETING, 'still here');
  });

  test('sources that are not a bridge worker id are refused', async () => {
    const before = dev.recordsOf('worker').length;
    const pidsBefore = dev.sandboxPids().length;
    for (const source of ['not-a-worker', 'a'.repeat(33), 'ok.source', 'ÿé']) {
      await publishPackets(devChannel, initPackets(source, 'Env', []));
      await publishPackets(devChannel, nextPackets(source, crypto.randomUUID()));
    }
    await dev.waitForStderr(/from a source that is not a bridge's worker id/);
    // A real one after them is served: everything before it was handled.
    const ok = await invokeThrough([]);
    assert.equal(ok.type, PACKET_TYPES.Response, dev.dump());
    const workers = dev.recordsOf('worker', 0).slice(before);
    assert.equal(workers.length, 1, `workers made for bad sources: ${JSON.stringify(workers)}`);
    assert.equal(dev.sandboxPids().length, pidsBefore + 1, dev.dump());
  });

  test('an oversized message is abandoned alone, and dev keeps serving', async () => {
    const source = newSource();
    // 17 MiB of event: over the 16 MiB a message may hold.
    const requestId = crypto.randomUUID();
    await publishPackets(devChannel, initPackets(source, 'Env', []));
    const big = nextPackets(source, requestId, { pad: 'x'.repeat(17 * 1024 * 1024) });
    await publishPackets(devChannel, big);
    await dev.waitForStderr(/Next \S+ from [0-9a-f]{32} was incomplete: the message is larger than the receiver holds/, 90000); // 17 MiB sealed, published and opened under ASan
    assert.ok(dev.alive, dev.dump());
    const ok = await invokeThrough(['GREETING=after the flood']);
    assert.equal(ok.type, PACKET_TYPES.Response, dev.dump());
    assert.equal(ok.body.env.GREETING, 'after the flood');
  });
  test(`50 Inits from distinct sources start at most concurrency (${CONCURRENCY}) workers`, async () => {
    const started = () => [...dev.stderrText.matchAll(/Capped: sandbox [0-9a-f]{32} started \(pid (\d+)/g)].map((m) => Number(m[1]));
    const sources = Array.from({ length: 50 }, newSource);
    const last = await listen(sources[sources.length - 1]);
    try {
      const packets = [];
      for (const source of sources) {
        packets.push(...initPackets(source, 'Capped', []));
        packets.push(...nextPackets(source, crypto.randomUUID()));
      }
      const lastId = crypto.randomUUID();
      packets.push(...nextPackets(sources[sources.length - 1], lastId));
      await publishPackets(devChannel, packets);
      const r = await last.answer(lastId);
      assert.equal(r.type, PACKET_TYPES.InitError, JSON.stringify(r.body));
      assert.match(r.body.errorMessage, /already runs 2 workers for Capped/);
    } finally {
      await last.client.close();
    }
    await sleep(1000); // any late starts would show by now
    const pids = started();
    assert.ok(pids.length >= 1 && pids.length <= CONCURRENCY, `${pids.length} workers started:\n${dev.dump()}`);
    assert.ok(pids.filter(alive).length <= CONCURRENCY);
    const capped = dev.recordsOf('worker').filter((r) => JSON.stringify(r).includes('Capped'));
    assert.ok(capped.length <= CONCURRENCY, dev.dump());
  });

});

describe('local runtimes start with default signal dispositions', () => {
  test('no signal is ignored or blocked in a sandbox process', async () => {
    const cloudDir = tempDir('tether-signals-');
    const out = path.join(cloudDir, 'status');
    const lambda = await startLambda(cloudDir, {
      functions: [
        {
          name: 'signals',
          bootstrap: ['/bin/sh', '-c', `grep '^Sig' /proc/self/status > ${out}.tmp && mv ${out}.tmp ${out}; exec sleep 30`],
          timeout: 2,
        },
      ],
    });
    try {
      // The runtime never asks for work: the invocation times out, but the
      // process has written what it inherited by then.
      invokeApi(lambda.endpoint, 'signals', {}, { ms: 15000 }).catch(() => {});
      await waitFor(() => fs.existsSync(out), 10000, 'the runtime to report its signals');
      const status = Object.fromEntries(
        fs
          .readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(':').map((s) => s.trim())),
      );
      assert.equal(status.SigIgn, '0000000000000000', `ignored: ${JSON.stringify(status)}`);
      assert.equal(status.SigBlk, '0000000000000000', `blocked: ${JSON.stringify(status)}`);
    } finally {
      await lambda.stop();
    }
  });
});
