// API key authorization on connect, subscribe, WebSocket publish and HTTP
// publish; refused publishes deliver nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  apiKeyAuth,
  assertAllSuccessful,
  assertErrorMessage,
  connect,
  httpPublish,
  randomUUID,
  useBroker,
} from './lib/broker.mjs';

const KEY = 'da2-apikeytestkey000000000001';
const KEY2 = 'da2-apikeytestkey000000000002';
const WRONG = 'da2-notthekey0000000000000000';

describe('API key authorization', () => {
  const ctx = useBroker(['--api-key', KEY, '--api-key', KEY2]);

  test('the correct key connects, subscribes, publishes and receives (each configured key works)', async () => {
    const b = ctx.broker;
    const sub = await connect(b, { auth: apiKeyAuth(b, KEY) });
    const pub = await connect(b, { auth: apiKeyAuth(b, KEY2) });
    const ok = await sub.subscribe('/default/keys', apiKeyAuth(b, KEY2));
    assert.deepEqual(ok, { type: 'subscribe_success', id: ok.id });
    const result = await pub.publish('/default/keys', ['{"n":1}'], apiKeyAuth(b, KEY));
    assert.equal(result.type, 'publish_success');
    assertAllSuccessful(result, 1);
    assert.deepEqual(await sub.nextData(ok.id), { type: 'data', id: ok.id, event: '{"n":1}' });
    await sub.close();
    await pub.close();
  });

  test('a wrong key on connect gets connection_error UnauthorizedException, then the socket closes', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b, WRONG), init: false });
    const err = await client.next({ type: 'connection_error' });
    assertErrorMessage(err, 'connection_error', undefined, 'UnauthorizedException');
    const closed = await client.waitClosed();
    assert.equal(closed.code, 1000);

    // No auth at all is refused the same way.
    const none = await connect(b, { init: false });
    const err2 = await none.next({ type: 'connection_error' });
    assertErrorMessage(err2, 'connection_error', undefined, 'UnauthorizedException');
    await none.waitClosed();
  });

  test('a wrong key on subscribe gets subscribe_error UnauthorizedException', async () => {
    const b = ctx.broker;
    const client = await connect(b, { auth: apiKeyAuth(b) });
    const id = randomUUID();
    const err = await client.subscribe('/default/keys', apiKeyAuth(b, WRONG), id);
    assertErrorMessage(err, 'subscribe_error', id, 'UnauthorizedException');
    // A subscribe without an authorization object is refused too.
    const id2 = randomUUID();
    const err2 = await client.subscribe('/default/keys', undefined, id2);
    assertErrorMessage(err2, 'subscribe_error', id2, 'UnauthorizedException');
    // The connection stays usable and the refused id is free to reuse.
    const ok = await client.subscribe('/default/keys', apiKeyAuth(b), id);
    assert.deepEqual(ok, { type: 'subscribe_success', id });
    await client.close();
  });

  test('a wrong key on publish gets publish_error, and nothing is delivered', async () => {
    const b = ctx.broker;
    const sub = await connect(b, { auth: apiKeyAuth(b) });
    const s = await sub.subscribe('/default/refused', apiKeyAuth(b));
    assert.equal(s.type, 'subscribe_success');
    const pub = await connect(b, { auth: apiKeyAuth(b) });
    const id = randomUUID();
    const err = await pub.publish('/default/refused', ['"refused-ws"'], apiKeyAuth(b, WRONG), id);
    assertErrorMessage(err, 'publish_error', id, 'UnauthorizedException');
    const id2 = randomUUID();
    const err2 = await pub.publish('/default/refused', ['"refused-noauth"'], undefined, id2);
    assertErrorMessage(err2, 'publish_error', id2, 'UnauthorizedException');
    // The sentinel, published with the right key, must be the first delivery.
    await pub.publish('/default/refused', ['"sentinel"'], apiKeyAuth(b));
    assert.deepEqual(await sub.eventsUntil(s.id, '"sentinel"'), []);
    await sub.close();
    await pub.close();
  });

  test('a wrong key on HTTP publish gets 401 UnauthorizedException, and nothing is delivered', async () => {
    const b = ctx.broker;
    const sub = await connect(b, { auth: apiKeyAuth(b) });
    const s = await sub.subscribe('/default/refused-http', apiKeyAuth(b));
    const body = { channel: '/default/refused-http', events: ['"refused-http"'] };
    const res = await httpPublish(b, body, { 'x-api-key': WRONG });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(res.body, {
      errors: [{ errorType: 'UnauthorizedException', message: res.body.errors[0].message }],
    });
    const none = await httpPublish(b, body, {});
    assert.equal(none.status, 401);
    assert.equal(none.body.errors[0].errorType, 'UnauthorizedException');

    const good = await httpPublish(
      b,
      { channel: '/default/refused-http', events: ['"sentinel"'] },
      { 'x-api-key': KEY },
    );
    assert.equal(good.status, 200);
    assertAllSuccessful(good.body, 1);
    assert.deepEqual(await sub.eventsUntil(s.id, '"sentinel"'), []);
    await sub.close();
  });
});
