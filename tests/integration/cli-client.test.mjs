// tether's own client commands, `tether subscribe` and `tether publish`,
// against the broker, checked from the other side with the independent Node
// client. Skipped (with a message) while the binary does not have them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import {
  TETHER_BIN,
  apiKeyAuth,
  assertAllSuccessful,
  connect,
  httpPublish,
  iamAuth,
  iamHttpHeaders,
  sanitizerFindings,
  tetherHasCommand,
  useBroker,
  withTimeout,
} from './lib/broker.mjs';

const KEY = 'da2-clitestkey000000000000001';
const IAM = {
  accessKeyId: 'AKIDTETHERCLI0000001',
  secretAccessKey: 'tether/cli+secret0000000000000000000001',
  sessionToken: 'cli-session-token/+=0001',
};
const IAM_ENV = {
  AWS_ACCESS_KEY_ID: IAM.accessKeyId,
  AWS_SECRET_ACCESS_KEY: IAM.secretAccessKey,
  AWS_SESSION_TOKEN: IAM.sessionToken,
  AWS_REGION: 'us-east-1',
};
const NO_AWS_ENV = {
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_SESSION_TOKEN: '',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
};

const missing = ['publish', 'subscribe'].filter((c) => !tetherHasCommand(c));
const skip = missing.length > 0 ? `${TETHER_BIN} --help does not list: ${missing.join(', ')}` : false;

/** Runs a tether command; resolves with {code, signal, stdout, stderr}. */
function runTether(args, { env = {}, timeoutMs = 20000, onStderr } = {}) {
  const child = spawn(TETHER_BIN, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...NO_AWS_ENV, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
    onStderr?.(stderr);
  });
  const done = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain before resolving.
      let open = 2;
      const end = () => {
        if (--open === 0) resolve({ code, signal, stdout, stderr });
      };
      if (child.stdout.readableEnded) end();
      else child.stdout.once('end', end);
      if (child.stderr.readableEnded) end();
      else child.stderr.once('end', end);
    });
  });
  const result = withTimeout(done, timeoutMs, `tether ${args[0]} to exit`).then((r) => {
    const findings = sanitizerFindings(r.stderr);
    assert.equal(findings.length, 0, `sanitizer report from tether ${args[0]}:\n${r.stderr}`);
    return r;
  });
  result.catch(() => child.kill('SIGKILL'));
  return { child, result };
}

/**
 * Starts `tether subscribe` and resolves once it reports (on stderr, at the
 * default log level) that the subscription is live.
 */
async function startSubscriber(broker, auth, channel, count, env) {
  let ready;
  const subscribed = new Promise((resolve) => {
    ready = resolve;
  });
  const args = ['subscribe', '--endpoint', broker.httpUrl, ...auth, '--count', String(count), '--timeout', '15', channel];
  const run = runTether(args, {
    env,
    onStderr: (text) => {
      if (text.includes('subscribed to')) ready();
    },
  });
  await Promise.race([
    withTimeout(subscribed, 10000, '"subscribed to" on tether subscribe\'s stderr'),
    run.result.then((r) => {
      throw new Error(`tether subscribe exited early (code ${r.code}): ${r.stderr}`);
    }),
  ]);
  return run;
}

describe('tether publish / tether subscribe against the broker', () => {
  // No broker is needed while the commands are missing (every test is skipped).
  const ctx = skip ? {} : useBroker([
    '--api-key',
    KEY,
    '--iam',
    `${IAM.accessKeyId}:${IAM.secretAccessKey}:${IAM.sessionToken}`,
  ]);

  const modes = {
    'API key': { args: () => ['--api-key', KEY], env: {} },
    IAM: { args: () => ['--iam'], env: IAM_ENV },
  };

  for (const [mode, { args, env }] of Object.entries(modes)) {
    test(`${mode}: tether subscribe --count N prints what Node publishes (WS and HTTP), then exits 0`, { skip }, async () => {
      const b = ctx.broker;
      const channel = `/default/cli/${mode === 'IAM' ? 'iam' : 'key'}/sub`;
      const sub = await startSubscriber(b, args(), '/default/cli/*', 4, env);
      const pub = await connect(b, { auth: apiKeyAuth(b, KEY) });
      const wsEvents = ['{"from":"node","n":1}', '"quote \\" backslash \\\\ </script> 😀"'];
      const auth = mode === 'IAM'
        ? await iamAuth(b, IAM, JSON.stringify({ channel, events: wsEvents }))
        : apiKeyAuth(b, KEY);
      assertAllSuccessful(await pub.publish(channel, wsEvents, auth), 2);
      const httpEvents = ['[1,2,3]', '{\n  "multi": "line"\n}'];
      const body = JSON.stringify({ channel, events: httpEvents });
      const headers = mode === 'IAM' ? await iamHttpHeaders(b, IAM, body) : { 'x-api-key': KEY };
      const h = await httpPublish(b, body, headers);
      assert.equal(h.status, 200, h.text);
      const r = await sub.result;
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n').filter((l) => l.length > 0);
      // One event per line; line breaks between JSON tokens become spaces.
      assert.deepEqual(lines, [...wsEvents, ...httpEvents].map((e) => e.replace(/[\r\n]/g, ' ')));
      await pub.close();
    });

    for (const http of [false, true]) {
      test(`${mode}: tether publish${http ? ' --http' : ''} reaches a Node subscriber and prints the result`, { skip }, async () => {
        const b = ctx.broker;
        const channel = `/default/cli/pub/${http ? 'http' : 'ws'}`;
        const sub = await connect(b, { auth: apiKeyAuth(b, KEY) });
        const s = await sub.subscribe(channel, apiKeyAuth(b, KEY));
        assert.equal(s.type, 'subscribe_success');
        const events = ['{"hello":"world"}', '42', '"ünïcödé \\" \\\\ 😀"'];
        const cmd = ['publish', '--endpoint', b.httpUrl, ...args(), ...(http ? ['--http'] : []), channel, ...events];
        const r = await runTether(cmd, { env }).result;
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.split('\n').filter((l) => l.length > 0);
        assert.equal(lines.length, 1, r.stdout);
        assertAllSuccessful(JSON.parse(lines[0]), events.length);
        for (const e of events) {
          const d = await sub.nextData(s.id);
          assert.equal(d.id, s.id);
          assert.deepEqual(JSON.parse(d.event), JSON.parse(e));
        }
        await sub.close();
      });
    }
  }

  test('tether publish with a wrong API key or wrong IAM secret exits 1 and delivers nothing', { skip }, async () => {
    const b = ctx.broker;
    const channel = '/default/cli/refused';
    const sub = await connect(b, { auth: apiKeyAuth(b, KEY) });
    const s = await sub.subscribe(channel, apiKeyAuth(b, KEY));
    for (const [args, env] of [
      [['--api-key', 'da2-wrong'], {}],
      [['--api-key', 'da2-wrong', '--http'], {}],
      [['--iam'], { ...IAM_ENV, AWS_SECRET_ACCESS_KEY: 'wrong' }],
      [['--iam', '--http'], { ...IAM_ENV, AWS_SESSION_TOKEN: '' }],
    ]) {
      const r = await runTether(['publish', '--endpoint', b.httpUrl, ...args, channel, '"refused"'], { env }).result;
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    }
    await sub.publish(channel, ['"sentinel"'], apiKeyAuth(b, KEY));
    assert.deepEqual(await sub.eventsUntil(s.id, '"sentinel"'), []);
    await sub.close();
  });
});
