// Test helpers for `tether lambda`: write functions into a fresh folder,
// start the service on 127.0.0.1:0, invoke it with plain HTTP, the official
// AWS SDK or curl, and stop it again.
//
// Cleanup: every service started here is stopped by an after() hook (use
// useLambda) or by stop(); as a last resort the service and every sandbox it
// started (their pids come from its log) are killed, process group and all,
// when the test process exits. Everything that waits has a timeout.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

import { LambdaClient } from '@aws-sdk/client-lambda';

const integrationDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The tether binary under test: $TETHER_BIN, default ../../build/tether. */
export const TETHER_BIN = path.resolve(
  integrationDir,
  process.env.TETHER_BIN || path.join('..', '..', 'build', 'tether'),
);

/** The official Node.js runtime interface client's entry point (package "bin"). */
export const RIC_BIN = path.join(integrationDir, 'node_modules', 'aws-lambda-ric', 'bin', 'index.mjs');

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const LOG_STREAM_RE = /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/;

const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];

/* ------------------------------------------------------------ plumbing */

const liveServices = new Set();

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
});

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

/** True while a process (or process group, for a negative pid) exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
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

/* ------------------------------------------------------------ functions */

/** A fresh folder for one test file's functions (removed at the end). */
export function makeWorkdir(prefix = 'tether-lambda-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files ({relative path: content}) into dir; names ending in
 * "bootstrap" or ".sh" are made executable. */
export function writeFiles(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    if (name.endsWith('bootstrap') || name.endsWith('.sh')) fs.chmodSync(file, 0o755);
  }
}

/** A function run by the official Node runtime interface client. */
export function nodeFunction(name, handler, extra = {}) {
  return {
    name,
    runtime: 'nodejs20.x',
    handler,
    bootstrap: ['node', RIC_BIN, handler],
    ...extra,
  };
}

/* ------------------------------------------------------------ the service */

export class LambdaService {
  constructor(child, info, dir) {
    this.child = child;
    this.info = info;
    this.dir = dir;
    this.port = info.port;
    this.endpoint = info.endpoint;
    this.stdoutText = '';
    this.stderrText = '';
    this.stopped = null;
  }

  get stdout() {
    return this.stdoutText;
  }

  get stderr() {
    return this.stderrText;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Pids of every sandbox started so far (from "started (pid N" log lines). */
  sandboxPids() {
    return [...this.stderrText.matchAll(/sandbox [0-9a-f]{32} started \(pid (\d+)/g)].map((m) =>
      Number(m[1]),
    );
  }

  /** The function URL on the main port. */
  url(name, rest = '') {
    return `${this.endpoint}/url/${name}/${rest}`;
  }

  invokeUrl(name) {
    return `${this.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
  }

  /** Invoke API over plain HTTP: resolves to {status, headers, text, json}. */
  async invoke(name, payload, headers = {}, ms = 30000) {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    const res = await withTimeout(
      fetch(this.invokeUrl(name), { method: 'POST', body, headers }),
      ms,
      `invoking ${name}`,
    );
    const text = await withTimeout(res.text(), ms, `the answer of ${name}`);
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** The official SDK client pointed at this service. */
  client() {
    const client = new LambdaClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' },
      maxAttempts: 1,
    });
    after(() => client.destroy());
    return client;
  }

  /** Waits until the service's stdout (from offset `from` on) matches re;
   * resolves to that part of the output. */
  waitForOutput(re, ms = 10000, from = 0) {
    return waitFor(
      () => (re.test(this.stdoutText.slice(from)) ? this.stdoutText.slice(from) : null),
      ms,
      `output matching ${re}`,
    );
  }

  assertNoSanitizerReport() {
    const findings = this.stderrText
      .split('\n')
      .filter((line) => SANITIZER_PATTERNS.some((p) => line.includes(p)));
    if (findings.length > 0) {
      throw new Error(`sanitizer report:\n${findings.join('\n')}\n--- stderr ---\n${this.stderrText}`);
    }
  }

  /** Sends `signal`, waits for the exit (SIGKILL after 15 s), checks for
   * sanitizer reports; resolves to {code, signal}. */
  async stop(signal = 'SIGTERM') {
    if (!this.stopped) {
      this.stopped = (async () => {
        if (this.alive) this.child.kill(signal);
        let r = await waitExit(this.child, 15000);
        if (!r) {
          this.child.kill('SIGKILL');
          r = await waitExit(this.child, 5000);
        }
        for (const pid of this.sandboxPids()) killGroup(pid);
        liveServices.delete(this);
        return r ?? { code: null, signal: 'SIGKILL' };
      })();
    }
    const result = await this.stopped;
    this.assertNoSanitizerReport();
    return result;
  }
}

/**
 * Writes config.json ({functions, ...top}) into dir and starts
 * `tether lambda --config dir/config.json --listen 127.0.0.1:0 --json ARGS`;
 * with config null, without --config (no functions). env entries that are
 * undefined are removed from the service's environment.
 */
export async function startLambda(dir, config, { args = [], env = {}, timeoutMs = 15000 } = {}) {
  const configArgs = [];
  if (config !== null) {
    const configPath = path.join(dir, 'config.json');
    fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
    configArgs.push('--config', configPath);
  }
  const childEnv = { ...process.env, ...env };
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  const child = spawn(
    TETHER_BIN,
    ['lambda', ...configArgs, '--listen', '127.0.0.1:0', '--json', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv },
  );
  const service = new LambdaService(child, { port: 0 }, dir);
  liveServices.add(service);
  child.stdout.on('data', (c) => {
    service.stdoutText += c;
  });
  child.stderr.on('data', (c) => {
    service.stderrText += c;
  });
  const firstLine = new Promise((resolve, reject) => {
    const onData = () => {
      const nl = service.stdoutText.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        resolve(service.stdoutText.slice(0, nl));
      }
    };
    child.stdout.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, sig) =>
      reject(new Error(`tether lambda exited (${code}, ${sig}) before listening:\n${service.stderrText}`)),
    );
  });
  const info = JSON.parse(await withTimeout(firstLine, timeoutMs, 'tether lambda to listen'));
  service.info = info;
  service.port = info.port;
  service.endpoint = info.endpoint;
  return service;
}

/** startLambda, stopped (and checked for sanitizer reports) after the file's tests. */
export async function useLambda(dir, config, options) {
  const service = await startLambda(dir, config, options);
  after(() => service.stop());
  return service;
}

/* ------------------------------------------------------------ curl */

/**
 * Runs curl with args; resolves to {code, stdout (Buffer), stderr, chunks}
 * where chunks are [ms since start, Buffer] as stdout arrived.
 */
export function curl(args, ms = 30000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks = [];
      let stderr = '';
      child.stdout.on('data', (c) => chunks.push([Date.now() - started, c]));
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      child.once('error', reject);
      child.once('close', (code) =>
        resolve({ code, stdout: Buffer.concat(chunks.map((c) => c[1])), stderr, chunks }),
      );
      after(() => child.exitCode === null && child.kill('SIGKILL'));
    }),
    ms,
    `curl ${args.join(' ')}`,
  );
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
