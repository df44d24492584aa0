// Hostile input harms only the sender (issue 11, item 4): the real broker,
// `tether lambda` and tether-bridge attacked as an adversary would, while
// honest clients keep working.
//
//   cd tests/integration && TETHER_BIN=$PWD/../../build/san/tether \
//     node --test --test-concurrency=1 hostile-services.test.mjs
//
// Everything listens on 127.0.0.1; every wait has a timeout; processes are
// stopped by after() hooks, temp folders removed at exit.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  TETHER_BIN,
  apiKeyAuth,
  connect,
  rawHttp,
  randomUUID,
  startBroker,
  withTimeout,
} from './lib/broker.mjs';
import { curl, nodeFunction, parseCurlResponse, startLambda, waitFor } from './lib/lambda.mjs';
import { BRIDGE_BIN, DevSide, PACKET_TYPES, newBridgeKey } from './lib/bridge.mjs';
import { tempDir as makeTempDir } from './lib/cloud.mjs';

const KEY = 'da2-hostiletestkey00000000001';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Temp folders go when the test process exits, however the tests went.
const tempDirs = [];
const tempDir = (prefix) => {
  tempDirs.push(makeTempDir(prefix));
  return tempDirs[tempDirs.length - 1];
};
process.on('exit', () => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** Resident memory of a process in KiB (VmRSS). */
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

/** The command line a local user sees in ps. */
function cmdline(pid) {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

/**
 * An attacker's socket: connects, optionally sends `first`, and records
 * when the server closed it and what it sent. Never throws.
 */
function attackSocket(port, first) {
  const s = { socket: net.connect(port, '127.0.0.1'), closedAt: null, received: '' };
  s.connected = new Promise((resolve) => s.socket.once('connect', resolve));
  s.closed = new Promise((resolve) =>
    s.socket.once('close', () => {
      s.closedAt = Date.now();
      resolve();
    }),
  );
  s.socket.on('data', (c) => {
    s.received += c.toString('latin1');
  });
  s.socket.on('error', () => {}); // resets are what the attacker gets
  if (first) s.socket.once('connect', () => s.socket.write(first));
  return s;
}

/** Honest traffic: a subscriber and a publisher that publishes every 100 ms. */
async function honestPair(broker, channel) {
  const sub = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
  const pub = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
  const s = await sub.subscribe(channel, apiKeyAuth(broker, KEY));
  assert.equal(s.type, 'subscribe_success');
  const pair = { sent: 0, delivered: 0, errors: [], running: true };
  const received = (async () => {
    while (pair.running || pair.delivered < pair.sent) {
      try {
        await sub.nextData(s.id, { timeoutMs: 3000 });
        pair.delivered++;
      } catch (err) {
        if (pair.running) pair.errors.push(`subscriber: ${err.message}`);
        return;
      }
    }
  })();
  const sending = (async () => {
    while (pair.running) {
      const r = await pub.publish(channel, [JSON.stringify({ n: pair.sent })], apiKeyAuth(broker, KEY));
      if (r.type === 'publish_success') pair.sent++;
      else pair.errors.push(`publish: ${JSON.stringify(r)}`);
      await sleep(100);
    }
  })();
  pair.stop = async () => {
    pair.running = false;
    await sending;
    await withTimeout(received, 5000, 'the last deliveries');
    await sub.close();
    await pub.close();
  };
  return pair;
}

describe('the broker: connections that never authenticate', () => {
  let broker;
  before(async () => {
    // The default deadline (10 s), so this attack runs the same on a broker
    // from before the deadline existed.
    broker = await startBroker(['--api-key-file', keyFile()]);
  });
  after(() => broker?.stop());

  test('200 idle and 20 slowloris connections are closed after the timeout; an honest pair carries on', { timeout: 60000 }, async () => {
    const pair = await honestPair(broker, '/default/honest');
    const started = Date.now();
    const idle = Array.from({ length: 200 }, () => attackSocket(broker.port));
    const slow = Array.from({ length: 20 }, () => attackSocket(broker.port, 'POST /event HTTP/1.1\r\nHo'));
    await Promise.all([...idle, ...slow].map((s) => s.connected));
    // Slowloris: one more header byte a second, forever.
    const drip = setInterval(() => {
      for (const s of slow) if (s.closedAt === null) s.socket.write('s');
    }, 1000);
    try {
      await withTimeout(
        Promise.all([...idle, ...slow].map((s) => s.closed)),
        15000,
        'the broker to close every unauthenticated connection',
      );
    } finally {
      clearInterval(drip);
    }
    for (const s of [...idle, ...slow]) {
      const after_ = s.closedAt - started;
      assert.ok(after_ >= 9000, `closed after ${after_} ms, before the 10 s timeout`);
    }
    for (const s of slow) assert.match(s.received, /^HTTP\/1\.1 408 /, s.received);
    const sentDuringAttack = pair.sent;
    await pair.stop();
    assert.deepEqual(pair.errors, []);
    assert.ok(sentDuringAttack >= 60, `only ${sentDuringAttack} publishes went through during the attack`);
    assert.equal(pair.delivered, pair.sent, 'every honest event was delivered');
    assert.ok(broker.alive);
  });

  test('a publish body from a stranger is refused before it is held: 40 x 1.2 MB, no RSS growth', async () => {
    const before_ = rssKiB(broker.child.pid);
    const head =
      `POST /event HTTP/1.1\r\nHost: ${broker.host}\r\nx-api-key: da2-wrong\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1250000\r\n\r\n';
    const body = Buffer.alloc(1200000, 'a');
    const attackers = Array.from({ length: 40 }, () => attackSocket(broker.port, Buffer.concat([Buffer.from(head), body])));
    // The WebSocket way: an upgrade without authorization, then 2 MB of frames.
    const upgrade =
      `GET /event/realtime HTTP/1.1\r\nHost: ${broker.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: aws-appsync-event-ws\r\n\r\n';
    const frame = Buffer.concat([Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4]), Buffer.alloc(2 * 1024 * 1024)]);
    attackers.push(attackSocket(broker.port, Buffer.concat([Buffer.from(upgrade), frame])));
    await withTimeout(Promise.all(attackers.map((s) => s.closed)), 6000, 'the broker to close the senders');
    const grown = rssKiB(broker.child.pid) - before_;
    assert.ok(grown < 16 * 1024, `the broker's RSS grew by ${grown} KiB`);
    for (const s of attackers.slice(0, 40)) assert.match(s.received, /^HTTP\/1\.1 401 /, s.received.slice(0, 200));
    assert.match(attackers[40].received, /UnauthorizedException/);
    // An honest publish still works.
    const pub = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
    const r = await pub.publish('/default/after', ['1'], apiKeyAuth(broker, KEY));
    assert.equal(r.type, 'publish_success');
    await pub.close();
  });
});

let keyFilePath;
function keyFile() {
  if (!keyFilePath) {
    keyFilePath = path.join(tempDir('tether-hostile-key-'), 'key');
    fs.writeFileSync(keyFilePath, `${KEY}\n`, { mode: 0o600 });
  }
  return keyFilePath;
}

describe('the broker: the cap on unauthenticated connections', () => {
  let broker;
  before(async () => {
    broker = await startBroker(['--api-key-file', keyFile(), '--max-unauthenticated', '20']);
  });
  after(() => broker?.stop());

  test('beyond the cap new idle connections are closed at once; authorized clients carry on', async () => {
    const sub = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
    const pub = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
    const s = await sub.subscribe('/default/capped', apiKeyAuth(broker, KEY));
    const held = Array.from({ length: 20 }, () => attackSocket(broker.port));
    await Promise.all(held.map((h) => h.connected));
    await sleep(200); // accepted by the broker
    const started = Date.now();
    const extra = Array.from({ length: 10 }, () => attackSocket(broker.port));
    await withTimeout(Promise.all(extra.map((e) => e.closed)), 2000, 'the extra connections to be refused');
    for (const e of extra) {
      assert.match(e.received, /^HTTP\/1\.1 503 /, e.received);
      assert.ok(e.closedAt - started < 1500);
    }
    assert.ok(held.every((h) => h.closedAt === null), 'connections under the cap stay until their timeout');
    const r = await pub.publish('/default/capped', ['"still here"'], apiKeyAuth(broker, KEY));
    assert.equal(r.type, 'publish_success');
    assert.deepEqual(await sub.nextData(s.id), { type: 'data', id: s.id, event: '"still here"' });
    for (const h of held) h.socket.destroy();
    await sub.close();
    await pub.close();
  });
});

describe('Host checks against DNS rebinding', () => {
  let broker;
  let lambda;
  before(async () => {
    broker = await startBroker(['--api-key-file', keyFile()]);
    const dir = tempDir('tether-hostile-lambda-');
    fs.writeFileSync(
      path.join(dir, 'index.mjs'),
      `export const handler = async (event) => {
         if (event.rawPath === '/inject') {
           return { statusCode: 200, headers: { 'x-ok': 'a\\r\\nX-Injected: yes' }, body: 'split' };
         }
         return { statusCode: 200, headers: { 'x-ok': 'fine' }, body: 'hello' };
       };\n`,
    );
    lambda = await startLambda(dir, { functions: [nodeFunction('web', 'index.handler', { url: true, timeout: 10 })] });
  });
  after(async () => {
    await lambda?.stop();
    await broker?.stop();
  });

  const publishWithHost = (host) => {
    const body = '{"channel":"/default/h","events":["1"]}';
    return rawHttp(
      broker,
      `POST /event HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${KEY}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  test('the broker refuses Host: evil.example (403) and takes localhost:PORT and 127.0.0.1:PORT', async () => {
    const evil = await publishWithHost('evil.example');
    assert.equal(evil.status, 403, evil.text);
    assert.match(evil.text, /not this server/);
    const evilPort = await publishWithHost(`evil.example:${broker.port}`);
    assert.equal(evilPort.status, 403, evilPort.text);
    for (const host of [`localhost:${broker.port}`, `127.0.0.1:${broker.port}`, 'localhost']) {
      const ok = await publishWithHost(host);
      assert.equal(ok.status, 200, `${host}: ${ok.text}`);
    }
    // The WebSocket upgrade too.
    await assert.rejects(
      connect(broker, { auth: apiKeyAuth(broker, KEY), headers: { Host: 'evil.example' } }),
      (err) => err.statusCode === 403,
    );
  });

  test('the local Lambda service refuses Host: evil.example on the Invoke API and function URLs', async () => {
    const port = lambda.port;
    const invoke = ['-i', '-X', 'POST', '--data', '{}', `http://127.0.0.1:${port}/2015-03-31/functions/web/invocations`];
    const evil = parseCurlResponse((await curl(['-H', 'Host: evil.example', ...invoke])).stdout);
    assert.equal(evil.status, 403);
    const evilUrl = parseCurlResponse((await curl(['-i', '-H', 'Host: evil.example', lambda.url('web', 'x')])).stdout);
    assert.equal(evilUrl.status, 403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const ok = parseCurlResponse((await curl(['-H', `Host: ${host}`, ...invoke])).stdout);
      assert.equal(ok.status, 200, host);
    }
  });

  test("a handler's URL response headers with CRLF do not split the answer (502)", async () => {
    const raw = (await curl(['-i', lambda.url('web', 'inject')])).stdout;
    const res = parseCurlResponse(raw);
    assert.equal(res.status, 502, raw.toString('latin1'));
    assert.ok(!res.headers.some(([name]) => name === 'x-injected'), raw.toString('latin1'));
    const fine = parseCurlResponse((await curl(['-i', lambda.url('web', 'ok')])).stdout);
    assert.equal(fine.status, 200);
    assert.deepEqual(fine.headers.find(([name]) => name === 'x-ok'), ['x-ok', 'fine']);
  });

  test('tether lambda will not listen off loopback without --allow-remote', () => {
    const dir = tempDir('tether-hostile-remote-');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ functions: [] }));
    const r = spawnSync(TETHER_BIN, ['lambda', '--config', path.join(dir, 'config.json'), '--listen', '0.0.0.0:0'], {
      encoding: 'utf8',
      timeout: 10000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--allow-remote/);
  });
});

describe("the bridge: a dev error name with CRLF does not split the Runtime API request", () => {
  let broker;
  let runtime;
  let bridge;
  let dev;
  const posted = [];
  before(async () => {
    broker = await startBroker(['--api-key-file', keyFile()]);
    // A Runtime API that hands out one invocation and records the raw head
    // of what the bridge posts back.
    let served = false;
    runtime = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.url.endsWith('/invocation/next')) {
          if (served) return; // the next one never comes
          served = true;
          res.writeHead(200, {
            'Lambda-Runtime-Aws-Request-Id': 'req-crlf-1',
            'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30000),
            'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:crlf',
            'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000',
            'Content-Type': 'application/json',
          });
          res.end('{"devMode":"evil"}'); // not an echo: EvilDev.run answers
          return;
        }
        posted.push({ url: req.url, rawHeaders: req.rawHeaders, body });
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"OK"}');
      });
    });
    await new Promise((resolve) => runtime.listen(0, '127.0.0.1', resolve));
    // A dev side whose handler throws an error whose name carries CRLF.
    class EvilDev extends DevSide {
      async run(worker, requestId) {
        const err = { errorType: 'Evil\r\nX-Injected: yes', errorMessage: 'split', stackTrace: [] };
        this.answer(worker, requestId, PACKET_TYPES.Error, Buffer.from(JSON.stringify(err)));
      }
    }
    // The dev side holds the bridge key: the attack is a handler's output, not the channel.
    const bridgeKey = newBridgeKey();
    dev = new EvilDev({ realtimeUrl: broker.realtimeUrl, host: broker.host, apiKey: KEY, app: 'crlf', stage: 'one', key: bridgeKey });
    await dev.start();
    bridge = spawn(BRIDGE_BIN, [], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${runtime.address().port}`,
        AWS_LAMBDA_FUNCTION_NAME: 'crlf',
        TETHER_EVENTS_HTTP: broker.httpUrl,
        TETHER_EVENTS_API_KEY: KEY,
        TETHER_APP: 'crlf',
        TETHER_STAGE: 'one',
        TETHER_BRIDGE_KEY: bridgeKey,
      },
    });
    bridge.stderr.resume();
    bridge.stdout.resume();
  });
  after(async () => {
    bridge?.kill('SIGKILL');
    dev?.stop();
    runtime?.close();
    await broker?.stop();
  });

  test('the error reaches the Runtime API as one cleaned header, nothing injected', async () => {
    await waitFor(() => posted.some((p) => p.url.endsWith('/error')), 15000, 'the bridge to post the error');
    const error = posted.find((p) => p.url.endsWith('/error'));
    const names = error.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.ok(!names.includes('x-injected'), JSON.stringify(error.rawHeaders));
    const i = names.indexOf('lambda-runtime-function-error-type');
    assert.ok(i >= 0, JSON.stringify(error.rawHeaders));
    assert.equal(error.rawHeaders[2 * i + 1], 'EvilX-Injected: yes');
    assert.equal(JSON.parse(error.body).errorType, 'Evil\r\nX-Injected: yes'); // the body keeps it, escaped
  });
});

describe('secrets stay off the command line', () => {
  let broker;
  before(async () => {
    // The broker takes its key from TETHER_API_KEY.
    broker = await startBroker([], { env: { TETHER_API_KEY: KEY } });
  });
  after(() => broker?.stop());

  test('the broker accepts TETHER_API_KEY and ps does not show it', async () => {
    assert.ok(!cmdline(broker.child.pid).includes(KEY));
    assert.equal(broker.info.apiKey, undefined, 'no key is generated when one is given');
    const c = await connect(broker, { auth: apiKeyAuth(broker, KEY) });
    await c.close();
  });

  test('subscribe --api-key-file and publish with TETHER_API_KEY work; ps shows neither key', async () => {
    const channel = `/default/secret-${randomUUID().slice(0, 8)}`;
    const sub = spawn(TETHER_BIN, ['subscribe', '--endpoint', broker.httpUrl, '--api-key-file', keyFile(), '--count', '1', channel], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TETHER_API_KEY: '' },
    });
    let out = '';
    let err = '';
    sub.stdout.on('data', (c) => {
      out += c;
    });
    sub.stderr.on('data', (c) => {
      err += c;
    });
    const exited = new Promise((resolve) => sub.once('exit', resolve));
    await waitFor(() => /subscribed/.test(err), 10000, 'tether subscribe to subscribe');
    assert.ok(!cmdline(sub.pid).includes(KEY), cmdline(sub.pid));
    assert.doesNotMatch(err, /warning/);
    const pub = spawnSync(TETHER_BIN, ['publish', '--endpoint', broker.httpUrl, channel, '{"secret":"kept"}'], {
      encoding: 'utf8',
      env: { ...process.env, TETHER_API_KEY: KEY },
      timeout: 15000,
    });
    assert.equal(pub.status, 0, pub.stderr);
    assert.doesNotMatch(pub.stderr, /warning/);
    assert.equal(await withTimeout(exited, 10000, 'tether subscribe to exit'), 0, err);
    assert.match(out, /"secret":"kept"/);
  });

  test('--api-key still works but warns that ps shows it', () => {
    const r = spawnSync(TETHER_BIN, ['publish', '--endpoint', broker.httpUrl, '--api-key', KEY, '/default/x', '1'], {
      encoding: 'utf8',
      timeout: 15000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: --api-key .*\(ps\)/);
  });

  test('a key file others may read is warned about', () => {
    const file = path.join(tempDir('tether-hostile-open-'), 'key');
    fs.writeFileSync(file, `# a comment\n${KEY}\n`, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const r = spawnSync(TETHER_BIN, ['publish', '--endpoint', broker.httpUrl, '--api-key-file', file, '/default/x', '1'], {
      encoding: 'utf8',
      timeout: 15000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /other users may read it/);
  });
});
