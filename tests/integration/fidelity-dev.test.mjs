// tether dev next to Lambda (issue 13, item 6): Lambda always sends a trace
// id, so a local worker must never get an empty Lambda-Runtime-Trace-Id,
// even when the relayed invocation came without one. Real binaries: tether
// broker, tether-bridge (served by a Runtime API that leaves the trace id
// out), tether dev in remote mode, and a local custom runtime that reports
// the headers its /next carried.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { TETHER_BIN, makeProject, startBroker, startDev, waitFor } from './lib/dev.mjs';
import { serveInvocations, spawnBridge } from './lib/runtime-api-stub.mjs';

const KEY = 'da2-fidelitydevtestkey0000001';
const APP = 'fidelity';
const STAGE = 'trace';

// The local worker: one /next, answered with the trace header it saw.
const RUNTIME = `
import http from 'node:http';
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const call = (method, path, body) => new Promise((resolve, reject) => {
  const req = http.request({ host, port, method, path: '/2018-06-01/runtime' + path }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
  });
  req.on('error', reject);
  req.end(body);
});
for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  const trace = next.headers['lambda-runtime-trace-id'];
  await call('POST', '/invocation/' + id + '/response', JSON.stringify({ trace: trace === undefined ? null : trace }));
}
`;

describe('tether dev: a relayed invocation without a trace id', () => {
  const state = {};

  before(async () => {
    state.broker = await startBroker(['--api-key', KEY]);
    const dir = makeProject({
      files: {
        'tether.json': {
          app: APP,
          stage: STAGE,
          events: { http: state.broker.info.http, apiKey: KEY },
          functions: { Trace: { runtime: 'provided.al2023', bootstrap: 'bootstrap', handler: 'trace' } },
        },
        bootstrap: '#!/bin/sh\nexec node runtime.mjs\n',
        'runtime.mjs': RUNTIME,
      },
    });
    fs.chmodSync(path.join(dir, 'bootstrap'), 0o755);
    const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    assert.equal(made.status, 0, made.stderr);
    state.dev = await startDev(dir);
    // Lambda's Runtime API as the bridge sees it, but with no trace id.
    state.runtime = await serveInvocations([{
      headers: {
        'Lambda-Runtime-Aws-Request-Id': 'req-no-trace-1',
        'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30000),
        'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:Trace',
      },
      body: '{"hello":"trace"}',
    }]);
    state.bridge = spawnBridge({
      runtimeApi: state.runtime.address,
      name: 'Trace',
      eventsHttp: state.broker.info.http,
      apiKey: KEY,
      app: APP,
      stage: STAGE,
      bridgeKey: made.stdout.trim(),
    });
  });

  after(async () => {
    state.bridge?.kill('SIGKILL');
    await state.dev?.stop();
    state.runtime?.close();
    await state.broker?.stop();
  });

  test('the local worker gets a trace id, not an empty one', { timeout: 60000 }, async () => {
    const answered = () => state.runtime.posted.find((p) => p.url.endsWith('/response'));
    await waitFor(answered, 30000, 'the bridge to post the answer');
    const answer = JSON.parse(answered().body);
    assert.notEqual(answer.trace, '', 'an empty Lambda-Runtime-Trace-Id reached the worker');
    assert.match(answer.trace, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
  });
});
