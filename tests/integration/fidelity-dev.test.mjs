// tether dev next to Lambda (issue 13, item 6): Lambda always sends a trace
// id, so a local worker must never get an empty Lambda-Runtime-Trace-Id,
// even when the relayed invocation came without one. Real binaries: tether
// broker, tether-bridge (served by a Runtime API that leaves the trace id
// out), tether dev in remote mode, and a local custom runtime that reports
// the headers its /next carried.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { BRIDGE_BIN, TETHER_BIN, makeProject, startBroker, startDev, waitFor } from './lib/dev.mjs';

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
  let broker;
  let runtime;
  let bridge;
  let dev;
  const posted = [];

  before(async () => {
    broker = await startBroker(['--api-key', KEY]);
    const dir = makeProject({
      files: {
        'tether.json': {
          app: APP,
          stage: STAGE,
          events: { http: broker.info.http, apiKey: KEY },
          functions: { Trace: { runtime: 'provided.al2023', bootstrap: 'bootstrap', handler: 'trace' } },
        },
        bootstrap: '#!/bin/sh\nexec node runtime.mjs\n',
        'runtime.mjs': RUNTIME,
      },
    });
    fs.chmodSync(path.join(dir, 'bootstrap'), 0o755);
    const made = spawnSync(TETHER_BIN, ['bridge', 'key', '--print'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    assert.equal(made.status, 0, made.stderr);
    dev = await startDev(dir);

    // Lambda's Runtime API as the bridge sees it, but with no trace id.
    let served = false;
    runtime = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.url.endsWith('/invocation/next')) {
          if (served) return; // one invocation only
          served = true;
          res.writeHead(200, {
            'Lambda-Runtime-Aws-Request-Id': 'req-no-trace-1',
            'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30000),
            'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:Trace',
            'Content-Type': 'application/json',
          });
          res.end('{"hello":"trace"}');
          return;
        }
        posted.push({ url: req.url, body });
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"OK"}');
      });
    });
    await new Promise((resolve) => runtime.listen(0, '127.0.0.1', resolve));
    bridge = spawn(BRIDGE_BIN, [], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env.PATH,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${runtime.address().port}`,
        AWS_LAMBDA_FUNCTION_NAME: 'Trace',
        TETHER_EVENTS_HTTP: broker.info.http,
        TETHER_EVENTS_API_KEY: KEY,
        TETHER_APP: APP,
        TETHER_STAGE: STAGE,
        TETHER_FUNCTION_ID: 'Trace',
        TETHER_BRIDGE_KEY: made.stdout.trim(),
      },
    });
    bridge.stderr.resume();
  });

  after(async () => {
    bridge?.kill('SIGKILL');
    await dev?.stop();
    runtime?.close();
    await broker?.stop();
  });

  test('the local worker gets a trace id, not an empty one', { timeout: 60000 }, async () => {
    await waitFor(() => posted.some((p) => p.url.endsWith('/response')), 30000, 'the bridge to post the answer');
    const answer = JSON.parse(posted.find((p) => p.url.endsWith('/response')).body);
    assert.notEqual(answer.trace, '', 'an empty Lambda-Runtime-Trace-Id reached the worker');
    assert.match(answer.trace, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
  });
});
