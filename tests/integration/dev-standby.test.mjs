// Warm standbys in `tether dev` (docs/dev.md, "Reload"), end to end with the
// real binaries: after a save the next invocation is served by the runtime
// process started ahead (its pid is the one dev announced for the standby),
// an import error after a save is still an init error, a killed standby does
// not break the next call, and --no-standby restarts as before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { apiKeyAuth, connect } from './lib/broker.mjs';
import { PACKET_TYPES, nextText, packetize } from './lib/bridge.mjs';
import { keyParse, open, seal } from './lib/seal.mjs';
import { alive, invokeJson, makeProject, startBroker, startDev, waitFor } from './lib/dev.mjs';

const nodeJs = (v) => `export const handler = async () => ({ version: ${v}, pid: process.pid });\n`;
const pythonPy = (v) => `import os\n\n\ndef handler(event, context):\n    return {"version": ${v}, "pid": os.getpid()}\n`;

const envJs = (v) => `export const handler = async () => ({ version: ${v}, pid: process.pid, greeting: process.env.GREETING });\n`;

const files = {
  'tether.json': JSON.stringify({
    app: 'standby',
    functions: {
      Js: { handler: 'src/js.handler', runtime: 'nodejs20.x' },
      Py: { handler: 'py/app.handler', runtime: 'python3.12' },
    },
  }),
  'src/js.mjs': nodeJs(1),
  'py/app.py': pythonPy(1),
};

/** The standbys dev announced for fn after stderr offset `from`: [{id, pid}]. */
function standbys(dev, fn, from = 0) {
  const re = new RegExp(`${fn}: standby ([0-9a-f]{32}) started \\(pid (\\d+)\\)`, 'g');
  return [...dev.stderrText.slice(from).matchAll(re)].map((m) => ({ id: m[1], pid: Number(m[2]) }));
}

async function nextStandby(dev, fn, from) {
  await waitFor(() => standbys(dev, fn, from).length > 0, 15000, `a standby for ${fn}`);
  return standbys(dev, fn, from)[0];
}

/** Saves a file and waits for dev's reload line for fn. */
async function save(dev, dir, file, text, fn) {
  const from = dev.records.length;
  fs.writeFileSync(path.join(dir, file), text);
  return dev.waitForRecord((x) => x.type === 'reload' && x.function === fn, 10000, 'the reload line', from);
}

describe('tether dev: warm standbys', () => {
  let dir;
  let dev;
  before(async () => {
    dir = makeProject({ files });
    dev = await startDev(dir);
  });
  after(async () => {
    await dev?.stop();
    dev?.assertNoSanitizerReport();
  });

  for (const [fn, file, make] of [
    ['Js', 'src/js.mjs', nodeJs],
    ['Py', 'py/app.py', pythonPy],
  ]) {
    test(`${fn}: after a save the standby answers with the new code, and a new one is started`, async () => {
      const first = await invokeJson(fn, { cwd: dir });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.json.version, 1);
      const standby = await nextStandby(dev, fn, 0);
      const fromErr = dev.stderrText.indexOf(`standby ${standby.id}`) + 1;
      assert.notEqual(standby.pid, first.json.pid);
      assert.ok(alive(standby.pid));
      const reload = await save(dev, dir, file, make(2) + '# padding\n'.repeat(fn === 'Py' ? 1 : 0), fn);
      assert.equal(reload.standby, true);
      const second = await invokeJson(fn, { cwd: dir });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(second.json, { version: 2, pid: standby.pid }, 'served by the standby');
      assert.ok(!alive(first.json.pid), 'the old worker was stopped');
      const refill = await nextStandby(dev, fn, fromErr);
      assert.notEqual(refill.pid, standby.pid);
    });
  }

  test('an import error after a save is reported as today, through the standby', async () => {
    await nextStandby(dev, 'Py', 0);
    const from = dev.records.length;
    await save(dev, dir, 'py/app.py', 'import no_such_module_here\n\n\ndef handler(e, c):\n    return 1\n', 'Py');
    const broken = await invokeJson('Py', { cwd: dir });
    assert.equal(broken.code, 1, broken.stderr);
    assert.equal(broken.json.errorType, 'Runtime.ImportModuleError');
    assert.match(broken.json.errorMessage, /no_such_module_here/);
    const rec = await dev.waitForRecord((x) => x.type === 'invocation' && x.function === 'Py', 5000, 'the error line', from);
    assert.equal(rec.errorType, 'Runtime.ImportModuleError');
    await waitFor(() => /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError/.test(dev.dump()), 5000, 'the INIT_REPORT line');
    await save(dev, dir, 'py/app.py', pythonPy(3) + '# fixed\n', 'Py');
    const fixed = await invokeJson('Py', { cwd: dir });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(fixed.json.version, 3);
  });

  test('a killed standby does not break the next invocation', async () => {
    const ok = await invokeJson('Js', { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    const known = standbys(dev, 'Js');
    const standby = known[known.length - 1];
    await waitFor(() => alive(standby.pid), 5000, 'the standby');
    process.kill(standby.pid, 'SIGKILL');
    await waitFor(() => !alive(standby.pid), 5000, 'the standby to go');
    const reload = await save(dev, dir, 'src/js.mjs', nodeJs(4), 'Js');
    assert.equal(reload.standby, false);
    const next = await invokeJson('Js', { cwd: dir });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.json.version, 4);
    assert.notEqual(next.json.pid, standby.pid);
  });
});

describe('tether dev --no-standby', () => {
  let dir;
  let dev;
  before(async () => {
    dir = makeProject({ files });
    dev = await startDev(dir, { args: ['--no-standby'] });
  });
  after(async () => {
    await dev?.stop();
    dev?.assertNoSanitizerReport();
  });

  test('a save restarts the workers: no standby is started', async () => {
    const first = await invokeJson('Js', { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const reload = await save(dev, dir, 'src/js.mjs', nodeJs(2), 'Js');
    assert.equal(reload.standby, false);
    const second = await invokeJson('Js', { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.json.version, 2);
    assert.deepEqual(standbys(dev, 'Js'), []);
  });
});

// A remote worker whose Init changes (new credentials, say) after its
// standby was started: the standby holds the old environment and must not
// serve. The test speaks for the bridge on a broker's channel, as
// hostile-dev.test.mjs does, so it can send a second Init from one source.
describe('tether dev: a standby is discarded when its worker\'s environment changes', () => {
  const KEY = `standby-${crypto.randomBytes(8).toString('hex')}`;
  const stage = 'test';
  let broker;
  let dev;
  let dir;
  let key;
  const devIn = `/tether/standby/${stage}/in`;

  before(async () => {
    broker = await startBroker(['--api-key', KEY]);
    dir = makeProject({
      files: {
        'tether.json': {
          app: 'standby',
          stage,
          events: { http: broker.info.http, apiKey: KEY },
          functions: { Env: { handler: 'src/env.handler', runtime: 'nodejs20.x' } },
        },
        'src/env.mjs': envJs(1),
      },
    });
    dev = await startDev(dir);
    key = keyParse(fs.readFileSync(path.join(dir, '.tether', 'keys', `${stage}.key`), 'utf8'));
  });
  after(async () => {
    await dev?.stop();
    dev?.assertNoSanitizerReport();
    await broker?.stop();
  });

  /** Publishes open packets (JSON text) on dev's channel, sealed as a bridge seals them. */
  async function send(texts) {
    const events = texts.map((text) => {
      const p = JSON.parse(text);
      return seal({ ...p, final: p.final !== false, data: Buffer.from(p.data, 'base64') }, { key, channel: devIn });
    });
    const res = await fetch(broker.info.http, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ channel: devIn, events }),
    });
    assert.equal(res.status, 200, await res.text());
  }

  /** Sends an Init with env (when given) and a Next from source; resolves to dev's answer body. */
  async function call(source, env) {
    const host = new URL(broker.info.http).host;
    const channel = `/tether/standby/${stage}/${source}/in`;
    const client = await connect({ realtimeUrl: broker.info.realtime, host }, { auth: apiKeyAuth({ host }, KEY) });
    try {
      const sub = await client.subscribe(channel, apiKeyAuth({ host }, KEY));
      const requestId = crypto.randomUUID();
      const body = { functionID: 'Env', workerID: source, environment: env, streaming: false, protocol: 1 };
      if (env) await send(packetize(PACKET_TYPES.Init, source, crypto.randomUUID(), Buffer.from(JSON.stringify(body))));
      await send(packetize(PACKET_TYPES.Next, source, crypto.randomUUID(), nextText(requestId, {}, 'Env')));
      const m = await client.next((msg) => msg.type === 'data' && msg.id === sub.id && open(msg.event, { key, channel }).id === requestId, {
        timeoutMs: 20000,
        what: `dev's answer to ${requestId}`,
      });
      const p = open(m.event, { key, channel });
      assert.equal(p.type, PACKET_TYPES.Response, p.data.toString());
      return JSON.parse(p.data.toString());
    } finally {
      await client.close();
    }
  }

  test('a new Init from the same worker: the old standby goes, a cold start answers with the new values', async () => {
    const source = crypto.randomBytes(16).toString('hex');
    const first = await call(source, ['GREETING=one']);
    assert.deepEqual([first.version, first.greeting], [1, 'one']);
    const old = await nextStandby(dev, 'Env', 0);
    const fromErr = dev.stderrText.indexOf(`standby ${old.id}`) + 1;
    const again = await call(source, ['GREETING=two']); // the running worker keeps its start's values
    assert.equal(again.pid, first.pid);
    const reload = await save(dev, dir, 'src/env.mjs', envJs(2), 'Env');
    assert.equal(reload.standby, true);
    const after2 = await call(source);
    assert.deepEqual([after2.version, after2.greeting], [2, 'two']);
    assert.notEqual(after2.pid, old.pid, 'the stale standby served');
    await waitFor(() => !alive(old.pid), 5000, 'the stale standby to go');
    const fresh = await nextStandby(dev, 'Env', fromErr);
    assert.ok(fs.readFileSync(`/proc/${fresh.pid}/environ`, 'latin1').split('\0').includes('GREETING=two'));
  });
});
