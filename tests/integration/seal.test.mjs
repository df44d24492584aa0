// Sealed packets across the two implementations: src/bridge/seal.c (through
// its unit-test binary) and tests/integration/lib/seal.mjs (node:crypto).
// The C side opens and re-seals the committed vectors byte for byte
// (test_bridge_seal's vectors case); here Node opens packets the C code
// sealed with random nonces, and checks that the committed vectors are what
// lib/seal-vectors.mjs writes today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { TETHER_BIN } from './lib/broker.mjs';
import { keyFormat, keyGenerate, keyParse, open, ReplayMemory, seal, SealError, TYPES } from './lib/seal.mjs';
import { buildVectors, VECTORS_PATH, vectorsText } from './lib/seal-vectors.mjs';

const CHUNK = 128 * 1024;

/** The unit-test binary built next to the tether binary under test. */
const SEAL_TEST_BIN = path.join(path.dirname(TETHER_BIN), 'tests', 'test_bridge_seal');

function pattern(len) {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 131 + Math.floor(i / 251)) & 0xff;
  return b;
}

function refusal(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SealError, `unexpected ${e}`);
    return e.reason;
  }
  assert.fail('the packet was accepted');
}

/** Runs the C test case that seals a sample, and returns the sample. */
function cSealedSample() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-seal-'));
  try {
    const file = path.join(dir, 'sample.json');
    const r = spawnSync(SEAL_TEST_BIN, [], {
      env: { ...process.env, TEST_ONLY: 'c_sealed_sample', TETHER_SEAL_SAMPLE: file },
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, `${SEAL_TEST_BIN}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /bridge_seal: 1 passed, 0 failed/);
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the committed vectors are what lib/seal-vectors.mjs writes', () => {
  assert.equal(fs.readFileSync(VECTORS_PATH, 'utf8'), vectorsText());
});

test('node opens the vectors, and a changed channel, time or replay is refused', () => {
  const { key: keyText, vectors } = buildVectors();
  const key = keyParse(keyText);
  const replay = new ReplayMemory();
  for (const v of vectors) {
    const p = open(v.sealed, { key, channel: v.channel, now: v.now, replay });
    assert.deepEqual(
      { type: p.type, source: p.source, id: p.id, index: p.index, final: p.final, contentType: p.contentType },
      { type: v.type, source: v.source, id: v.id, index: v.index, final: v.final, contentType: v.contentType },
    );
    assert.equal(p.data.toString('base64'), v.data);
    assert.equal(refusal(() => open(v.sealed, { key, channel: v.channel, now: v.now, replay })), 'replay');
    assert.equal(refusal(() => open(v.sealed, { key, channel: `${v.channel}x`, now: v.now })), 'forged');
    assert.equal(refusal(() => open(v.sealed, { key, channel: v.channel, now: v.now + 300001 })), 'time');
  }
});

test('node opens what the C code sealed with random nonces', () => {
  const sample = cSealedSample();
  const key = keyParse(sample.key);
  const replay = new ReplayMemory();
  const opened = sample.packets.map((p) => open(p.sealed, { key, channel: sample.channel, now: sample.now, replay }));
  assert.equal(opened.length, 6);
  for (let i = 0; i < 3; i++) assert.equal(opened[i].data.toString('base64'), sample.packets[i].data);
  assert.equal(opened[0].type, TYPES.Init);
  assert.equal(opened[2].contentType, 'application/octet-stream');
  assert.equal(opened[2].data.length, CHUNK);
  // The writer's message: three packets in order, the last one final.
  const message = opened.slice(3);
  assert.deepEqual(message.map((p) => [p.type, p.index, p.final]), [
    [TYPES.Next, 0, false],
    [TYPES.Next, 1, false],
    [TYPES.Next, 2, true],
  ]);
  assert.ok(Buffer.concat(message.map((p) => p.data)).equals(pattern(2 * CHUNK + 7)));
  // The plaintext is not in the packet.
  assert.ok(!sample.packets[0].sealed.includes('s3cr3t'));

  // Replayed, altered, on another channel, with another key: refused.
  const first = sample.packets[0].sealed;
  const opts = { key, channel: sample.channel, now: sample.now };
  assert.equal(refusal(() => open(first, { ...opts, replay })), 'replay');
  assert.equal(refusal(() => open(first.replace('"type":0', '"type":6'), opts)), 'forged');
  assert.equal(refusal(() => open(first, { ...opts, channel: '/tether/dev/other' })), 'forged');
  assert.equal(refusal(() => open(first, { ...opts, key: keyGenerate() })), 'forged');
});

test('key text: round trip, and errors that never show the key', () => {
  const key = keyGenerate();
  const text = keyFormat(key);
  assert.match(text, /^tk1\.[A-Za-z0-9_-]{43}$/);
  assert.ok(keyParse(`  ${text}\n`).equals(key));
  const body = text.slice(4);
  for (const bad of [`tk2.${body}`, `tk1.${body}=`, `tk1.${body.slice(1)}`, `tk1.+${body.slice(1)}`]) {
    try {
      keyParse(bad);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof SealError);
      assert.ok(!e.message.includes(body.slice(0, 8)));
    }
  }
});

test('sealing and opening 6 MiB in node (timing, not an assertion)', () => {
  const key = keyGenerate();
  const body = pattern(6 << 20);
  const channel = '/tether/dev/bench';
  const now = Date.now();
  let t = process.hrtime.bigint();
  const packets = [];
  for (let off = 0, index = 0; off < body.length; off += CHUNK, index++)
    packets.push(
      seal(
        { type: TYPES.Next, source: 'dev', id: 'bench', index, final: off + CHUNK >= body.length, data: body.subarray(off, off + CHUNK) },
        { key, channel, now },
      ),
    );
  const sealMs = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  const replay = new ReplayMemory();
  const out = Buffer.concat(packets.map((p) => open(p, { key, channel, now, replay }).data));
  const openMs = Number(process.hrtime.bigint() - t) / 1e6;
  assert.ok(out.equals(body));
  console.log(`# node: 6 MiB in ${packets.length} packets: seal ${sealMs.toFixed(1)} ms, open ${openMs.toFixed(1)} ms`);
});
