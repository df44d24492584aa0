// End to end on one machine: functions created in `tether lambda` with the
// official @aws-sdk/client-lambda answer with their own code; `tether dev`
// with an "aws" section attaches them (the bridge as a layer, through the
// control plane at AWS_ENDPOINT_URL_LAMBDA) and the same invocation runs the
// local handler through `tether broker`; on SIGINT they run their own code
// again with the configuration they had. Also kill -9 + `tether detach`, two
// sessions racing, and the attach and restore times for 1 and 20 functions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListTagsCommand,
} from '@aws-sdk/client-lambda';

import { TETHER_BIN, makeProject, sanitizerFindings, spawnDev, startBroker, waitFor } from './lib/dev.mjs';
import { makeWorkdir, startLambda } from './lib/lambda.mjs';
import { makeZip } from './lib/zip.mjs';

const REGION = 'us-east-1';
const KEY = { accessKeyId: 'AKIDTETHERATTACH0001', secretAccessKey: 'attach-test-secret' };
const ROLE = 'arn:aws:iam::012345678912:role/shop-dev';
const API_KEY = 'da2-attache2etestkey0000000000';
const CREDS_ENV = { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_SESSION_TOKEN: undefined };

let lambda;
let broker;
let client;

before(async () => {
  lambda = await startLambda(makeWorkdir(), null, { env: CREDS_ENV });
  broker = await startBroker(['--api-key', API_KEY]);
  client = new LambdaClient({ endpoint: lambda.endpoint, region: REGION, credentials: KEY, maxAttempts: 1 });
});

after(async () => {
  client?.destroy();
  await broker?.stop();
  await lambda?.stop();
});

const configuration = (name) => client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));

async function createFunction(name) {
  await client.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs20.x',
      Role: ROLE,
      Handler: 'index.handler',
      Code: { ZipFile: makeZip({ 'index.js': 'exports.handler = async (e) => ({ own: true, name: e.name });\n' }) },
      Timeout: 10,
      Environment: { Variables: { TABLE: 'orders' } },
      Tags: { team: 'shop' },
    }),
  );
  await waitFor(async () => (await configuration(name)).State === 'Active', 30000, `${name} to be Active`);
}

async function invoke(name, payload = { name: 'x' }) {
  const r = await client.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(payload) }));
  const text = Buffer.from(r.Payload ?? []).toString();
  assert.equal(r.FunctionError, undefined, text);
  return JSON.parse(text);
}

/** A project whose functions F0..F(n-1) are the deployed `${prefix}-i`. */
function project(prefix, n) {
  const functions = {};
  for (let i = 0; i < n; i++) functions[`F${i}`] = { handler: 'api.handler', runtime: 'nodejs20.x', deployed: `${prefix}-${i}` };
  return makeProject({
    files: {
      'tether.json': { app: 'shop', stage: prefix, aws: { region: REGION }, events: { http: broker.info.http, apiKey: API_KEY }, functions },
      'api.mjs': 'export const handler = async (e) => ({ local: true, name: e.name, fn: process.env.AWS_LAMBDA_FUNCTION_NAME });\n',
    },
  });
}

const devEnv = () => ({ ...CREDS_ENV, AWS_SESSION_TOKEN: '', AWS_REGION: REGION, AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint, HOME: '/nonexistent' });

function attachEvents(dev, event) {
  return dev.records.filter((r) => r.type === 'attach' && r.event === event);
}

async function allAttached(dev, n) {
  await waitFor(() => attachEvents(dev, 'attached').length + attachEvents(dev, 'failed').length >= n || !dev.alive, 120000, `${n} functions attached`);
  assert.equal(attachEvents(dev, 'failed').length, 0, dev.dump());
  assert.equal(attachEvents(dev, 'attached').length, n, dev.dump());
}

function detach(dir, args) {
  return new Promise((resolve) => {
    const env = { ...process.env, ...devEnv() };
    delete env.AWS_SESSION_TOKEN;
    execFile(TETHER_BIN, ['detach', ...args], { cwd: dir, env, timeout: 120000 }, (err, stdout, stderr) => {
      assert.equal(sanitizerFindings(stderr).length, 0, stderr);
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

/** The fields of two configurations that differ, but LastModified and RevisionId. */
function differences(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => k !== '$metadata' && JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

describe('tether dev attaches functions deployed in tether lambda and restores them', () => {
  before(async () => {
    for (let i = 0; i < 20; i++) await createFunction(`t20-${i}`);
  });

  test('attach: the invocation runs the local handler; SIGINT: its own code and configuration again', { timeout: 180000 }, async () => {
    await createFunction('e2e-0');
    assert.deepEqual(await invoke('e2e-0'), { own: true, name: 'x' });
    const before = await configuration('e2e-0');
    const dir = project('e2e', 1);
    const dev = spawnDev(dir, { env: devEnv() });
    await allAttached(dev, 1);
    const during = await configuration('e2e-0');
    assert.equal(during.Runtime, 'provided.al2023');
    assert.equal(during.Handler, 'bootstrap');
    assert.equal(during.Layers.length, 1);
    assert.match(during.Layers[0].Arn, /:layer:tether-bridge-x86_64:\d+$/);
    assert.deepEqual(await invoke('e2e-0', { name: 'live' }), { local: true, name: 'live', fn: 'e2e-0' });
    const tags = (await client.send(new ListTagsCommand({ Resource: before.FunctionArn }))).Tags;
    assert.ok(tags['tether:session'] && tags['tether:attach:0'], JSON.stringify(tags));

    const stopped = await dev.stop('SIGINT');
    assert.equal(stopped.code, 0, dev.dump());
    assert.equal(attachEvents(dev, 'restored').length, 1, dev.dump());
    const afterwards = await configuration('e2e-0');
    assert.deepEqual(differences(before, afterwards), ['LastModified', 'RevisionId'], `${JSON.stringify(before)}\n${JSON.stringify(afterwards)}`);
    assert.deepEqual((await client.send(new ListTagsCommand({ Resource: before.FunctionArn }))).Tags, { team: 'shop' });
    assert.deepEqual(await invoke('e2e-0'), { own: true, name: 'x' });
  });

  test('--debug-timeout raises the attached function\'s timeout, and restoring puts it back', { timeout: 180000 }, async () => {
    const before = await configuration('e2e-0');
    const dev = spawnDev(project('e2e', 1), { args: ['--debug-timeout', '600'], env: devEnv() });
    await allAttached(dev, 1);
    assert.equal((await configuration('e2e-0')).Timeout, 600);
    assert.equal((await dev.stop('SIGINT')).code, 0, dev.dump());
    assert.equal((await configuration('e2e-0')).Timeout, 10);
    assert.deepEqual(differences(before, await configuration('e2e-0')), ['LastModified', 'RevisionId']);
  });

  test('SIGINT while attaching: what was attached is restored, the rest never touched', { timeout: 180000 }, async () => {
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => configuration(`t20-${i}`)));
    const dev = spawnDev(project('t20', 20), { env: devEnv() });
    await waitFor(() => attachEvents(dev, 'attached').length >= 1 || !dev.alive, 60000, 'a first function attached');
    const stopped = await dev.stop('SIGINT');
    assert.equal(stopped.code, 0, dev.dump());
    assert.equal(attachEvents(dev, 'restored').length, attachEvents(dev, 'attached').length, dev.dump());
    for (let i = 0; i < 20; i++) {
      const now = await configuration(`t20-${i}`);
      const changed = differences(before[i], now);
      assert.ok(changed.length === 0 || JSON.stringify(changed) === '["LastModified","RevisionId"]', `t20-${i}: ${changed}`);
      assert.equal(now.Runtime, 'nodejs20.x');
    }
  });

  test('kill -9 of tether dev, then tether detach restores', { timeout: 180000 }, async () => {
    const before = await configuration('e2e-0');
    const dir = project('e2e', 1);
    const dev = spawnDev(dir, { env: devEnv() });
    await allAttached(dev, 1);
    dev.child.kill('SIGKILL');
    await dev.waitExit();
    dev.killSandboxes();
    assert.equal((await configuration('e2e-0')).Runtime, 'provided.al2023');
    const r = await detach(dir, ['--all']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /F0 e2e-0: restored/);
    assert.deepEqual(differences(before, await configuration('e2e-0')), ['LastModified', 'RevisionId']);
    assert.deepEqual(await invoke('e2e-0'), { own: true, name: 'x' });
  });

  test('two sessions racing for one function: one wins, the other says who holds it', { timeout: 180000 }, async () => {
    const before = await configuration('e2e-0');
    const a = spawnDev(project('e2e', 1), { env: devEnv() });
    const b = spawnDev(project('e2e', 1), { env: devEnv() });
    await waitFor(() => attachEvents(a, 'attached').length + attachEvents(a, 'failed').length + attachEvents(b, 'attached').length + attachEvents(b, 'failed').length >= 2, 120000, 'both sessions to try');
    const winner = attachEvents(a, 'attached').length ? a : b;
    const loser = winner === a ? b : a;
    assert.equal(attachEvents(winner, 'attached').length, 1, `${a.dump()}\n${b.dump()}`);
    const failed = attachEvents(loser, 'failed');
    assert.equal(failed.length, 1, loser.dump());
    assert.match(failed[0].detail, new RegExp(`e2e-0 is attached by another tether dev session \\([0-9a-f]{16} \\S+ pid ${winner.pid}\\)`));
    await loser.stop('SIGINT');
    assert.equal((await configuration('e2e-0')).Runtime, 'provided.al2023', 'the loser leaves the winner attached');
    await winner.stop('SIGINT');
    assert.deepEqual(differences(before, await configuration('e2e-0')), ['LastModified', 'RevisionId']);
  });

  test('attach and restore times for 1 and 20 functions', { timeout: 600000 }, async () => {
    for (const n of [1, 20]) {
      const dir = project(n === 1 ? 'e2e' : 't20', n);
      const started = Date.now();
      const dev = spawnDev(dir, { env: devEnv() });
      await waitFor(() => dev.records.some((r) => r.type === 'ready'), 30000, 'ready');
      const ready = Date.now();
      await allAttached(dev, n);
      const attachMs = Date.now() - ready;
      const stopped = await dev.stop('SIGINT');
      assert.equal(stopped.code, 0, dev.dump());
      assert.equal(attachEvents(dev, 'restored').length, n, dev.dump());
      console.log(`attach ${n} function(s): ${attachMs} ms after ready (${ready - started} ms to ready); restore on SIGINT: ${stopped.ms} ms`);
    }
  });
});
