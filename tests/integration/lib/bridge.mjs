// The dev side of the live-function bridge, for tests and benchmarks: a
// small, independent implementation of docs/bridge-protocol.md in Node (the
// `ws` package plus Node's own crypto), used instead of `tether dev`.
//
// It subscribes to /{ns}/{app}/{stage}/in over the broker's realtime
// WebSocket, reassembles the bridges' packets, records every Init, and
// answers each Next with a Ping and an echo Response (the event, byte for
// byte), cut into 128 KiB packets, at most 5 packets per publish. How it
// answers can be chosen per invocation (see modeOf below), so one dev side
// can also stay silent, answer slowly, fail, stream, or be killed after its
// Ping.
//
// Two ways to use it:
// - in-process: `new DevSide(options).start()` (the benchmark does this);
// - as its own process: `startDevProcess(options)` runs this file as a
//   child (`node bridge.mjs dev JSON`) that reports what it does as JSON
//   lines on stdout, so a test can SIGKILL it at an exact moment.
//
// With a bridge key (options.key, the text form "tk1...."), every packet it
// sends is sealed for the channel it goes to and every packet it receives
// must open for its own channel (lib/seal.mjs, docs/bridge-protocol.md
// "Sealed packets"); what does not open is counted (stats.rejected) and
// reported as {type: "rejected"}. Without a key it speaks the insecure,
// SST-compatible form, for the bridge's TETHER_INSECURE_NO_AUTH=1.
//
// Ids (docs/bridge-protocol.md, "Ids"): every Ping, Reboot and InitError
// goes out under a fresh id; only Response and Error carry the request id,
// which it reads from the Next's Lambda-Runtime-Aws-Request-Id header. Its
// Pings declare heartbeats ({"heartbeatMs":1000}) as tether dev's do, and it
// pings every second while an answer takes time. With sstDiscipline: true
// it behaves as SST's dev side does instead: one Ping per Next, with an
// empty body, and never again.
//
// This module does not import node:test, so scripts outside the test runner
// (bench/live) can use it. Everything that waits has a timeout.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { keyFormat, keyGenerate, keyParse, open as openSealed, ReplayMemory, seal } from './seal.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const integrationDir = path.resolve(here, '..');

/** The bridge under test: $TETHER_BRIDGE_BIN, default build/tether-bridge. */
export const BRIDGE_BIN = path.resolve(
  integrationDir,
  process.env.TETHER_BRIDGE_BIN || path.join('..', '..', 'build', 'tether-bridge'),
);
/** What runs the bridge, as the first words of its bootstrap: nothing, or
 * $TETHER_BRIDGE_RUNNER (qemu-aarch64-static for the arm64 bridge). */
export const BRIDGE_RUNNER = process.env.TETHER_BRIDGE_RUNNER ? [process.env.TETHER_BRIDGE_RUNNER] : [];

export const PACKET_TYPES = {
  Init: 0,
  Ping: 1,
  Next: 2,
  Response: 3,
  Error: 4,
  Reboot: 5,
  InitError: 6,
  TaskStart: 7,
  TaskComplete: 8,
};
export const CHUNK_BYTES = 128 * 1024;
export const PUBLISH_BATCH = 5;
export const STREAM_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** What tether dev's Pings carry: "I ping at least every second while I work". */
export const HEARTBEAT_PING = Buffer.from('{"heartbeatMs":1000}');

/**
 * How the dev side answers one invocation. The mode comes from the event:
 * the `x-dev-mode` header of a function URL request, or the `devMode` field
 * of an Invoke payload (only events under 256 KiB are looked at; big ones
 * are always echoed). Values:
 *   echo             Ping, then the event back as the Response (default)
 *   silent           nothing at all: not even a Ping
 *   deaf             the first Next is lost (nothing at all); a Next sent
 *                    again is answered like echo
 *   ping-only        one Ping, then nothing (a dev that hangs)
 *   slow:MS          Ping at once and every second, Response after MS
 *   error            Ping, then an Error {errorType: "EchoError", ...}
 *   reboot           Ping, Reboot, and the echo once the bridge has sent
 *                    its Init again
 *   init-error       Ping, then an InitError {errorType: "EchoInitError"}
 *   stream:MS        Ping, then a streamed http-integration-response:
 *                    prelude, then 3 body chunks MS apart
 */
export function modeOf(body) {
  if (body.length === 0 || body.length > 256 * 1024 || body[0] !== 0x7b) return 'echo';
  try {
    const event = JSON.parse(body.toString('utf8'));
    return event?.headers?.['x-dev-mode'] ?? event?.devMode ?? 'echo';
  } catch {
    return 'echo';
  }
}

/** Splits a relayed Next (an HTTP response as text) into headers and body. */
export function parseNext(raw) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('the Next has no end of headers');
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = raw.subarray(end + 4);
  const declared = Number(headers['content-length']);
  if (!Number.isNaN(declared) && declared !== body.length) {
    throw new Error(`the Next declares ${declared} body bytes but carries ${body.length}`);
  }
  return { status, headers, body, requestId: headers['lambda-runtime-aws-request-id'] };
}

/** A relayed GET /next answer as the bridge sends it (the body of a Next):
 * the Runtime API's HTTP answer as text, for the function named fn. */
export function nextText(requestId, event = {}, fn = 'Echo') {
  const body = Buffer.from(JSON.stringify(event));
  const head =
    'HTTP/1.1 200 OK\r\n' +
    `Lambda-Runtime-Aws-Request-Id: ${requestId}\r\n` +
    `Lambda-Runtime-Deadline-Ms: ${Date.now() + 20000}\r\n` +
    `Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:${fn}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/** Cuts a body into packets: 128 KiB each, the last marked final (an empty
 * body is one empty final packet). Returns the packets as JSON strings. */
export function packetize(type, source, id, body, { contentType } = {}) {
  const packets = [];
  let index = 0;
  for (let off = 0; off < body.length || index === 0; off += CHUNK_BYTES) {
    const chunk = body.subarray(off, off + CHUNK_BYTES);
    const p = {
      type,
      source,
      id,
      index,
      data: chunk.toString('base64'),
      final: off + CHUNK_BYTES >= body.length,
    };
    if (index === 0 && contentType) p.contentType = contentType;
    packets.push(JSON.stringify(p));
    index++;
  }
  return packets;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The id an answer goes out under: Response and Error carry the request
 * id, everything else (InitError here) a fresh one. */
function answerId(type, requestId) {
  return type === PACKET_TYPES.Response || type === PACKET_TYPES.Error ? requestId : randomUUID();
}

/* ------------------------------------------------------------ the dev side */

export class DevSide {
  /**
   * options: realtimeUrl (ws://127.0.0.1:PORT/event/realtime), host
   * (127.0.0.1:PORT), apiKey, app, stage, namespace ('tether'), onEvent
   * (called with {type, ...} for everything worth reporting), details
   * (false: report only connection events, not every invocation) and modes
   * (false: always echo, never look into events); both for benchmarks.
   * reconnectDelayMs (default 20): how long it waits to reconnect after a
   * lost connection, so a test can make dev resubscribe after the bridge.
   * key: the bridge key's text form; without it packets are not sealed.
   * sstDiscipline: ping once per Next with an empty body and never again,
   * as SST's dev side does (see the top of this file).
   */
  constructor(options) {
    this.options = { namespace: 'tether', ...options };
    const { namespace, app, stage } = this.options;
    this.devChannel = `/${namespace}/${app}/${stage}/in`;
    this.key = this.options.key ? keyParse(this.options.key) : null;
    this.replay = new ReplayMemory();
    this.inits = new Map(); // worker id -> the Init's JSON
    this.assembling = new Map(); // "type/source/id" -> {parts: Map, finalIndex}
    this.answers = new Map(); // request id -> {type, body, worker, contentType}
    this.running = new Map(); // request id -> {worker, timer}
    this.seenRequests = new Set(); // request ids of the Nexts seen (a later one is a repeat)
    this.sst = Boolean(this.options.sstDiscipline);
    this.initWaiters = new Map(); // worker id -> called at its next Init
    this.pending = []; // publishes waiting for a connection
    this.inFlight = new Map(); // publish id -> events (resent after a reconnect)
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.connects = 0;
    this.stats = { nexts: 0, answered: 0, published: 0, publishErrors: 0, rejected: 0 };
  }

  emit(event) {
    this.options.onEvent?.(event);
  }

  auth() {
    return { host: this.options.host, 'x-api-key': this.options.apiKey };
  }

  /** Connects, subscribes, and resolves once the subscription is confirmed. */
  start(timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev side: not subscribed within ${timeoutMs} ms`)), timeoutMs);
      this.onReady = () => {
        clearTimeout(timer);
        resolve(this);
      };
      this.connect();
    });
  }

  connect() {
    if (this.stopped) return;
    const header = Buffer.from(JSON.stringify(this.auth())).toString('base64url');
    const ws = new WebSocket(this.options.realtimeUrl, ['aws-appsync-event-ws', `header-${header}`], {
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init' }));
    });
    ws.on('message', (data) => this.onMessage(ws, data));
    ws.on('error', () => {}); // 'close' follows
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasReady = this.ready;
      this.ready = false;
      if (this.stopped) return;
      if (wasReady) this.emit({ type: 'disconnected' });
      // In-flight publishes may be lost: send them again (the bridge drops
      // duplicates).
      for (const events of this.inFlight.values()) this.pending.push(events);
      this.inFlight.clear();
      setTimeout(() => this.connect(), wasReady ? (this.options.reconnectDelayMs ?? 20) : 100);
    });
  }

  onMessage(ws, data) {
    const msg = JSON.parse(data.toString('utf8'));
    switch (msg.type) {
      case 'connection_ack':
        ws.send(
          JSON.stringify({
            type: 'subscribe',
            id: randomUUID(),
            channel: this.devChannel,
            authorization: this.auth(),
          }),
        );
        break;
      case 'subscribe_success':
        this.ready = true;
        this.connects++;
        this.emit({ type: this.connects === 1 ? 'ready' : 'reconnected' });
        for (const events of this.pending.splice(0)) this.publish(events);
        if (this.onReady) {
          const cb = this.onReady;
          this.onReady = null;
          cb();
        }
        break;
      case 'subscribe_error':
        this.emit({ type: 'error', message: `subscribe failed: ${JSON.stringify(msg.errors)}` });
        break;
      case 'data':
        this.onPacket(msg.event);
        break;
      case 'publish_success':
        this.inFlight.delete(msg.id);
        break;
      case 'publish_error':
        this.inFlight.delete(msg.id);
        this.stats.publishErrors++;
        this.emit({ type: 'error', message: `publish failed: ${JSON.stringify(msg.errors)}` });
        break;
      default:
        break;
    }
  }

  /** Publishes packets (JSON strings), up to 5 per publish, to a bridge's
   * channel; with a key each is sealed for that channel first (once: a
   * publish sent again after a reconnect repeats the same sealed bytes,
   * which the bridge drops as a replay if the first one arrived). */
  publishTo(worker, packets) {
    const channel = `/${this.options.namespace}/${this.options.app}/${this.options.stage}/${worker}/in`;
    const events = this.key ? packets.map((p) => this.sealFor(channel, p)) : packets;
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) {
      this.publish({ channel, events: events.slice(i, i + PUBLISH_BATCH) });
    }
  }

  sealFor(channel, packetJson) {
    const p = JSON.parse(packetJson);
    const fields = { ...p, data: Buffer.from(p.data ?? '', 'base64') };
    return seal(fields, { key: this.key, channel });
  }

  publish(batch) {
    if (!this.ready || !this.ws) {
      this.pending.push(batch);
      return;
    }
    const id = randomUUID();
    this.inFlight.set(id, batch);
    this.stats.published++;
    this.ws.send(
      JSON.stringify({ type: 'publish', id, channel: batch.channel, events: batch.events, authorization: this.auth() }),
    );
  }

  /* ---- receiving ---- */

  /** The packet's fields and data (a Buffer), or null when it must be
   * dropped: with a key, anything that does not open for our channel. */
  openPacket(text) {
    if (!this.key) {
      try {
        const p = JSON.parse(text);
        return { ...p, data: Buffer.from(p.data ?? '', 'base64') };
      } catch {
        return null;
      }
    }
    try {
      return openSealed(text, { key: this.key, channel: this.devChannel, replay: this.replay });
    } catch (err) {
      this.stats.rejected++;
      this.emit({ type: 'rejected', reason: err.reason ?? 'malformed', message: err.message });
      return null;
    }
  }

  onPacket(text) {
    const p = this.openPacket(text);
    if (!p) return;
    if (p.source === 'dev') return;
    const key = `${p.type}/${p.source}/${p.id}`;
    let m = this.assembling.get(key);
    if (!m) {
      m = { parts: new Map(), finalIndex: -1 };
      this.assembling.set(key, m);
    }
    const index = p.index ?? 0;
    if (!m.parts.has(index)) m.parts.set(index, p.data);
    if (p.final !== false) m.finalIndex = index;
    if (m.finalIndex < 0 || m.parts.size !== m.finalIndex + 1) return;
    this.assembling.delete(key);
    const body = Buffer.concat([...Array(m.finalIndex + 1).keys()].map((i) => m.parts.get(i)));
    if (p.type === PACKET_TYPES.Init) this.onInit(p.source, p.id, body);
    else if (p.type === PACKET_TYPES.Next) this.onNext(p.source, p.id, body);
  }

  onInit(worker, id, body) {
    const init = JSON.parse(body.toString('utf8'));
    this.inits.set(worker, init);
    this.emit({ type: 'init', worker, id, init });
    this.initWaiters.get(worker)?.();
  }

  onNext(worker, id, raw) {
    let next;
    try {
      next = parseNext(raw);
    } catch (err) {
      this.emit({ type: 'error', message: `bad Next from ${worker}: ${err.message}` });
      return;
    }
    const requestId = next.requestId;
    // Every Next has a fresh message id; a repeat is told by its request id.
    const repeat = this.seenRequests.has(requestId);
    this.seenRequests.add(requestId);
    if (this.seenRequests.size > 10000) this.seenRequests.delete(this.seenRequests.values().next().value);
    const mode = this.options.modes === false ? 'echo' : modeOf(next.body);
    this.stats.nexts++;
    if (this.options.details !== false) {
      this.emit({
        type: 'next',
        worker,
        id,
        requestId,
        repeat,
        mode,
        bytes: next.body.length,
        sha256: createHash('sha256').update(next.body).digest('hex'),
        // small events are reported whole (tests compare them byte for byte)
        event: next.body.length <= 64 * 1024 ? next.body.toString('base64') : undefined,
      });
    }
    if (mode === 'silent' || (mode === 'deaf' && !repeat)) return;
    const done = this.answers.get(requestId);
    if ((mode === 'echo' || mode === 'deaf') && !done && !this.running.has(requestId)) {
      // The usual case, in as few publishes as possible: the Ping and the
      // Response's first packets go out together.
      const ping = this.pingPackets();
      this.answer(worker, requestId, PACKET_TYPES.Response, next.body, {}, ping);
      return;
    }
    this.ping(worker, requestId);
    // A Next sent again after the bridge reconnected: answer it again.
    if (done) {
      this.emit({ type: 'resent', worker, requestId });
      this.publishTo(worker, packetize(done.type, 'dev', answerId(done.type, requestId), done.body, done));
      return;
    }
    if (this.running.has(requestId)) return; // the heartbeat goes on
    this.run(worker, requestId, mode, next.body);
  }

  /** A Ping under a fresh id: tether dev's declares heartbeats, SST's is empty. */
  pingPackets() {
    return packetize(PACKET_TYPES.Ping, 'dev', randomUUID(), this.sst ? Buffer.alloc(0) : HEARTBEAT_PING);
  }

  ping(worker, requestId) {
    this.publishTo(worker, this.pingPackets());
    this.emit({ type: 'pinged', worker, requestId });
  }

  /** Sends an answer (after `before`, packets to send first) and keeps it
   * for a repeated Next. */
  answer(worker, requestId, type, body, extra = {}, before = []) {
    const running = this.running.get(requestId);
    if (running) clearInterval(running.timer);
    this.running.delete(requestId);
    const answer = { type, body, worker, ...extra };
    this.answers.set(requestId, answer);
    if (this.answers.size > 1000) this.answers.delete(this.answers.keys().next().value);
    this.publishTo(worker, [...before, ...packetize(type, 'dev', answerId(type, requestId), body, extra)]);
    this.stats.answered++;
    if (before.length && this.options.details !== false) this.emit({ type: 'pinged', worker, requestId });
    if (this.options.details !== false) {
      this.emit({ type: 'answered', worker, requestId, answerType: type, bytes: body.length });
    }
  }

  async run(worker, requestId, mode, body) {
    const [name, arg] = mode.split(':');
    if (name === 'echo') {
      this.answer(worker, requestId, PACKET_TYPES.Response, body);
      return;
    }
    // Everything slower keeps the invocation alive with a Ping a second
    // (not SST's dev side: it pinged once, with the Next).
    const timer = this.sst ? null : setInterval(() => this.ping(worker, requestId), 1000);
    this.running.set(requestId, { worker, timer });
    if (name === 'ping-only') return;
    if (name === 'slow') {
      await sleep(Number(arg) || 1000);
      if (!this.stopped) this.answer(worker, requestId, PACKET_TYPES.Response, body);
    } else if (name === 'error') {
      const err = { errorType: 'EchoError', errorMessage: 'the echo dev side was asked to fail', stackTrace: [] };
      this.answer(worker, requestId, PACKET_TYPES.Error, Buffer.from(JSON.stringify(err)));
    } else if (name === 'init-error') {
      const err = { errorType: 'EchoInitError', errorMessage: 'the echo dev side cannot start the function', stackTrace: [] };
      this.answer(worker, requestId, PACKET_TYPES.InitError, Buffer.from(JSON.stringify(err)));
    } else if (name === 'reboot') {
      // Ask the bridge to introduce itself again, then answer.
      const introduced = new Promise((resolve) => this.initWaiters.set(worker, resolve));
      this.publishTo(worker, packetize(PACKET_TYPES.Reboot, 'dev', randomUUID(), Buffer.alloc(0)));
      this.emit({ type: 'rebooted', worker, requestId });
      await Promise.race([introduced, sleep(2000)]);
      this.initWaiters.delete(worker);
      if (!this.stopped) this.answer(worker, requestId, PACKET_TYPES.Response, body);
    } else if (name === 'stream') {
      await this.stream(worker, requestId, Number(arg) || 200);
    }
  }

  /** A streamed answer: the prelude (status, headers) and 8 NUL bytes in
   * packet 0 (with the content type), then 3 body chunks `gap` ms apart. */
  async stream(worker, requestId, gap) {
    const prelude = JSON.stringify({
      statusCode: 201,
      headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' },
      cookies: ['a=1'],
    });
    const pieces = [Buffer.concat([Buffer.from(prelude), Buffer.alloc(8)]), 'chunk one\n', 'chunk two\n', 'chunk three\n'];
    for (let i = 0; i < pieces.length; i++) {
      if (i > 1) await sleep(gap);
      if (this.stopped) return;
      const p = {
        type: PACKET_TYPES.Response,
        source: 'dev',
        id: requestId,
        index: i,
        data: Buffer.from(pieces[i]).toString('base64'),
        final: i === pieces.length - 1,
      };
      if (i === 0) p.contentType = STREAM_CONTENT_TYPE;
      this.publishTo(worker, [JSON.stringify(p)]);
      this.emit({ type: 'streamed', worker, requestId, index: i });
    }
    clearInterval(this.running.get(requestId)?.timer);
    this.running.delete(requestId);
    this.stats.answered++;
  }

  stop() {
    this.stopped = true;
    for (const r of this.running.values()) clearInterval(r.timer);
    this.running.clear();
    this.ws?.terminate();
    this.ws = null;
  }
}

/* ------------------------------------------------- the dev side as a process */

/**
 * Runs the dev side in a child process. Resolves once it is subscribed to a
 * handle with: events (everything it reported, in order), waitFor(predicate,
 * ms, what), kill(signal), stop(). options as for DevSide (minus onEvent).
 */
const liveDevProcesses = new Set();
process.on('exit', () => {
  for (const child of liveDevProcesses) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
});

export async function startDevProcess(options, { timeoutMs = 10000 } = {}) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'dev', JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveDevProcesses.add(child);
  child.once('exit', () => liveDevProcesses.delete(child));
  const handle = new DevProcess(child);
  try {
    await handle.waitFor((e) => e.type === 'ready', timeoutMs, 'the dev side to subscribe');
  } catch (err) {
    await handle.kill();
    throw err;
  }
  return handle;
}

export class DevProcess {
  constructor(child) {
    this.child = child;
    this.events = [];
    this.waiters = [];
    this.stderr = '';
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let partial = '';
    child.stdout.on('data', (chunk) => {
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        this.events.push(event);
        for (const w of this.waiters.slice()) {
          if (w.predicate(event)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      }
    });
    child.stderr.on('data', (chunk) => {
      this.stderr += chunk;
    });
    child.once('exit', () => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`the dev side exited while waiting for ${w.what}: ${this.stderr}`));
    });
  }

  get pid() {
    return this.child.pid;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first reported event (past or future) matching predicate. */
  waitFor(predicate, ms, what) {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    if (!this.alive) return Promise.reject(new Error(`the dev side is not running (waiting for ${what})`));
    return new Promise((resolve, reject) => {
      const w = { predicate, what };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; dev side saw: ${JSON.stringify(this.events).slice(-3000)}`));
      }, ms);
      w.resolve = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
      w.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.waiters.push(w);
    });
  }

  ofType(type) {
    return this.events.filter((e) => e.type === type);
  }

  kill(signal = 'SIGKILL') {
    if (this.alive) this.child.kill(signal);
    return Promise.race([this.exited, sleep(5000)]);
  }

  stop() {
    return this.kill('SIGKILL');
  }
}

/* --------------------------------------------------------- bridge functions */

/** A new bridge key in its text form, for a test's bridges and dev side. */
export function newBridgeKey() {
  return keyFormat(keyGenerate());
}

/**
 * A `tether lambda` function whose bootstrap is the bridge, set up to reach
 * `broker` for app/stage. key: the bridge key (text form) it shares with the
 * dev side; or insecure: true for the explicit insecure mode (one of the
 * two must be given). runner: what runs the bridge (default BRIDGE_RUNNER).
 * extra: more function keys (environment is merged).
 */
export function bridgeFunction(name, { broker, app, stage, key, insecure, bridge = BRIDGE_BIN, runner = BRIDGE_RUNNER, environment = {}, ...extra }) {
  if (!key && !insecure) throw new Error(`bridgeFunction ${name}: give a key, or insecure: true`);
  const env = {
    TETHER_EVENTS_HTTP: broker.httpUrl,
    TETHER_EVENTS_API_KEY: broker.apiKey,
    TETHER_APP: app,
    TETHER_STAGE: stage,
    TETHER_BRIDGE_KEY: key,
    TETHER_INSECURE_NO_AUTH: insecure ? '1' : undefined,
    ...environment,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return { name, runtime: 'provided.al2023', bootstrap: [...runner, bridge], environment: env, timeout: 30, ...extra };
}

/* ----------------------------------------------------------------- as main */

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'dev') {
  const options = JSON.parse(process.argv[3]);
  const out = (event) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
  const dev = new DevSide({ ...options, onEvent: out });
  process.on('SIGTERM', () => {
    dev.stop();
    process.exit(0);
  });
  dev.start(options.timeoutMs ?? 10000).catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
