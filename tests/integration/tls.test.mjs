// TLS: a self-signed certificate for 127.0.0.1/localhost made with the
// openssl CLI; wss:// realtime and https:// publish round trip.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import {
  apiKeyAuth,
  assertAllSuccessful,
  closeAllClients,
  connect,
  startBroker,
  withTimeout,
} from './lib/broker.mjs';

const KEY = 'da2-tlstestkey000000000000001';

function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8', timeout: 30000 },
  );
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  return { cert, key, ca: fs.readFileSync(cert) };
}

/** POST with node:https, trusting `ca`. */
function httpsPost(url, body, headers, ca) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'POST', headers, ca }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, text, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    }),
    5000,
    'the HTTPS response',
  );
}

describe('TLS', () => {
  let dir;
  let tls;
  let broker;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-tls-'));
    tls = makeCertificate(dir);
    broker = await startBroker(['--api-key', KEY, '--tls-cert', tls.cert, '--tls-key', tls.key]);
  });

  after(async () => {
    await closeAllClients();
    try {
      await broker?.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the listening line names https:// and wss:// endpoints', () => {
    assert.equal(broker.info.http, `https://127.0.0.1:${broker.port}/event`);
    assert.equal(broker.info.realtime, `wss://127.0.0.1:${broker.port}/event/realtime`);
  });

  test('wss:// subscribe and publish, https:// publish: a full round trip', async () => {
    const auth = apiKeyAuth(broker, KEY);
    const sub = await connect(broker, { auth, ca: tls.ca });
    assert.equal(sub.ws.protocol, 'aws-appsync-event-ws');
    const s = await sub.subscribe('/default/tls', auth);
    assert.deepEqual(s, { type: 'subscribe_success', id: s.id });

    const pub = await connect(broker, { auth, ca: tls.ca });
    const r = await pub.publish('/default/tls', ['{"over":"wss"}'], auth);
    assertAllSuccessful(r, 1);
    assert.deepEqual(await sub.nextData(s.id), { type: 'data', id: s.id, event: '{"over":"wss"}' });

    const body = JSON.stringify({ channel: '/default/tls', events: ['{"over":"https"}'] });
    const h = await httpsPost(
      broker.httpUrl,
      body,
      { 'content-type': 'application/json', 'x-api-key': KEY },
      tls.ca,
    );
    assert.equal(h.status, 200, h.text);
    assertAllSuccessful(h.body, 1);
    assert.deepEqual(await sub.nextData(s.id), { type: 'data', id: s.id, event: '{"over":"https"}' });

    // A large event survives TLS record splitting.
    const big = JSON.stringify({ big: 'b'.repeat(200 * 1024) });
    assertAllSuccessful(await pub.publish('/default/tls', [big], auth), 1);
    assert.equal((await sub.nextData(s.id)).event, big);
    await sub.close();
    await pub.close();
  });

  test('a client that does not trust the certificate fails the handshake; the broker keeps serving', async () => {
    const auth = apiKeyAuth(broker, KEY);
    await assert.rejects(connect(broker, { auth }), /self[- ]signed|certificate/i);
    // Plain HTTP on the TLS port is not answered as HTTP.
    const plain = await fetch(`http://${broker.host}/event`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(5000),
    }).then(
      (res) => res.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
    const ok = await connect(broker, { auth, ca: tls.ca });
    await ok.close();
  });
});
