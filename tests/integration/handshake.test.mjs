// The realtime handshake: subprotocols, connection_init/ack, keep-alives and
// auth headers on the upgrade request.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  SUBPROTOCOL,
  apiKeyAuth,
  connect,
  headerProtocol,
  useBroker,
  withTimeout,
} from './lib/broker.mjs';

const KEY = 'da2-handshaketestkey0000000001';

describe('handshake', () => {
  const ctx = useBroker(['--api-key', KEY, '--keepalive-ms', '200']);

  test('the server answers the aws-appsync-event-ws subprotocol', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b), init: false });
    assert.equal(client.ws.protocol, SUBPROTOCOL);
    await client.close();
  });

  test('an upgrade without the aws-appsync-event-ws subprotocol gets HTTP 400', async () => {
    const b = ctx.broker;
    await assert.rejects(connect(b, { protocols: [], init: false }), (err) => {
      assert.equal(err.statusCode, 400);
      assert.equal(JSON.parse(err.body).errors[0].errorType, 'BadRequestException');
      return true;
    });
    // Only the header- protocol, no aws-appsync-event-ws.
    await assert.rejects(
      connect(b, { protocols: [headerProtocol(apiKeyAuth(b))], init: false }),
      (err) => err.statusCode === 400,
    );
  });

  test('connection_init is answered with connection_ack carrying connectionTimeoutMs 300000', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b), init: false });
    client.send({ type: 'connection_init' });
    const ack = await client.next({ type: 'connection_ack' });
    assert.deepEqual(ack, {
      type: 'connection_ack',
      connectionTimeoutMs: 300000,
      payload: { connectionTimeoutMs: 300000 },
    });
    await client.close();
  });

  test('keep-alives arrive at the configured interval', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b) });
    const first = await client.next({ type: 'ka' }, { timeoutMs: 3000 });
    assert.deepEqual(first, { type: 'ka' });
    const second = await client.next({ type: 'ka' }, { timeoutMs: 3000 });
    assert.deepEqual(second, { type: 'ka' });
    await client.close();
  });

  test('auth headers on the upgrade request work instead of the header- subprotocol', async () => {
    const b = ctx.broker;
    const client = await connect(b, {
      protocols: [SUBPROTOCOL],
      headers: { 'x-api-key': KEY },
    });
    assert.equal(client.ws.protocol, SUBPROTOCOL);
    const sub = await client.subscribe('/default/handshake', apiKeyAuth(b));
    assert.equal(sub.type, 'subscribe_success');
    const pub = await client.publish('/default/handshake', ['{"via":"headers"}'], apiKeyAuth(b));
    assert.equal(pub.type, 'publish_success');
    const data = await client.nextData(sub.id);
    assert.deepEqual(data, { type: 'data', id: sub.id, event: '{"via":"headers"}' });

    // A wrong key in the upgrade headers is refused like a wrong subprotocol key.
    const bad = await connect(b, {
      protocols: [SUBPROTOCOL],
      headers: { 'x-api-key': 'da2-wrong' },
      init: false,
    });
    const err = await bad.next({ type: 'connection_error' });
    assert.equal(err.errors[0].errorType, 'UnauthorizedException');
    await bad.waitClosed();
    await client.close();
  });

  test('a plain GET on the realtime path (no upgrade) is refused', async () => {
    const b = ctx.broker;
    const res = await fetch(b.realtimeUrl.replace('ws://', 'http://'), {
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 426);
    await res.text();
  });

  test('WebSocket mechanics: ping gets pong, fragmented messages are reassembled, close is echoed', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b) });
    const pong = new Promise((resolve) => client.ws.once('pong', (d) => resolve(d.toString())));
    client.ws.ping('tether');
    assert.equal(await withTimeout(pong, 5000, 'pong'), 'tether');

    const text = JSON.stringify({ type: 'subscribe', id: 'frag', channel: '/default/frag', authorization: apiKeyAuth(b) });
    client.ws.send(text.slice(0, 10), { fin: false });
    client.ws.send(text.slice(10, 40), { fin: false });
    client.ws.send(text.slice(40), { fin: true });
    assert.deepEqual(await client.next({ id: 'frag' }), { type: 'subscribe_success', id: 'frag' });

    client.ws.close(1000, 'bye');
    const closed = await client.waitClosed();
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'bye');
  });
});
