// Test helpers for `tether dev` and `tether invoke`: copy a project into a
// fresh temporary folder, start `tether dev --json --port 0` in it, wait for
// {"type":"ready"}, collect the URLs and endpoints it prints, invoke through
// `tether invoke`, stop dev again and check how it ended.
//
// Cleanup: temp folders are removed when the test process exits;
// every dev started here is stopped by its test or, as a last resort, killed
// at process exit together with every sandbox process group its embedded
// Lambda services started (their pids come from its log). Everything that
// waits has a timeout.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Self-contained on purpose: no npm packages (the AWS SDK that lib/lambda.mjs
// loads, ws for lib/broker.mjs) are needed, only aws-lambda-ric for the
// tests that run it as a worker.

const integrationDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The tether binary under test: $TETHER_BIN, default ../../build/tether. */
export const TETHER_BIN = path.resolve(integrationDir, process.env.TETHER_BIN || path.join('..', '..', 'build', 'tether'));
export const REPO_DIR = path.resolve(integrationDir, '..', '..');
export const EXAMPLES_DIR = path.join(REPO_DIR, 'examples');
/** The bridge built with the tether under test (build/tether-bridge or build/san/tether-bridge). */
export const BRIDGE_BIN = path.join(path.dirname(TETHER_BIN), 'tether-bridge');
export const RIC_PACKAGE = path.join(integrationDir, 'node_modules', 'aws-lambda-ric');

const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];

/** Sanitizer report lines in a process's output, if any. */
export function sanitizerFindings(text) {
  return text.split('\n').filter((line) => SANITIZER_PATTERNS.some((p) => line.includes(p)));
}

/* ------------------------------------------------------------ waiting */

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it returns something truthy. */
export async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** True while a process exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/* ------------------------------------------------------------ cleanup */

const tempDirs = new Set();
const liveDevs = new Set();
const liveServices = new Set(); // `tether broker` / `tether lambda` started here

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

process.on('exit', () => {
  for (const service of liveServices) {
    try {
      service.child.kill('SIGKILL');
    } catch {
      // gone already
    }
    for (const pid of service.sandboxPids()) killGroup(pid);
  }
  for (const dev of liveDevs) {
    try {
      dev.child.kill('SIGKILL');
    } catch {
      // gone already
    }
    dev.killSandboxes();
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

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

/* ------------------------------------------------------------ projects */

/** A fresh temporary folder, removed when the test process exits (an
 * after() hook would be wrong here: called from a before() hook, it would
 * remove the folder as soon as that hook ends). */
export function tempDir(prefix = 'tether-dev-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Writes files ({relative path: content}) into dir. */
export function writeFiles(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
  }
}

/**
 * A temporary copy of a project: `from` is an example's name (examples/NAME)
 * or a folder; `files` are written over it ({path: text or object}; objects
 * become JSON, so `{'tether.json': {...}}` works); `ric: true` links
 * aws-lambda-ric into its node_modules. Resolves to the folder.
 */
export function makeProject({ from, files = {}, ric = false, prefix = 'tether-dev-' } = {}) {
  const dir = tempDir(prefix);
  if (from) {
    const source = path.isAbsolute(from) ? from : path.join(EXAMPLES_DIR, from);
    fs.cpSync(source, dir, {
      recursive: true,
      filter: (p) => !/(^|\/)(\.tether|bootstrap)$/.test(p.slice(source.length)),
    });
  }
  writeFiles(dir, files);
  if (ric) {
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    fs.symlinkSync(RIC_PACKAGE, path.join(dir, 'node_modules', 'aws-lambda-ric'), 'dir');
  }
  return dir;
}

/**
 * The node-api example as a project whose functions run in "the cloud", as
 * docs/deploy.md sets one up: tether.json's "events" points at `broker` (a
 * startBroker() started with apiKey) for app and stage. Returns {dir,
 * bridgeKey}: the stage's bridge key, made in the project by `tether bridge
 * key --print`, for the deployed function's TETHER_BRIDGE_KEY.
 */
export function remoteProject(broker, { apiKey, app, stage }) {
  const dir = makeProject({
    from: 'node-api',
    files: {
      'tether.json': {
        app,
        stage,
        events: { http: broker.info.http, apiKey },
        functions: { Api: { handler: 'src/api.handler', runtime: 'nodejs20.x', url: true } },
      },
    },
  });
  const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
  if (made.status !== 0) throw new Error(`tether bridge key --print exited ${made.status}: ${made.stderr}`);
  return { dir, bridgeKey: made.stdout.trim() };
}

/* ------------------------------------------------------------ tether dev */

export class Dev {
  constructor(child, dir, args) {
    this.child = child;
    this.dir = dir;
    this.args = args;
    this.stdoutText = '';
    this.stderrText = '';
    this.records = []; // the --json lines, parsed
    this.urls = {}; // function id -> function URL
    this.lambda = null; // the embedded Lambda service's endpoint
    this.events = null; // the embedded broker's endpoint
    this.exited = null;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
    let partial = '';
    child.stdout.on('data', (chunk) => {
      this.stdoutText += chunk;
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          record = { type: 'unparsed', line };
        }
        this.records.push(record);
        if (record.type === 'url') this.urls[record.function] = record.url;
        if (record.type === 'lambda') this.lambda = record.endpoint;
        if (record.type === 'events') this.events = record.endpoint;
      }
    });
    child.stderr.on('data', (chunk) => {
      this.stderrText += chunk;
    });
  }

  get alive() {
    return this.exited === null;
  }

  get pid() {
    return this.child.pid;
  }

  /** The port of the embedded Lambda service. */
  get port() {
    return this.lambda ? Number(new URL(this.lambda).port) : null;
  }

  /** Records of a type (from index `from` on). */
  recordsOf(type, from = 0) {
    return this.records.slice(from).filter((r) => r.type === type);
  }

  /** Waits for a record matching pred (from index `from` on); resolves to it. */
  waitForRecord(pred, ms = 10000, what = 'a matching dev record', from = 0) {
    return waitFor(() => this.records.slice(from).find(pred), ms, what);
  }

  /** Waits until stderr (from offset `from`) matches re. */
  waitForStderr(re, ms = 10000, from = 0) {
    return waitFor(() => re.test(this.stderrText.slice(from)), ms, `dev stderr matching ${re}`);
  }

  /** Pids of every sandbox the embedded services started (local workers and bridges). */
  sandboxPids() {
    return [...this.stderrText.matchAll(/sandbox [0-9a-f]{32} started \(pid (\d+)/g)].map((m) => Number(m[1]));
  }

  killSandboxes() {
    for (const pid of this.sandboxPids()) killGroup(pid);
  }

  assertNoSanitizerReport() {
    const findings = sanitizerFindings(this.stderrText);
    if (findings.length > 0) {
      throw new Error(`sanitizer report on tether dev's stderr:\n${findings.join('\n')}\n--- stderr ---\n${this.stderrText}`);
    }
  }

  /** Resolves to {code, signal} when dev exits (null after ms). */
  waitExit(ms = 15000) {
    return withTimeout(this.exitPromise, ms, 'tether dev to exit');
  }

  /**
   * Sends `signal` (SIGTERM by default), waits for the exit (SIGKILL after
   * 15 s), kills leftover sandbox groups, checks for sanitizer reports.
   * Resolves to {code, signal, ms} (ms: signal to exit).
   */
  async stop(signal = 'SIGTERM') {
    const started = Date.now();
    if (this.alive) this.child.kill(signal);
    let r = await waitExit(this.child, 15000);
    if (!r) {
      this.child.kill('SIGKILL');
      r = (await waitExit(this.child, 5000)) ?? { code: null, signal: 'SIGKILL' };
    }
    const ms = Date.now() - started;
    // An orderly dev stops its sandboxes itself; give them a moment, then
    // make sure nothing is left.
    await waitFor(() => this.sandboxPids().every((pid) => !alive(pid)), 3000, 'sandboxes to exit').catch(() => {});
    this.killSandboxes();
    liveDevs.delete(this);
    this.assertNoSanitizerReport();
    return { ...r, ms };
  }

  /** A readable dump for assertion messages. */
  dump() {
    return `--- dev stdout ---\n${this.stdoutText}\n--- dev stderr ---\n${this.stderrText}`;
  }
}

/** Starts `tether dev --json --port 0 ARGS` in dir without waiting for anything. */
export function spawnDev(dir, { args = [], env = {}, port = 0 } = {}) {
  const fullArgs = ['dev', '--json', '--port', String(port), ...args];
  const child = spawn(TETHER_BIN, fullArgs, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const dev = new Dev(child, dir, fullArgs);
  liveDevs.add(dev);
  return dev;
}

/**
 * Starts `tether dev --json --port PORT ARGS` in dir and resolves once it
 * printed {"type":"ready"}; rejects (with its output) if it exits first or
 * takes longer than timeoutMs.
 */
export async function startDev(dir, options = {}) {
  const dev = spawnDev(dir, options);
  const ready = waitFor(() => dev.records.some((r) => r.type === 'ready') || !dev.alive, options.timeoutMs ?? 20000, 'tether dev to be ready');
  try {
    await ready;
  } catch (err) {
    dev.child.kill('SIGKILL');
    await dev.waitExit(5000).catch(() => {});
    dev.killSandboxes();
    liveDevs.delete(dev);
    throw new Error(`${err.message}\n${dev.dump()}`);
  }
  if (!dev.alive) {
    dev.killSandboxes();
    liveDevs.delete(dev);
    throw new Error(`tether dev exited (${JSON.stringify(dev.exited)}) before it was ready\n${dev.dump()}`);
  }
  return dev;
}

/* ------------------------------------------------------------ tether invoke */

/**
 * Runs `tether invoke FUNCTION ARGS` in cwd; `input` (string or Buffer) is
 * its stdin. Resolves to {code, signal, stdout (Buffer), stderr, ms}; fails
 * on sanitizer reports.
 */
export function tetherInvoke(fn, { cwd, args = [], input, ms = 60000 } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const started = Date.now();
      const argv = fn === undefined ? ['invoke', ...args] : ['invoke', fn, ...args];
      const child = spawn(TETHER_BIN, argv, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      const out = [];
      let stderr = '';
      child.stdout.on('data', (c) => out.push(c));
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      child.once('error', reject);
      child.once('close', (code, signal) => {
        const findings = sanitizerFindings(stderr);
        if (findings.length) {
          reject(new Error(`sanitizer report from tether invoke:\n${stderr}`));
          return;
        }
        resolve({ code, signal, stdout: Buffer.concat(out), stderr, ms: Date.now() - started });
      });
      child.stdin.on('error', () => {}); // it may exit before reading everything
      child.stdin.end(input ?? undefined);
    }),
    ms,
    `tether invoke ${fn}`,
  );
}

/** tetherInvoke, then the first line of stderr parsed as the error JSON (when exit 1). */
export async function invokeJson(fn, options) {
  const r = await tetherInvoke(fn, options);
  let json;
  try {
    json = JSON.parse(r.code === 0 ? r.stdout.toString() : r.stderr.split('\n')[0]);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/* ------------------------------------------------------------ HTTP */

/** fetch with a timeout; resolves to {status, headers, text, json, ms}. */
export async function httpRequest(url, { method = 'GET', body, headers = {}, ms = 30000 } = {}) {
  const started = Date.now();
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
}

/** The Lambda Invoke API of an endpoint; resolves like httpRequest. */
export function invokeApi(endpoint, fn, payload, { ms = 30000, headers = {} } = {}) {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload ?? {});
  return httpRequest(`${endpoint}/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`, {
    method: 'POST',
    body,
    headers,
    ms,
  });
}

/** Splits `curl -i` output into {status, headers: [[name, value]], body}. */
export function parseCurlResponse(buffer) {
  const text = buffer.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end).split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = head.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { status, headers, body: buffer.subarray(end + 4) };
}

/**
 * Runs curl -sS ARGS; resolves to {code, stdout (Buffer), stderr, chunks, ms}
 * where chunks are [ms since start, Buffer] as stdout arrived.
 */
export function curl(args, ms = 30000) {
  let child;
  return withTimeout(
    new Promise((resolve, reject) => {
      const started = Date.now();
      child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks = [];
      let stderr = '';
      child.stdout.on('data', (c) => chunks.push([Date.now() - started, c]));
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      child.once('error', reject);
      child.once('close', (code) =>
        resolve({ code, stdout: Buffer.concat(chunks.map((c) => c[1])), stderr, chunks, ms: Date.now() - started }),
      );
    }),
    ms,
    `curl ${args.join(' ')}`,
  ).finally(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });
}

/* ------------------------------------------------------------ the cloud: tether broker, tether lambda */

/** A `tether broker` or `tether lambda` process started by startService. */
export class Service {
  constructor(child, info) {
    this.child = child;
    this.info = info;
    this.stdout = '';
    this.stderr = '';
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Pids of the sandboxes a `tether lambda` started. */
  sandboxPids() {
    return [...this.stderr.matchAll(/sandbox [0-9a-f]{32} started \(pid (\d+)/g)].map((m) => Number(m[1]));
  }

  /** SIGTERM, wait (SIGKILL after 15 s), kill leftover sandboxes, check for
   * sanitizer reports on stderr and stdout (a `tether lambda`'s function
   * logs, where a sanitizer build of the bridge reports). */
  async stop() {
    if (this.alive) this.child.kill('SIGTERM');
    let r = await waitExit(this.child, 15000);
    if (!r) {
      this.child.kill('SIGKILL');
      r = await waitExit(this.child, 5000);
    }
    for (const pid of this.sandboxPids()) killGroup(pid);
    liveServices.delete(this);
    const findings = sanitizerFindings(`${this.stderr}\n${this.stdout}`);
    if (findings.length) throw new Error(`sanitizer report:\n${findings.join('\n')}\n--- stderr ---\n${this.stderr}\n--- stdout ---\n${this.stdout}`);
    return r ?? { code: null, signal: 'SIGKILL' };
  }
}

/** Starts `tether ARGS` and resolves once it printed its first (JSON) line. */
async function startService(args, what, timeoutMs = 15000) {
  const child = spawn(TETHER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const service = new Service(child, null);
  liveServices.add(service);
  child.stdout.on('data', (c) => {
    service.stdout += c;
  });
  child.stderr.on('data', (c) => {
    service.stderr += c;
  });
  try {
    const line = await waitFor(
      () => {
        if (!service.alive) throw new Error(`${what} exited: ${service.stderr}`);
        const nl = service.stdout.indexOf('\n');
        return nl >= 0 ? service.stdout.slice(0, nl) : null;
      },
      timeoutMs,
      `${what} to listen`,
    );
    service.info = JSON.parse(line);
  } catch (err) {
    child.kill('SIGKILL');
    liveServices.delete(service);
    throw err;
  }
  return service;
}

/** `tether broker --listen 127.0.0.1:0 --json ARGS`; .info has http, realtime, port. */
export function startBroker(args = []) {
  return startService(['broker', '--listen', '127.0.0.1:0', '--json', ...args], 'tether broker');
}

/** Writes config (docs/lambda.md) to dir/config.json and starts `tether
 * lambda` on 127.0.0.1:0; .endpoint is its Invoke API / function URL base. */
export async function startLambda(dir, config) {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const service = await startService(['lambda', '--config', file, '--listen', '127.0.0.1:0', '--json'], 'tether lambda');
  service.endpoint = service.info.endpoint;
  return service;
}
