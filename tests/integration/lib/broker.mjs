// Test helpers for driving `tether broker` with independent clients: the `ws`
// WebSocket library, Node's fetch, and the official AWS SigV4 signer.
//
// Everything that waits has a timeout, so a misbehaving broker fails a test
// instead of hanging the suite. Every broker started here is stopped in an
// after() hook (registered by useBroker) and, as a last resort, killed when
// the test process exits.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';

import WebSocket from 'ws';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const integrationDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The tether binary under test: $TETHER_BIN, default ../../build/tether. */
export const TETHER_BIN = path.resolve(
  integrationDir,
  process.env.TETHER_BIN || path.join('..', '..', 'build', 'tether'),
);

export const SUBPROTOCOL = 'aws-appsync-event-ws';
export const REGION = 'us-east-1';
export const DEFAULT_WAIT_MS = 5000;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Lines on a sanitizer build's stderr that mean the run is broken.
const SANITIZER_PATTERNS = [
  'ERROR: AddressSanitizer',
  'ERROR: LeakSanitizer',
  'runtime error:',
];

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/* ------------------------------------------------------------------ broker */

const liveProcesses = new Set();
process.on('exit', () => {
  for (const child of liveProcesses) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** The help text of `$TETHER_BIN --help` (for feature detection). */
export function tetherHelp() {
  const r = spawnSync(TETHER_BIN, ['--help'], { encoding: 'utf8', timeout: 10000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** True when `tether --help` lists `command` among its commands. */
export function tetherHasCommand(command) {
  return new RegExp(`^\\s+${command}\\s`, 'm').test(tetherHelp());
}

/** Sanitizer report lines found in a process's stderr, if any. */
export function sanitizerFindings(stderr) {
  return stderr
    .split('\n')
    .filter((line) => SANITIZER_PATTERNS.some((p) => line.includes(p)));
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(null);
    }, ms);
    function onExit(code, signal) {
      clearTimeout(timer);
      resolve({ code, signal });
    }
    child.once('exit', onExit);
  });
}

export class Broker {
  constructor(child, info, args) {
    this.child = child;
    this.info = info;
    this.args = args;
    this.port = info.port;
    this.host = `127.0.0.1:${info.port}`;
    this.httpUrl = info.http;
    this.realtimeUrl = info.realtime;
    // The generated key, or the first --api-key given.
    const k = args.indexOf('--api-key');
    this.apiKey = info.apiKey ?? (k >= 0 ? args[k + 1] : undefined);
    this.stderrText = '';
    this.stopped = null;
    child.stderr.on('data', (chunk) => {
      this.stderrText += chunk;
    });
  }

  get stderr() {
    return this.stderrText;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** One HTTP round trip (GET /event, answered 405); never throws. */
  async ping() {
    if (this.info.http.startsWith('https:')) return false;
    try {
      const res = await fetch(this.httpUrl, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  /** Throws when the broker's stderr holds a sanitizer report. */
  assertNoSanitizerReport() {
    const findings = sanitizerFindings(this.stderrText);
    if (findings.length > 0) {
      throw new Error(
        `sanitizer report on the broker's stderr:\n${findings.join('\n')}\n--- stderr ---\n${this.stderrText}`,
      );
    }
  }

  /**
   * Stops the broker: SIGTERM, then (if it is still running) SIGINT, which
   * lets it finish an orderly shutdown so a sanitizer build can run its leak
   * check, then SIGKILL. Resolves to how it ended; throws on sanitizer
   * reports. A broker that does not exit on SIGTERM alone is covered by its
   * own test (lifecycle.test.mjs), not here.
   */
  async stop() {
    if (!this.stopped) {
      this.stopped = (async () => {
        let how = 'already exited';
        if (this.alive) {
          // One round trip first, so the event loop (and its signal handlers)
          // is surely running: an orderly exit lets a sanitizer build run its
          // leak check. A signal right after the listening line is covered
          // by lifecycle.test.mjs.
          await this.ping();
          this.child.kill('SIGTERM');
          let r = await waitExit(this.child, 1000);
          how = 'SIGTERM';
          if (!r) {
            this.child.kill('SIGINT');
            r = await waitExit(this.child, 5000);
            how = 'SIGTERM+SIGINT';
          }
          if (!r) {
            this.child.kill('SIGKILL');
            await waitExit(this.child, 5000);
            how = 'SIGKILL';
          }
        }
        liveProcesses.delete(this.child);
        this.child.stdout.destroy();
        this.child.stderr.destroy();
        return { how, code: this.child.exitCode, signal: this.child.signalCode };
      })();
    }
    const result = await this.stopped;
    this.assertNoSanitizerReport();
    return result;
  }
}

/**
 * Starts `tether broker --listen 127.0.0.1:0 --json ARGS` and resolves once
 * it has printed its "listening" line.
 */
export async function startBroker(args = [], { env, timeoutMs = 15000 } = {}) {
  const fullArgs = ['broker', '--listen', '127.0.0.1:0', '--json', ...args];
  const child = spawn(TETHER_BIN, fullArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  liveProcesses.add(child);
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const firstLine = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`broker exited (code ${code}, signal ${signal}) before listening: ${stderr}`)),
    );
  });
  let line;
  try {
    line = await withTimeout(firstLine, timeoutMs, "the broker's listening line");
  } catch (err) {
    child.kill('SIGKILL');
    liveProcesses.delete(child);
    throw err;
  }
  const info = JSON.parse(line);
  assert.equal(info.type, 'listening');
  const broker = new Broker(child, info, fullArgs);
  broker.stderrText = stderr;
  return broker;
}

/**
 * Starts a broker before the tests of the enclosing describe() (or file)
 * and stops it after them; each test also fails if the broker's stderr shows
 * a sanitizer report by then. Returns a holder whose .broker is set by then.
 */
export function useBroker(args = [], opts = {}) {
  const holder = { broker: null };
  before(async () => {
    holder.broker = await startBroker(typeof args === 'function' ? args() : args, opts);
  });
  afterEach(() => {
    holder.broker?.assertNoSanitizerReport();
  });
  after(async () => {
    await closeAllClients();
    await holder.broker?.stop();
  });
  return holder;
}

/* ------------------------------------------------------------------- auth */

/** The header- subprotocol value for an auth object. */
export function headerProtocol(auth) {
  return `header-${Buffer.from(JSON.stringify(auth)).toString('base64url')}`;
}

export function apiKeyAuth(broker, key = broker.apiKey) {
  return { host: broker.host, 'x-api-key': key };
}

/** The headers AppSync's realtime IAM authorization signs over. */
export const IAM_BASE_HEADERS = {
  accept: 'application/json, text/javascript',
  'content-encoding': 'amz-1.0',
  'content-type': 'application/json; charset=UTF-8',
};

/**
 * Signs the synthetic `POST http://HOST/event` a realtime IAM authorization
 * object stands for (body "{}" for connect, JSON.stringify({channel}) for
 * subscribe, JSON.stringify({channel, events}) for publish) and returns the
 * authorization object: the signed headers including Authorization.
 */
export async function iamAuth(broker, credentials, body, options = {}) {
  const {
    region = REGION,
    service = 'appsync',
    date = new Date(),
    host = broker.host,
  } = options;
  const signer = new SignatureV4({
    credentials,
    region,
    service,
    sha256: Sha256,
    applyChecksum: false, // AppSync's realtime auth signs no x-amz-content-sha256
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: host.split(':')[0],
      port: Number(host.split(':')[1]) || undefined,
      path: '/event',
      query: {},
      headers: { ...IAM_BASE_HEADERS, host },
      body,
    },
    { signingDate: date },
  );
  return { ...signed.headers };
}

/** Signs an HTTP publish (the real request body) and returns its headers. */
export async function iamHttpHeaders(broker, credentials, body, options = {}) {
  const { region = REGION, service = 'appsync', date = new Date(), host = broker.host } = options;
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: host.split(':')[0],
      port: Number(host.split(':')[1]) || undefined,
      path: '/event',
      query: {},
      headers: { 'content-type': 'application/json', host },
      body,
    },
    { signingDate: date },
  );
  return { ...signed.headers };
}

/* --------------------------------------------------------------- realtime */

const openClients = new Set();

export async function closeAllClients() {
  await Promise.all([...openClients].map((c) => c.terminate()));
}

/** A realtime connection with a queue of parsed messages to wait on. */
export class RtClient {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.all = []; // every message, in arrival order
    this.binary = [];
    this.closeInfo = null;
    openClients.add(this);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), error: this.error?.code ?? this.error?.message };
        openClients.delete(this);
        for (const w of this.waiters.splice(0)) {
          w.reject(new Error(`connection closed (code ${code}) while waiting for ${w.what}`));
        }
        resolve(this.closeInfo);
      });
    });
    this.error = null;
    ws.on('error', (err) => {
      this.error = err; // surfaced through 'close' (closeInfo.error)
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binary.push(data);
        return;
      }
      const text = data.toString('utf8');
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = { type: '__unparsable__', text };
      }
      this.all.push(msg);
      const i = this.waiters.findIndex((w) => w.match(msg));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w.resolve(msg);
      } else {
        this.queue.push(msg);
      }
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /**
   * Resolves with (and consumes) the first queued or future message matching
   * `match` (a predicate, or an object whose fields must all be equal).
   */
  next(match, { timeoutMs = DEFAULT_WAIT_MS, what } = {}) {
    const pred =
      typeof match === 'function'
        ? match
        : (m) => Object.entries(match).every(([k, v]) => m[k] === v);
    const label = what ?? (typeof match === 'function' ? 'a message' : JSON.stringify(match));
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closeInfo) {
      return Promise.reject(new Error(`connection already closed (code ${this.closeInfo.code}); wanted ${label}`));
    }
    return withTimeout(
      new Promise((resolve, reject) => {
        this.waiters.push({ match: pred, resolve, reject, what: label });
      }),
      timeoutMs,
      `${label} (received so far: ${JSON.stringify(this.all).slice(0, 2000)})`,
    ).catch((err) => {
      this.waiters = this.waiters.filter((w) => w.match !== pred);
      throw err;
    });
  }

  /** Messages of `type` still queued (not consumed by next()). */
  queued(type) {
    return this.queue.filter((m) => m.type === type);
  }

  waitClosed(timeoutMs = DEFAULT_WAIT_MS) {
    return withTimeout(this.closed, timeoutMs, 'the connection to close');
  }

  async close() {
    if (this.closeInfo) return this.closeInfo;
    this.ws.close(1000);
    try {
      return await this.waitClosed(2000);
    } catch {
      return this.terminate();
    }
  }

  async terminate() {
    if (this.closeInfo) return this.closeInfo;
    this.ws.terminate();
    return withTimeout(this.closed, 2000, 'the terminated connection to close').catch(() => null);
  }

  /** subscribe and wait for subscribe_success or subscribe_error. */
  async subscribe(channel, authorization, id = randomUUID()) {
    this.send({ type: 'subscribe', id, channel, authorization });
    return this.next(
      (m) => m.id === id && (m.type === 'subscribe_success' || m.type === 'subscribe_error'),
      { what: `the answer to subscribe ${id}` },
    );
  }

  async unsubscribe(id) {
    this.send({ type: 'unsubscribe', id });
    return this.next(
      (m) => m.id === id && (m.type === 'unsubscribe_success' || m.type === 'unsubscribe_error'),
      { what: `the answer to unsubscribe ${id}` },
    );
  }

  /** publish over the WebSocket and wait for publish_success or publish_error. */
  async publish(channel, events, authorization, id = randomUUID(), opts = {}) {
    this.send({ type: 'publish', id, channel, events, authorization });
    return this.next(
      (m) => m.id === id && (m.type === 'publish_success' || m.type === 'publish_error'),
      { what: `the answer to publish ${id}`, ...opts },
    );
  }

  /** The next data message for subscription `subId`. */
  nextData(subId, opts = {}) {
    return this.next((m) => m.type === 'data' && m.id === subId, {
      what: `data for subscription ${subId}`,
      ...opts,
    });
  }

  /**
   * Collects the events delivered to `subId` up to (not including) the
   * event `sentinel`, which the caller publishes last: since delivery is in
   * order, this shows exactly what arrived before it, without a fixed sleep.
   */
  async eventsUntil(subId, sentinel, opts = {}) {
    const events = [];
    for (;;) {
      const m = await this.nextData(subId, opts);
      if (m.event === sentinel) return events;
      events.push(m.event);
    }
  }
}

/**
 * Opens a realtime connection. Options:
 *   auth: object sent in the header- subprotocol (omit for none)
 *   protocols: the full subprotocol list (overrides the default)
 *   headers: extra HTTP headers on the upgrade request
 *   init: send connection_init and wait for connection_ack (default true)
 *   url, ca: for TLS
 * Rejects with err.statusCode when the server refuses the upgrade.
 */
export async function connect(broker, options = {}) {
  const {
    auth,
    protocols = auth ? [SUBPROTOCOL, headerProtocol(auth)] : [SUBPROTOCOL],
    headers,
    init = true,
    url = broker.realtimeUrl,
    ca,
    timeoutMs = DEFAULT_WAIT_MS,
  } = options;
  const ws = new WebSocket(url, protocols, { headers, ca, handshakeTimeout: timeoutMs });
  const client = new RtClient(ws);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        const err = new Error(`upgrade refused with HTTP ${res.statusCode}: ${body}`);
        err.statusCode = res.statusCode;
        err.headers = res.headers;
        err.body = body;
        ws.terminate();
        reject(err);
      });
    });
    ws.once('error', reject);
  });
  await withTimeout(opened, timeoutMs, 'the WebSocket handshake');
  if (init) {
    client.send({ type: 'connection_init' });
    await client.next({ type: 'connection_ack' }, { timeoutMs, what: 'connection_ack' });
  }
  return client;
}

/* ------------------------------------------------------------------- HTTP */

/** POST /event with a JSON body; resolves to {status, headers, body, text}. */
export async function httpPublish(broker, body, headers = {}, { url = broker.httpUrl } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const h = { 'content-type': 'application/json', ...headers };
  delete h.host; // fetch sends the same Host itself
  const res = await withTimeout(
    fetch(url, { method: 'POST', headers: h, body: text, signal: AbortSignal.timeout(DEFAULT_WAIT_MS) }),
    DEFAULT_WAIT_MS,
    'the HTTP publish response',
  );
  const responseText = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(responseText);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text: responseText };
}

/**
 * Sends raw bytes over TCP and resolves with everything the server sends
 * until it closes the connection (or `timeoutMs` passes).
 */
export function rawHttp(broker, payload, { timeoutMs = DEFAULT_WAIT_MS, endAfterWrite = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(broker.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw HTTP: no close within ${timeoutMs} ms; got ${Buffer.concat(chunks)}`));
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(payload);
      if (endAfterWrite) socket.end();
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {}); // a reset after the response is fine
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const bodyStart = text.indexOf('\r\n\r\n');
      const bodyText = bodyStart >= 0 ? text.slice(bodyStart + 4) : '';
      let body;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = undefined;
      }
      resolve({ status: m ? Number(m[1]) : null, text, body });
    });
  });
}

/* ---------------------------------------------------------------- asserts */

/** Asserts a {type, [id], errors:[{errorType, message}]} message exactly. */
export function assertErrorMessage(msg, type, id, errorType) {
  const expected = { type, errors: [{ errorType, message: msg?.errors?.[0]?.message }] };
  if (id !== undefined) expected.id = id;
  assert.deepEqual(msg, expected);
  assert.equal(typeof msg.errors[0].message, 'string');
  assert.ok(msg.errors[0].message.length > 0, 'error message is empty');
}

/** Asserts a publish_success / HTTP 200 body: all events successful, in order. */
export function assertAllSuccessful(result, count) {
  assert.deepEqual(Object.keys(result).filter((k) => k !== 'type' && k !== 'id').sort(), [
    'failed',
    'successful',
  ]);
  assert.deepEqual(result.failed, []);
  assert.equal(result.successful.length, count);
  result.successful.forEach((s, i) => {
    assert.deepEqual(Object.keys(s).sort(), ['identifier', 'index']);
    assert.match(s.identifier, UUID_RE);
    assert.equal(s.index, i);
  });
  const ids = new Set(result.successful.map((s) => s.identifier));
  assert.equal(ids.size, count, 'identifiers are not unique');
}

export { randomUUID };
