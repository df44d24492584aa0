// The inspector of `tether dev` (docs/inspector.md), against the real dev
// with the embedded defaults: every invocation travels
//   caller ─► Lambda service ─► tether-bridge ─► broker ─► dev ─► Node worker
// and the inspector's API (plain fetch and node:http) and page (Debian's
// chromium driven headless by playwright-core) are checked from outside.
//
// 1. API: 1,000 invocations with --history 200 keep the newest 200 in the
//    store and in .tether/log/; the token is required (header, cookie or
//    the URL once); a Host that is not loopback is refused; an edited
//    replay reaches the handler and is linked to its original; the live
//    stream announces new invocations.
// 2. Remote mode (`tether broker` and `tether lambda` as the cloud): the
//    inspector lists the remote invocations, and a replay runs in the local
//    worker of the original, marked as such. With IAM (functions in AWS) a
//    replay is AWS Lambda's Invoke of the Next's function ARN, sent to a
//    capture server and compared with @aws-sdk/client-lambda's request.
// 3. Browser: the list fills as invocations run, opening one shows its
//    event and logs, edit-and-replay adds an entry with the handler's new
//    answer; the page's load time with 1,000 stored invocations is printed.
//    Screenshots go to build/test-artifacts/inspector/ (also on failure).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { spawnSync } from 'node:child_process';

import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

import { TEST_CREDENTIALS, compareRequests, credentialsEnv, sdkRequest, startCapture, verifySigV4 } from './lib/aws-capture.mjs';
import { BRIDGE_BIN, REPO_DIR, TETHER_BIN, httpRequest, invokeApi, makeProject, startBroker, startDev, startLambda, tempDir, waitFor } from './lib/dev.mjs';

const ARTIFACTS = path.join(REPO_DIR, 'build', 'test-artifacts', 'inspector');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const HANDLER = `
export const handler = async (event) => {
  console.log('seen', JSON.stringify(event.n ?? null), event.tag ?? '');
  if (event.hold) {
    // Concurrent requests: each prints its marker again after the others started.
    await new Promise((r) => setTimeout(r, event.hold));
    console.log('later', event.tag);
  }
  return { n: event.n ?? null, tag: event.tag ?? 'plain', answer: 'v1:' + (event.tag ?? 'plain') };
};
`;

function project(extra = {}) {
  return makeProject({
    prefix: 'tether-inspector-',
    files: {
      'tether.json': {
        app: 'inspect',
        ...extra,
        functions: {
          Echo: { handler: 'src/echo.handler', runtime: 'nodejs20.x', environment: { API_SECRET: 's3cret-value', MODE: 'test', LD_BIND_NOW: '1' } },
        },
      },
      'src/echo.mjs': HANDLER,
    },
  });
}

/** The inspector's URL printed by dev, split into base and token. */
function inspectorOf(dev) {
  const record = dev.records.find((r) => r.type === 'inspector');
  assert.ok(record, `no {"type":"inspector"} line\n${dev.dump()}`);
  const url = new URL(record.url);
  return { url: record.url, base: url.origin, token: url.searchParams.get('token') };
}

function api(ins, pathname, options = {}) {
  return httpRequest(ins.base + pathname, {
    ...options,
    headers: { authorization: `Bearer ${ins.token}`, ...(options.headers || {}) },
  });
}

/** n invocations of Echo through the Invoke API, `width` at a time, in order of batches. */
async function invokeMany(dev, n, width, tag = 'bulk') {
  for (let i = 0; i < n; i += width) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + width); j++) batch.push(invokeApi(dev.lambda, 'Echo', { n: j, tag }));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 200, r.text);
  }
}

/** `tether lambda` as the cloud: Echo runs the bridge for STAGE, relaying to
 * the broker; `service` adds to the service's configuration, `env` to the
 * function's environment. */
function startCloudEcho(broker, stage, bridgeKey, service, env) {
  return startLambda(tempDir(`tether-inspector-${stage}-`), {
    idle_timeout: 600,
    ...service,
    functions: [
      {
        name: 'Echo',
        runtime: 'provided.al2023',
        handler: 'src/echo.handler',
        bootstrap: BRIDGE_BIN,
        timeout: 10,
        environment: {
          TETHER_EVENTS_HTTP: broker.info.http,
          TETHER_APP: 'inspect',
          TETHER_STAGE: stage,
          TETHER_FUNCTION_ID: 'Echo',
          TETHER_BRIDGE_KEY: bridgeKey,
          ...env,
        },
      },
    ],
  });
}

/** A raw request with a chosen Host header (fetch does not allow one). */
function rawGet(base, pathname, headers) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('inspector API', () => {
  let dev;
  let ins;
  before(async () => {
    dev = await startDev(project(), { args: ['--history', '200'] });
    ins = inspectorOf(dev);
  });
  after(async () => {
    if (dev) await dev.stop();
  });

  test('the token is required: header, cookie, or the URL once', async () => {
    assert.equal((await httpRequest(`${ins.base}/api/invocations`)).status, 401);
    assert.equal((await httpRequest(`${ins.base}/api/invocations`, { headers: { authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await httpRequest(`${ins.base}/`)).status, 401);
    assert.equal((await httpRequest(`${ins.base}/app.js`)).status, 401);
    assert.equal((await httpRequest(`${ins.base}/api/invocations?token=${ins.token.slice(1)}`)).status, 401);
    const first = await rawGet(ins.base, `/?token=${ins.token}`, {});
    assert.equal(first.status, 303);
    const cookie = first.headers['set-cookie'][0];
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await rawGet(ins.base, '/', { cookie: cookie.split(';')[0] });
    assert.equal(page.status, 200);
    assert.match(page.body, /tether dev inspector/);
    assert.equal((await api(ins, '/api/invocations')).status, 200);
  });

  test('a Host that is not loopback is refused, even with the token', async () => {
    const r = await rawGet(ins.base, '/api/invocations', { host: 'attacker.example', authorization: `Bearer ${ins.token}` });
    assert.equal(r.status, 403);
    const ok = await rawGet(ins.base, '/api/invocations', { host: `localhost:${new URL(ins.base).port}`, authorization: `Bearer ${ins.token}` });
    assert.equal(ok.status, 200);
  });

  test('1,000 invocations with --history 200 keep the newest 200, in memory and in .tether/log/', async (t) => {
    const started = Date.now();
    await invokeMany(dev, 1000, 10);
    const ms = Date.now() - started;
    const list = await waitFor(async () => {
      const r = await api(ins, '/api/invocations?q=bulk');
      return r.json.invocations.length === 200 && r.json.invocations.some((i) => i.seq >= 1000) ? r : null;
    }, 10000, 'the newest invocations');
    assert.equal(list.json.count, 200);
    assert.equal(list.json.maxCount, 200);
    // Batches of 10 finish before the next starts: the newest 200 are n = 800..999.
    const ns = [];
    for (const inv of list.json.invocations) {
      const full = await api(ins, `/api/invocations/${inv.id}`);
      assert.equal(full.status, 200);
      ns.push(full.json.event.n);
    }
    assert.deepEqual(ns.sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => 800 + i));
    const records = fs.readdirSync(path.join(dev.dir, '.tether', 'log'));
    assert.equal(records.length, 200, `records: ${records.length}`);
    const dropped = await api(ins, '/api/invocations/does-not-exist');
    assert.equal(dropped.status, 404);
    t.diagnostic(`1,000 invocations in ${ms} ms; store at its cap of 200: ${list.json.bytes} bytes (${(list.json.bytes / 200).toFixed(0)} per invocation)`);
  });

  test('one invocation in full: event, response, its log lines, timings, masked environment', async () => {
    const r = await invokeApi(dev.lambda, 'Echo', { n: 5000, tag: 'detail' });
    assert.equal(r.status, 200);
    const list = await waitFor(async () => {
      const l = await api(ins, '/api/invocations?q=detail&function=Echo&status=ok');
      return l.json.invocations.length === 1 ? l : null;
    }, 5000, 'the detail invocation');
    const inv = (await api(ins, `/api/invocations/${list.json.invocations[0].id}`)).json;
    assert.deepEqual(inv.event, { n: 5000, tag: 'detail' });
    assert.equal(inv.response.answer, 'v1:detail');
    await waitFor(async () => (await api(ins, `/api/invocations/${inv.id}`)).json.logs.includes('seen 5000 detail'), 5000, 'its log line');
    assert.ok(inv.timings.handlerMs >= 0 && inv.timings.answeredMs >= inv.timings.handlerStartMs);
    // Along the chain: the bridge's sealed send time (its clock; the same
    // machine here), dev's arrival, the worker's start and answer.
    const t = inv.timings;
    const began = Date.now() - 60000;
    assert.ok(t.nextSentMs > began && t.nextSentMs <= t.nextReceivedMs + 5, JSON.stringify(t));
    assert.ok(t.nextReceivedMs <= t.handlerStartMs + 5 && t.handlerStartMs <= t.answeredMs, JSON.stringify(t));
    // The broker's acknowledgement of the Response comes after the answer;
    // the entry is updated when it does.
    const delivered = await waitFor(async () => {
      const d = (await api(ins, `/api/invocations/${inv.id}`)).json.timings;
      return d.answerDeliveredMs !== null ? d : null;
    }, 5000, 'the answer delivered');
    assert.ok(delivered.answeredMs <= delivered.answerDeliveredMs && delivered.answerDeliveredMs <= Date.now(), JSON.stringify(delivered));
    // The names the worker's Init carried, every value masked; LD_BIND_NOW is
    // one the Init filter drops.
    assert.equal(inv.environmentFrom, 'init');
    const names = inv.environment.map((e) => e.name);
    for (const name of ['API_SECRET', 'MODE']) assert.ok(names.includes(name), names.join(' '));
    assert.ok(inv.environment.every((e) => e.value === '****'));
    assert.ok(!names.includes('LD_BIND_NOW'), names.join(' '));
    assert.deepEqual(inv.environmentDropped, ['LD_BIND_NOW']);
    assert.ok(!JSON.stringify(inv).includes('s3cret-value'), 'a secret value was shown');
    assert.equal((await api(ins, '/api/invocations?status=error')).json.invocations.length, 0);
  });

  test('4 concurrent invocations: each keeps its own log lines', async () => {
    const tags = [0, 1, 2, 3].map((i) => `conc${i}x`);
    const answers = await Promise.all(tags.map((tag, i) => invokeApi(dev.lambda, 'Echo', { n: 7000 + i, tag, hold: 600 })));
    for (const r of answers) assert.equal(r.status, 200, r.text);
    const workers = new Set();
    for (const tag of tags) {
      const inv = await waitFor(async () => {
        const l = (await api(ins, `/api/invocations?q=${tag}`)).json.invocations;
        if (l.length !== 1) return null;
        const one = (await api(ins, `/api/invocations/${l[0].id}`)).json;
        return one.logs.includes(`later ${tag}`) && one.logs.includes('END RequestId') ? one : null;
      }, 5000, `the logs of ${tag}`);
      assert.match(inv.logs, new RegExp(`^START RequestId: ${inv.id} `));
      assert.ok(inv.logs.includes(`seen ${7000 + tags.indexOf(tag)} ${tag}`), inv.logs);
      for (const other of tags.filter((t) => t !== tag)) assert.ok(!inv.logs.includes(other), `${tag} has ${other}'s lines:\n${inv.logs}`);
      for (const m of inv.logs.matchAll(/RequestId: (\S+)/g)) assert.equal(m[1], inv.id, inv.logs);
      workers.add(inv.worker);
    }
    assert.equal(workers.size, 4, 'the 4 ran at once, each in its own worker');
  });

  test('replay of an edited event reaches the handler and is linked to its original', async () => {
    await invokeApi(dev.lambda, 'Echo', { n: 6000, tag: 'original' });
    const original = await waitFor(async () => (await api(ins, '/api/invocations?q=original')).json.invocations[0], 5000, 'the original');
    const edited = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST', body: JSON.stringify({ n: 6001, tag: 'edited' }) });
    assert.equal(edited.status, 200, edited.text);
    assert.equal(edited.json.replayOf, original.id);
    assert.equal(edited.json.answer.answer, 'v1:edited');
    assert.ok(edited.json.id && edited.json.id !== original.id);
    const replay = (await api(ins, `/api/invocations/${edited.json.id}`)).json;
    assert.equal(replay.replayOf, original.id);
    assert.deepEqual(replay.event, { n: 6001, tag: 'edited' });
    assert.equal(replay.response.answer, 'v1:edited');
    // As it was: the same event again.
    const same = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST' });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.json.answer.answer, 'v1:original');
    assert.equal((await api(ins, `/api/invocations/${same.json.id}`)).json.replayOf, original.id);
    assert.equal((await api(ins, `/api/invocations/${original.id}/replay`)).status, 405);
    // Another page on this machine (same site for the cookie) cannot start one.
    const foreign = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST', headers: { origin: 'http://127.0.0.1:8080' } });
    assert.equal(foreign.status, 403);
    assert.equal((await api(ins, '/api/invocations/nope/replay', { method: 'POST' })).status, 404);
  });

  test('the live stream announces each new invocation', async () => {
    const controller = new AbortController();
    const res = await fetch(`${ins.base}/api/stream`, { headers: { authorization: `Bearer ${ins.token}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const reader = res.body.getReader();
    let text = '';
    await invokeApi(dev.lambda, 'Echo', { n: 7000, tag: 'streamed' });
    await waitFor(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return /event: invocation\ndata: .*"function":"Echo"/.test(text);
    }, 5000, 'an invocation event');
    controller.abort();
  });
});

describe('inspector in remote mode', () => {
  const KEY = 'da2-inspectorremotekey00000001';
  let broker;
  let lambda;
  let dev;
  before(async () => {
    broker = await startBroker(['--api-key', KEY]);
    const dir = project({ stage: 'remote', events: { http: broker.info.http, apiKey: KEY } });
    const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    assert.equal(made.status, 0, made.stderr);
    lambda = await startCloudEcho(broker, 'remote', made.stdout.trim(), {}, {
      TETHER_EVENTS_API_KEY: KEY,
      API_SECRET: 's3cret-value',
      LD_BIND_NOW: '1',
    });
    dev = await startDev(dir);
  });
  after(async () => {
    if (dev) await dev.stop();
    if (lambda) await lambda.stop();
    if (broker) await broker.stop();
  });

  test('remote invocations are listed; a replay runs in the local worker, linked', async () => {
    const ins = inspectorOf(dev);
    const r = await invokeApi(lambda.endpoint, 'Echo', { n: 1, tag: 'cloud' }, { ms: 20000 });
    assert.equal(r.status, 200, r.text);
    const original = await waitFor(async () => (await api(ins, '/api/invocations?q=cloud')).json.invocations[0], 5000, 'the remote invocation');
    const list = await api(ins, '/api/invocations');
    assert.equal(list.json.replay, 'local worker');
    const replay = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST', body: JSON.stringify({ n: 2, tag: 'replayed-locally' }) });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.json.local, true, replay.text);
    assert.equal(replay.json.answer.answer, 'v1:replayed-locally');
    const full = (await api(ins, `/api/invocations/${replay.json.id}`)).json;
    assert.equal(full.replayOf, original.id);
    assert.equal(full.source, 'replay (local worker)');
    assert.equal(full.worker, original.worker);
    // The remote sandbox's Init: its names, no values; a local replay had no
    // Init of its own, so it shows tether.json's names.
    const remote = (await api(ins, `/api/invocations/${original.id}`)).json;
    assert.equal(remote.environmentFrom, 'init');
    const names = remote.environment.map((e) => e.name);
    assert.ok(names.includes('AWS_LAMBDA_FUNCTION_NAME') && names.includes('API_SECRET'), names.join(' '));
    assert.ok(remote.environmentDropped.includes('LD_BIND_NOW'), JSON.stringify(remote.environmentDropped));
    assert.ok(!JSON.stringify(remote).includes(KEY) && !JSON.stringify(remote).includes('s3cret-value'), 'a value was shown');
    assert.ok(remote.timings.nextSentMs > 0 && remote.timings.nextReceivedMs > 0, JSON.stringify(remote.timings));
    assert.equal(full.timings.nextSentMs, null);
    assert.equal(full.timings.nextReceivedMs, null);
    assert.equal(full.environmentFrom, 'tether.json');
    assert.deepEqual(full.environment.map((e) => e.name).sort(), ['API_SECRET', 'LD_BIND_NOW', 'MODE']);
  });
});

describe('inspector in AWS: replay through AWS Lambda\'s Invoke', () => {
  // Remote mode with IAM, as for functions attached in AWS: `tether broker`
  // (IAM) and `tether lambda` (whose Next names the function's ARN) stand in
  // for AppSync and Lambda's data plane; a capture server stands in for
  // AWS Lambda's Invoke API (AWS_ENDPOINT_URL_LAMBDA), and the replay's
  // request is compared with what @aws-sdk/client-lambda sends.
  const REGION = 'eu-west-1';
  const ACCOUNT = '210987654321';
  const ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Echo`;
  const iam = (c) => `${c.accessKeyId}:${c.secretAccessKey}:${c.sessionToken}`;
  const STAND_IN = { headers: { 'x-amz-executed-version': '$LATEST' }, body: { answer: 'from the AWS stand-in' } };
  let broker;
  let lambda;
  let dev;
  let capture;
  before(async () => {
    capture = await startCapture({ answer: STAND_IN });
    broker = await startBroker(['--iam', iam(TEST_CREDENTIALS), '--region', REGION]);
    const dir = project({ stage: 'aws', events: { http: broker.info.http, region: REGION } });
    const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    assert.equal(made.status, 0, made.stderr);
    lambda = await startCloudEcho(broker, 'aws', made.stdout.trim(), {
      region: REGION,
      account_id: ACCOUNT,
      credentials: {
        access_key_id: TEST_CREDENTIALS.accessKeyId,
        secret_access_key: TEST_CREDENTIALS.secretAccessKey,
        session_token: TEST_CREDENTIALS.sessionToken,
      },
    });
    dev = await startDev(dir, { env: { ...credentialsEnv(), AWS_ENDPOINT_URL_LAMBDA: capture.url, AWS_ENDPOINT_URL: '', AWS_PROFILE: '' } });
  });
  after(async () => {
    if (dev) await dev.stop();
    if (lambda) await lambda.stop();
    if (broker) await broker.stop();
    if (capture) await capture.close();
  });

  test('the Next\'s ARN is shown; a replay is a signed Invoke of that ARN, equal to the SDK\'s', async () => {
    const ins = inspectorOf(dev);
    const r = await invokeApi(lambda.endpoint, 'Echo', { n: 1, tag: 'in-aws' }, { ms: 20000 });
    assert.equal(r.status, 200, r.text);
    const original = await waitFor(async () => (await api(ins, '/api/invocations?q=in-aws')).json.invocations[0], 5000, 'the invocation from AWS');
    assert.equal((await api(ins, '/api/invocations')).json.replay, 'aws lambda');
    const detail = (await api(ins, `/api/invocations/${original.id}`)).json;
    assert.equal(detail.functionArn, ARN);
    const edited = JSON.stringify({ n: 2, tag: 'replayed-in-aws' });
    const replay = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST', body: edited });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.json.local, false, replay.text);
    assert.equal(replay.json.status, 200);
    assert.deepEqual(replay.json.answer, STAND_IN.body);
    assert.equal(capture.requests.length, 1);
    const sent = capture.requests[0];
    const sdk = await sdkRequest((config) => new LambdaClient(config),
      new InvokeCommand({ FunctionName: ARN, InvocationType: 'RequestResponse', Payload: Buffer.from(edited) }),
      { region: REGION, answer: STAND_IN });
    assert.equal(sdk.error, undefined);
    compareRequests(sent, sdk.request, { headers: ['content-type', 'x-amz-invocation-type'], rawBody: true });
    assert.equal(await verifySigV4(sent, { region: REGION, service: 'lambda' }), true, 'tether\'s signature');
    // Without an edit the original's event bytes go to AWS as they came.
    const again = await api(ins, `/api/invocations/${original.id}/replay`, { method: 'POST', body: '' });
    assert.equal(again.status, 200, again.text);
    assert.equal(capture.requests.length, 2);
    assert.deepEqual(JSON.parse(capture.requests[1].body.toString()), detail.event);
    assert.equal(await verifySigV4(capture.requests[1], { region: REGION, service: 'lambda' }), true);
  });
});

describe('inspector page in chromium', { skip: !fs.existsSync(CHROMIUM) && `no ${CHROMIUM}` }, () => {
  let dev;
  let ins;
  let browser;
  let context;
  let page;
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    dev = await startDev(project());
    ins = inspectorOf(dev);
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });
  after(async () => {
    if (browser) await browser.close();
    if (dev) await dev.stop();
  });

  /** Runs fn; on failure saves what the page showed, then rethrows. */
  async function shot(name, fn, fullPage = true) {
    try {
      await fn();
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
    } catch (err) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-failed.png`), fullPage: true }).catch(() => {});
      throw err;
    }
  }

  test('the list fills as invocations run', () =>
    shot('list', async () => {
      await page.goto(ins.url);
      assert.equal(new URL(page.url()).search, '', 'the token stays in the address bar');
      await page.waitForSelector('body[data-loaded="true"]');
      await page.waitForSelector('#live:text("live")');
      for (let i = 0; i < 3; i++) assert.equal((await invokeApi(dev.lambda, 'Echo', { n: i, tag: 'browser' })).status, 200);
      await page.waitForFunction(() => document.querySelectorAll('#list tbody tr').length === 3);
      assert.match(await page.textContent('#list tbody tr:first-child'), /Echo/);
    }));

  test('opening one shows its event and logs; keyboard navigation works', () =>
    shot('detail', async () => {
      await page.keyboard.press('j');
      await page.keyboard.press('k');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#detail:not([hidden])');
      assert.match(await page.textContent('#d-event'), /"tag".*"browser"/s);
      await page.waitForFunction(() => document.querySelector('#d-logs').textContent.includes('seen 2 browser'), null, { timeout: 5000 }).catch(async () => {
        // The log lines may land just after the answer: reopen once.
        await page.keyboard.press('Escape');
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => document.querySelector('#d-logs').textContent.includes('seen 2 browser'));
      });
      assert.match(await page.textContent('#d-answer'), /v1:browser/);
      // The chain's times and the Init's names, values masked.
      assert.match(await page.textContent('#d-timings'), /bridge sent the event .*\(the bridge's clock\) · tether dev had it .* · handed to the local worker/);
      const env = await page.textContent('#d-env');
      assert.match(env, /API_SECRET=\*\*\*\*/);
      assert.match(env, /from the worker's Init, values masked\) · dropped by the Init filter: LD_BIND_NOW/);
      assert.ok(!env.includes('s3cret-value'));
    }));

  test('editing and replaying produces a new entry with the new answer', () =>
    shot('replay', async () => {
      await page.click('#edit');
      await page.fill('#d-event-edit', JSON.stringify({ n: 42, tag: 'edited-in-browser' }));
      await page.click('#send');
      await page.waitForFunction(() => /replayed as/.test(document.querySelector('#d-replay-result').textContent));
      assert.match(await page.textContent('#d-replay-result'), /v1:edited-in-browser/);
      await page.click('#back');
      await page.waitForFunction(() => document.querySelectorAll('#list tbody tr').length === 4);
      assert.match(await page.textContent('#list tbody tr:first-child'), /\(replay\)/);
      await page.click('#list tbody tr:first-child');
      await page.waitForSelector('#detail:not([hidden])');
      assert.match(await page.textContent('#d-answer'), /v1:edited-in-browser/);
      assert.match(await page.textContent('#d-meta'), /replay of/);
    }));

  test('load time with 1,000 stored invocations', (t) =>
    shot('list-1000', async () => {
      const auth = { headers: { authorization: `Bearer ${ins.token}` } };
      const now = (await httpRequest(`${ins.base}/api/invocations`, auth)).json.count;
      await invokeMany(dev, 1000 - now, 20, 'load');
      const list = await waitFor(async () => {
        const r = await httpRequest(`${ins.base}/api/invocations`, auth);
        return r.json.count === 1000 ? r : null;
      }, 10000, '1,000 stored invocations');
      // A fresh tab (same cookie), so the first tab's live updates are not counted.
      await page.close();
      page = await context.newPage();
      const started = Date.now();
      await page.goto(ins.url);
      await page.waitForFunction(() => document.querySelectorAll('#list tbody tr').length === 1000);
      const ms = Date.now() - started;
      assert.ok(ms < 5000, `the list took ${ms} ms`);
      t.diagnostic(`page with 1,000 invocations: navigation to list rendered ${ms} ms; store ${list.json.bytes} bytes at 1,000 (default cap 1000 / 256 MB)`);
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: path.join(ARTIFACTS, 'list-1000-dark.png') });
    }, false));
});
