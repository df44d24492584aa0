// The broker process: command-line options, shutdown on signals, and the
// options that shape what it serves (namespaces, key files, connection limit).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  TETHER_BIN,
  apiKeyAuth,
  assertErrorMessage,
  closeAllClients,
  connect,
  httpPublish,
  randomUUID,
  sanitizerFindings,
  startBroker,
  withTimeout,
} from './lib/broker.mjs';

const KEY = 'da2-lifecycletestkey000000001';

function exitOf(broker, ms) {
  const child = broker.child;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return withTimeout(
    new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    ms,
    'the broker to exit',
  );
}

function runTether(args) {
  const r = spawnSync(TETHER_BIN, args, { encoding: 'utf8', timeout: 10000 });
  assert.equal(sanitizerFindings(r.stderr ?? '').length, 0, r.stderr);
  return r;
}

describe('broker process', () => {
  const started = [];
  const start = async (args) => {
    const b = await startBroker(args);
    started.push(b);
    return b;
  };
  after(async () => {
    await closeAllClients();
    for (const b of started) await b.stop();
  });

  test('--help prints the usage and exits 0', () => {
    const r = runTether(['broker', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^usage: tether broker/);
    for (const opt of ['--listen', '--api-key', '--iam', '--tls-cert', '--keepalive-ms', '--output-limit', '--json']) {
      assert.ok(r.stdout.includes(opt), `help lacks ${opt}`);
    }
  });

  test('bad options exit 2 with a message on stderr', () => {
    for (const args of [
      ['--listen', 'nonsense'],
      ['--listen', '127.0.0.1:99999'],
      ['--tls-cert', '/nonexistent.pem'],
      ['--keepalive-ms', '0'],
      ['--output-limit', 'lots'],
      ['--iam', 'no-secret'],
      ['--no-such-option'],
      ['unexpected-argument'],
    ]) {
      const r = runTether(['broker', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `${args.join(' ')}: no message`);
      assert.equal(r.stdout, '', `${args.join(' ')}: printed on stdout`);
    }
  });

  test('a port already in use exits 1', async () => {
    const b = await start(['--api-key', KEY]);
    const r = runTether(['broker', '--listen', `127.0.0.1:${b.port}`, '--api-key', KEY]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.length > 0);
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal} stops a running idle broker promptly with exit code 0`, async () => {
      const b = await start(['--api-key', KEY]);
      assert.ok(await b.ping(), 'the broker does not answer HTTP');
      b.child.kill(signal);
      const exit = await exitOf(b, 3000);
      assert.deepEqual(exit, { code: 0, signal: null });
      b.assertNoSanitizerReport();
    });
  }

  // The listening line is what supervisors (and these tests) wait for, so the
  // signal handlers must be in place by the time it is printed.
  test('SIGTERM sent right after the listening line still shuts down cleanly (exit 0)', async () => {
    for (let i = 0; i < 3; i++) {
      const b = await start(['--api-key', KEY]);
      b.child.kill('SIGTERM');
      const exit = await exitOf(b, 3000);
      assert.deepEqual(exit, { code: 0, signal: null }, `attempt ${i}`);
      b.assertNoSanitizerReport();
    }
  });

  test('SIGTERM with connected clients closes them with 1001 and exits 0', async () => {
    const b = await start(['--api-key', KEY]);
    const auth = apiKeyAuth(b, KEY);
    const clients = await Promise.all([connect(b, { auth }), connect(b, { auth })]);
    await clients[0].subscribe('/default/shutdown', auth);
    b.child.kill('SIGTERM');
    for (const c of clients) {
      const closed = await c.waitClosed(3000);
      assert.equal(closed.code, 1001);
    }
    const exit = await exitOf(b, 3000);
    assert.deepEqual(exit, { code: 0, signal: null });
    b.assertNoSanitizerReport();
  });

  test('--namespace replaces the default namespaces', async () => {
    const b = await start(['--api-key', KEY, '--namespace', 'chat', '--namespace', 'n-2']);
    const auth = apiKeyAuth(b, KEY);
    const c = await connect(b, { auth });
    const s = await c.subscribe('/chat/room', auth);
    assert.equal(s.type, 'subscribe_success');
    assert.equal((await c.subscribe('/n-2/*', auth)).type, 'subscribe_success');
    const id = randomUUID();
    assertErrorMessage(await c.subscribe('/default/room', auth, id), 'subscribe_error', id, 'NotFoundException');
    const h = await httpPublish(b, { channel: '/tether/x', events: ['1'] }, { 'x-api-key': KEY });
    assert.equal(h.status, 404);
    await c.publish('/chat/room', ['"hi"'], auth);
    assert.equal((await c.nextData(s.id)).event, '"hi"');
    await c.close();
  });

  test('--api-key-file accepts every key in the file (comments and blank lines skipped)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-keys-'));
    try {
      const file = path.join(dir, 'keys');
      fs.writeFileSync(file, '# keys\nda2-filekey1\r\n\nda2-filekey2\n');
      const b = await start(['--api-key-file', file]);
      assert.equal(b.info.apiKey, undefined, 'a key was generated although keys were given');
      for (const key of ['da2-filekey1', 'da2-filekey2']) {
        const h = await httpPublish(b, { channel: '/default/k', events: ['1'] }, { 'x-api-key': key });
        assert.equal(h.status, 200, key);
      }
      for (const key of ['# keys', 'da2-filekey', '']) {
        const h = await httpPublish(b, { channel: '/default/k', events: ['1'] }, { 'x-api-key': key });
        assert.equal(h.status, 401, JSON.stringify(key));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--max-connections refuses connections beyond the limit', async () => {
    const b = await start(['--api-key', KEY, '--max-connections', '2']);
    const auth = apiKeyAuth(b, KEY);
    const first = await connect(b, { auth });
    const second = await connect(b, { auth });
    await assert.rejects(connect(b, { auth, timeoutMs: 3000 }));
    await first.close();
    // Room again once one has gone (the close is processed asynchronously).
    let third = null;
    for (let i = 0; i < 20 && !third; i++) {
      third = await connect(b, { auth, timeoutMs: 3000 }).catch(() => null);
    }
    assert.ok(third, 'no room after a connection closed');
    await second.close();
    await third.close();
  });
});
