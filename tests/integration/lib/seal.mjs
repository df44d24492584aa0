// Sealed bridge packets written from the format's description alone
// (docs/bridge-protocol.md, "Sealed packets"), with node:crypto only: the
// integration tests and benchmarks use it to talk to the real binaries as the
// other end would, and to forge, alter and replay packets as an attacker
// would. It shares no code with src/bridge/seal.c, so the two check each
// other (tests/unit/data/seal_vectors.json, tests/integration/seal.test.mjs).
import crypto from 'node:crypto';

// The envelope's constants are the open protocol's (lib/bridge.mjs);
// re-exported, not read at load time, so either module may import the other.
export { CHUNK_BYTES, PACKET_TYPES as TYPES } from './bridge.mjs';
import { CHUNK_BYTES } from './bridge.mjs';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const MAX_INDEX = 1 << 19;
export const MAX_TS = 2 ** 53 - 1;
export const DEFAULT_WINDOW_MS = 5 * 60 * 1000;

const KEY_PREFIX = 'tk1.';
const AAD_LABEL = 'tether bridge seal v1';
const MAX_SOURCE_BYTES = 64;
const MAX_ID_BYTES = 128;
const MAX_CONTENT_TYPE_BYTES = 127;

/** Why a packet was refused: reason is malformed, forged, time, replay or full. */
export class SealError extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/** 32 random bytes. */
export function keyGenerate() {
  return crypto.randomBytes(KEY_BYTES);
}

/** The key's text form: "tk1." and unpadded base64url. */
export function keyFormat(key) {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new TypeError('a key is 32 bytes');
  return KEY_PREFIX + key.toString('base64url');
}

/** Parses the text form (surrounding whitespace ignored); throws without echoing it. */
export function keyParse(text) {
  const trimmed = String(text).replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
  if (!trimmed.startsWith(KEY_PREFIX)) throw new SealError('malformed', 'bridge key does not start with "tk1."');
  const body = trimmed.slice(KEY_PREFIX.length);
  if (body.includes('=')) throw new SealError('malformed', "bridge key must not be padded with '='");
  if (body.length !== 43) throw new SealError('malformed', 'bridge key must have 43 characters after "tk1."');
  // Buffer.from skips what it does not understand, so check the alphabet and
  // that encoding the bytes again gives the same text (one form per key).
  const key = Buffer.from(body, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(body) || key.length !== KEY_BYTES || key.toString('base64url') !== body)
    throw new SealError('malformed', 'bridge key is not 32 bytes in base64url');
  return key;
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function text(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u32(b.length), b]);
}

/** The associated data: every field that gives a packet its meaning, length-prefixed. */
export function associatedData({ channel, type, source, id, index, final, contentType, ts }) {
  const ts64 = Buffer.alloc(8);
  ts64.writeBigUInt64BE(BigInt(ts));
  return Buffer.concat([
    text(AAD_LABEL),
    text(channel),
    u32(type),
    text(source),
    text(id),
    u32(index),
    Buffer.from([final ? 1 : 0]),
    text(contentType || ''),
    ts64,
  ]);
}

function checkText(name, value, maxBytes) {
  if (typeof value !== 'string') throw new SealError('malformed', `packet "${name}" must be a string`);
  if (Buffer.byteLength(value) > maxBytes)
    throw new SealError('malformed', `packet "${name}" is longer than ${maxBytes} bytes`);
  if (/[\u0000-\u001f]/.test(value))
    throw new SealError('malformed', `packet "${name}" has a control character`);
}

/**
 * Seals one packet and returns its JSON text.
 * fields: { type, source, id, index = 0, final = true, data (Buffer), contentType }
 * options: { key, channel, now = Date.now(), nonce (tests only: 12 bytes) }
 */
export function seal(fields, { key, channel, now = Date.now(), nonce = crypto.randomBytes(NONCE_BYTES) }) {
  const { type, source, id, index = 0, final = true, contentType = '' } = fields;
  const data = Buffer.from(fields.data ?? Buffer.alloc(0));
  checkText('source', source, MAX_SOURCE_BYTES);
  checkText('id', id, MAX_ID_BYTES);
  checkText('contentType', contentType, MAX_CONTENT_TYPE_BYTES);
  if (!Number.isInteger(type) || type < 0 || type > 8) throw new SealError('malformed', 'bad type');
  if (!Number.isInteger(index) || index < 0 || index >= MAX_INDEX) throw new SealError('malformed', 'bad index');
  if (!Number.isInteger(now) || now < 0 || now > MAX_TS) throw new SealError('malformed', 'bad time');
  if (data.length > CHUNK_BYTES) throw new SealError('malformed', 'a sealed packet holds at most one chunk');
  if (nonce.length !== NONCE_BYTES) throw new TypeError('a nonce is 12 bytes');
  const aad = associatedData({ channel, type, source, id, index, final, contentType, ts: now });
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
  // The field order src/bridge/packet.c writes, so that equal inputs give
  // equal bytes (the vectors compare them).
  return (
    `{"type":${type},"source":${JSON.stringify(source)},"id":${JSON.stringify(id)},` +
    `"index":${index},"data":"${sealed.toString('base64')}","final":${final ? 'true' : 'false'}` +
    (contentType ? `,"contentType":${JSON.stringify(contentType)}` : '') +
    `,"v":1,"ts":${now},"nonce":"${nonce.toString('base64')}"}`
  );
}

/** The nonces accepted inside the window, each until the window refuses its packet anyway. */
export class ReplayMemory {
  constructor({ windowMs = DEFAULT_WINDOW_MS, max = 1 << 18 } = {}) {
    this.windowMs = windowMs;
    this.max = max;
    this.expiry = new Map();
  }

  sweep(now) {
    for (const [nonce, expires] of this.expiry) if (expires < now) this.expiry.delete(nonce);
  }

  get size() {
    return this.expiry.size;
  }
}

/** Strict base64 (padded or not) to bytes, or null: Buffer.from alone skips bad characters. */
function strictBase64(text) {
  const bytes = Buffer.from(text, 'base64');
  const unpadded = (s) => (s.endsWith('==') ? s.slice(0, -2) : s.endsWith('=') ? s.slice(0, -1) : s);
  return unpadded(bytes.toString('base64')) === unpadded(text) ? bytes : null;
}

function field(p, name, check, fallback) {
  if (!(name in p)) {
    if (fallback === undefined) throw new SealError('malformed', `packet has no "${name}"`);
    return fallback;
  }
  if (!check(p[name])) throw new SealError('malformed', `packet "${name}" is malformed`);
  return p[name];
}

/**
 * Opens one packet's JSON text that arrived on channel at now. Returns
 * { type, source, id, index, final, contentType, ts, data } or throws a
 * SealError. replay (a ReplayMemory) remembers the nonces of what opened;
 * without one, replays are not detected.
 */
export function open(json, { key, channel, now = Date.now(), replay, windowMs = replay?.windowMs ?? DEFAULT_WINDOW_MS }) {
  let p;
  try {
    p = JSON.parse(json);
  } catch {
    throw new SealError('malformed', 'packet is not JSON');
  }
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new SealError('malformed', 'packet is not an object');
  const isInt = (lo, hi) => (v) => Number.isInteger(v) && v >= lo && v <= hi;
  const type = field(p, 'type', isInt(0, 8));
  const source = field(p, 'source', (v) => typeof v === 'string');
  const id = field(p, 'id', (v) => typeof v === 'string');
  checkText('source', source, MAX_SOURCE_BYTES);
  checkText('id', id, MAX_ID_BYTES);
  const index = field(p, 'index', isInt(0, MAX_INDEX - 1), 0);
  const final = field(p, 'final', (v) => typeof v === 'boolean', true);
  const contentType = field(p, 'contentType', (v) => typeof v === 'string', '');
  checkText('contentType', contentType, MAX_CONTENT_TYPE_BYTES);
  if (!('v' in p)) throw new SealError('malformed', 'packet is not sealed (no "v")');
  field(p, 'v', (v) => v === 1);
  const ts = field(p, 'ts', isInt(0, MAX_TS));
  const nonceText = field(p, 'nonce', (v) => typeof v === 'string' && /^[A-Za-z0-9+/]{16}$/.test(v));
  const dataText = field(p, 'data', (v) => typeof v === 'string');
  const nonce = Buffer.from(nonceText, 'base64');
  const sealed = strictBase64(dataText);
  if (!sealed) throw new SealError('malformed', 'packet "data" is not valid base64');
  if (sealed.length < TAG_BYTES || sealed.length > CHUNK_BYTES + TAG_BYTES)
    throw new SealError('malformed', 'sealed data has the wrong size');

  if (Math.abs(ts - now) > windowMs) throw new SealError('time', 'packet time is outside the window');
  const nonceKey = nonce.toString('hex');
  if (replay) {
    if (replay.expiry.has(nonceKey)) throw new SealError('replay', 'packet replayed');
    if (replay.expiry.size >= replay.max) replay.sweep(now);
    if (replay.expiry.size >= replay.max) throw new SealError('full', 'replay memory is full');
  }
  const aad = associatedData({ channel, type, source, id, index, final, contentType, ts });
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  let data;
  try {
    data = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealError('forged', 'packet does not open with the key');
  }
  if (replay) replay.expiry.set(nonceKey, ts + windowMs);
  return { type, source, id, index, final, contentType, ts, data };
}
