// Writes tests/unit/data/seal_vectors.json: packets sealed by lib/seal.mjs
// with fixed keys, times and nonces, which tests/unit/test_bridge_seal.c opens
// and seals again byte for byte (and tests/integration/seal.test.mjs checks
// that the committed file is what this script writes today).
//
//   node tests/integration/lib/seal-vectors.mjs      rewrites the file
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { keyFormat, seal, TYPES } from './seal.mjs';

export const VECTORS_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../unit/data/seal_vectors.json',
);

const digest = (label) => crypto.createHash('sha256').update(label).digest();

function pattern(len) {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 131 + Math.floor(i / 251)) & 0xff;
  return b;
}

const CASES = [
  { type: TYPES.Init, source: 'dev', id: 'init-1', data: Buffer.from('{"env":{"AWS_REGION":"us-east-1"}}') },
  { type: TYPES.Ping, source: 'dev', id: 'ping-1', data: Buffer.alloc(0) },
  { type: TYPES.Next, source: 'w-1', id: 'req-1', index: 7, final: false, data: pattern(1000) },
  {
    type: TYPES.Response,
    source: 'dev',
    id: 'req"\\1',
    data: Buffer.from('{"statusCode":200}'),
    contentType: 'application/json; charset=utf-8',
  },
  { type: TYPES.Error, source: 'wörker-é', id: '💡/slash', data: Buffer.from('{"errorType":"E"}') },
  { type: TYPES.Reboot, source: 'dev', id: 'r', data: Buffer.from('x') },
  { type: TYPES.InitError, source: 'w-2', id: 'init-2', data: pattern(3) },
  { type: TYPES.TaskStart, source: 'w-3', id: 'task', index: 524287, final: true, data: pattern(4096) },
  { type: TYPES.TaskComplete, source: 'w-3', id: 'task', data: pattern(17), channel: '/tether/other/x' },
];

/** The vectors, computed afresh. */
export function buildVectors() {
  const key = digest('tether seal vectors: key');
  const vectors = CASES.map((c, i) => {
    const channel = c.channel ?? '/tether/dev/stage-1';
    const now = 1760000000000 + i;
    const nonce = digest(`tether seal vectors: nonce ${i}`).subarray(0, 12);
    const fields = { index: 0, final: true, contentType: '', ...c };
    delete fields.channel;
    return {
      channel,
      now,
      nonce: nonce.toString('base64'),
      type: fields.type,
      source: fields.source,
      id: fields.id,
      index: fields.index,
      final: fields.final,
      contentType: fields.contentType,
      data: fields.data.toString('base64'),
      sealed: seal(fields, { key, channel, now, nonce }),
    };
  });
  return { key: keyFormat(key), vectors };
}

export function vectorsText() {
  return `${JSON.stringify(buildVectors(), null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(VECTORS_PATH, vectorsText());
  console.log(`wrote ${VECTORS_PATH}`);
}
