// Starting a runtime shim against a test Runtime API, with cleanup and
// timeouts. Every process a test starts is killed when the test ends.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRuntimeApi } from './runtime-api.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const NODE_SHIM = path.join(REPO, 'runtimes/node/index.mjs');
export const PYTHON_SHIM = path.join(REPO, 'runtimes/python/bootstrap.py');
export const LOG_STREAM = '2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef';

/** Rejects if `promise` takes longer than `ms`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A temporary project directory with `files` ({relative path: content}). */
export function makeProject(t, files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-rt-'));
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The Python interpreters to test: the first is run in full. */
export function pythonInterpreters() {
  const seen = new Map();
  const candidates = [process.env.TETHER_TEST_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import sys; print(sys.executable); print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [exe, version] = r.stdout.trim().split('\n');
    const real = fs.realpathSync(exe);
    const [major, minor] = version.split('.').map(Number);
    if (major === 3 && minor >= 9 && !seen.has(real)) seen.set(real, { exe, version });
  }
  return [...seen.values()];
}

function baseEnv(api, extra) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME || '/root',
    LANG: 'C.UTF-8',
    TZ: ':UTC',
    AWS_LAMBDA_RUNTIME_API: api.address,
    AWS_LAMBDA_FUNCTION_NAME: 'test-fn',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/test-fn',
    AWS_LAMBDA_LOG_STREAM_NAME: LOG_STREAM,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    ...extra,
  };
}

/**
 * Starts a Runtime API and a shim process against it.
 *   runtime: 'node' | 'python'; handler: _HANDLER; root: LAMBDA_TASK_ROOT
 *   env: extra environment; args: extra interpreter arguments; python: interpreter
 *   stdin: the shim's standard input, 'ignore' (default) or 'pipe' (proc.stdin)
 * Returns {api, proc, out(), err(), exited, waitForOutput(re, ms)}.
 */
export async function startShim(t, { runtime = 'node', handler, root, env = {}, args = [], python = 'python3', api: apiOptions, stdin = 'ignore' } = {}) {
  const api = await startRuntimeApi(apiOptions);
  const childEnv = baseEnv(api, { _HANDLER: handler, LAMBDA_TASK_ROOT: root, ...env });
  const command = runtime === 'node' ? process.execPath : python;
  const argv = runtime === 'node' ? [...args, NODE_SHIM] : [...args, PYTHON_SHIM];
  const proc = spawn(command, argv, { cwd: root, env: childEnv, stdio: [stdin, 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(w.stream === 'stderr' ? stderr : w.stream === 'stdout' ? stdout : stdout + stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    stdout += d;
    check();
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    check();
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let closed = false;
  const closedOutput = new Promise((resolve) => proc.on('close', resolve));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await within(closedOutput, 5000, 'the shim to close').catch(() => {});
    closed = true;
    await api.close();
  });
  return {
    api,
    proc,
    out: () => stdout,
    err: () => stderr,
    exited,
    // Exit status plus everything printed, once the pipes are drained.
    async finished(ms = 10000) {
      const status = await within(exited, ms, 'the shim to exit');
      await within(closedOutput, ms, 'the shim output');
      return { ...status, stdout, stderr };
    },
    waitForOutput(re, ms = 10000, stream = 'any') {
      return within(new Promise((resolve) => {
        waiters.push({ re, stream, resolve });
        check();
      }), ms, `output matching ${re}`);
    },
    get closed() {
      return closed;
    },
  };
}

/** The invocation outcome, bounded in time. */
export function invoke(shim, event, opts = {}, ms = 15000) {
  // An init error or an exit before the answer fails at once, with the output.
  const early = new Promise((_, reject) => {
    shim.api.initError.then((e) => reject(new Error(`init error instead of an answer: ${e.text}`)));
    shim.exited.then(({ code, signal }) => setTimeout(() => reject(new Error(
      `the shim exited (${code ?? signal}) before answering\nstdout: ${shim.out()}\nstderr: ${shim.err()}`)), 500));
  });
  early.catch(() => {});
  return within(Promise.race([shim.api.invoke(event, opts), early]), ms, 'the invocation outcome');
}
