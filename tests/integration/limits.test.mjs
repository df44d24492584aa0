// Validation, limits and error handling: channels, namespaces, ids,
// subscription and event limits, malformed messages and frames, oversized
// messages, and HTTP errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  apiKeyAuth,
  assertAllSuccessful,
  assertErrorMessage,
  connect,
  httpPublish,
  randomUUID,
  rawHttp,
  UUID_RE,
  useBroker,
} from './lib/broker.mjs';

const KEY = 'da2-limitstestkey00000000001';

const INVALID_CHANNELS = {
  'empty channel': '',
  'only a slash': '/',
  'empty segment': '/default//a',
  'trailing slash (empty last segment)': '/default/a/',
  '6 segments': '/default/a/b/c/d/e',
  '51-character segment': `/default/${'a'.repeat(51)}`,
  'bad character (_)': '/default/a_b',
  'bad character (.)': '/default/a.b',
  'bad character (space)': '/default/a b',
  'non-ASCII character': '/default/é',
  'segment starting with -': '/default/-a',
  'segment ending with -': '/default/a-',
  'wildcard in the middle': '/default/*/a',
  'wildcard as the namespace': '/*',
  'partial wildcard segment': '/default/a*',
};

describe('limits and errors', () => {
  const ctx = useBroker(['--api-key', KEY]);
  const auth = () => apiKeyAuth(ctx.broker, KEY);
  const open = () => connect(ctx.broker, { auth: auth() });

  test('valid edge-case channels are accepted (5 segments, 50-character segments, inner -)', async () => {
    const c = await open();
    for (const ch of [`/default/${'b'.repeat(50)}`, '/default/a/b/c/d', 'default/a-b/C9', '/default/a/b/c/*']) {
      const s = await c.subscribe(ch, auth());
      assert.deepEqual(s, { type: 'subscribe_success', id: s.id }, ch);
    }
    await c.close();
  });

  test('invalid channels are refused on subscribe, WS publish and HTTP publish', async () => {
    const c = await open();
    for (const [name, channel] of Object.entries(INVALID_CHANNELS)) {
      const sid = randomUUID();
      assertErrorMessage(await c.subscribe(channel, auth(), sid), 'subscribe_error', sid, 'BadRequestException');
      const pid = randomUUID();
      assertErrorMessage(await c.publish(channel, ['1'], auth(), pid), 'publish_error', pid, 'BadRequestException');
      const h = await httpPublish(ctx.broker, { channel, events: ['1'] }, { 'x-api-key': KEY });
      assert.equal(h.status, 400, `${name}: ${h.text}`);
      assert.equal(h.body.errors[0].errorType, 'BadRequestException', name);
    }
    // A wildcard is fine for subscribe but not for publish.
    const pid = randomUUID();
    assertErrorMessage(await c.publish('/default/*', ['1'], auth(), pid), 'publish_error', pid, 'BadRequestException');
    const h = await httpPublish(ctx.broker, { channel: '/default/*', events: ['1'] }, { 'x-api-key': KEY });
    assert.equal(h.status, 400);
    // A missing or non-string channel.
    const sid = randomUUID();
    c.send({ type: 'subscribe', id: sid, authorization: auth() });
    assertErrorMessage(await c.next({ id: sid }), 'subscribe_error', sid, 'BadRequestException');
    const sid2 = randomUUID();
    c.send({ type: 'subscribe', id: sid2, channel: 42, authorization: auth() });
    assertErrorMessage(await c.next({ id: sid2 }), 'subscribe_error', sid2, 'BadRequestException');
    assert.ok(c.isOpen);
    await c.close();
  });

  test('an unknown namespace gets NotFoundException (subscribe, WS publish, HTTP 404)', async () => {
    const c = await open();
    const sid = randomUUID();
    assertErrorMessage(await c.subscribe('/nosuchns/a', auth(), sid), 'subscribe_error', sid, 'NotFoundException');
    const sid2 = randomUUID();
    assertErrorMessage(await c.subscribe('/nosuchns/*', auth(), sid2), 'subscribe_error', sid2, 'NotFoundException');
    const pid = randomUUID();
    assertErrorMessage(await c.publish('/nosuchns/a', ['1'], auth(), pid), 'publish_error', pid, 'NotFoundException');
    // Namespaces are case-sensitive, and a prefix of a namespace is not one.
    const pid2 = randomUUID();
    assertErrorMessage(await c.publish('/Default/a', ['1'], auth(), pid2), 'publish_error', pid2, 'NotFoundException');
    const pid3 = randomUUID();
    assertErrorMessage(await c.publish('/def/a', ['1'], auth(), pid3), 'publish_error', pid3, 'NotFoundException');
    const h = await httpPublish(ctx.broker, { channel: '/nosuchns/a', events: ['1'] }, { 'x-api-key': KEY });
    assert.equal(h.status, 404);
    assert.deepEqual(h.body, { errors: [{ errorType: 'NotFoundException', message: h.body.errors[0].message }] });
    await c.close();
  });

  test('a duplicate subscription id gets subscribe_error DuplicatedOperationError', async () => {
    const c = await open();
    const id = 'dup-id_1+x';
    assert.deepEqual(await c.subscribe('/default/dup', auth(), id), { type: 'subscribe_success', id });
    assertErrorMessage(await c.subscribe('/default/other', auth(), id), 'subscribe_error', id, 'DuplicatedOperationError');
    // Ids are per connection: another connection may use the same id.
    const d = await open();
    assert.deepEqual(await d.subscribe('/default/dup', auth(), id), { type: 'subscribe_success', id });
    // The original subscription still works (and only once).
    await c.publish('/default/dup', ['"x"'], auth());
    assert.deepEqual(await c.nextData(id), { type: 'data', id, event: '"x"' });
    await c.publish('/default/dup', ['"sentinel"'], auth());
    assert.deepEqual(await c.eventsUntil(id, '"sentinel"'), []);
    await c.close();
    await d.close();
  });

  test('the 201st subscription gets subscribe_error MaxSubscriptionsReachedError', async () => {
    const c = await open();
    const ids = Array.from({ length: 200 }, (_, i) => `max-${i}`);
    for (const id of ids) c.send({ type: 'subscribe', id, channel: `/default/max/${id}`, authorization: auth() });
    for (const id of ids) {
      assert.deepEqual(await c.next({ id }), { type: 'subscribe_success', id });
    }
    assertErrorMessage(await c.subscribe('/default/max/one-more', auth(), 'max-200'), 'subscribe_error', 'max-200', 'MaxSubscriptionsReachedError');
    // After an unsubscribe there is room again.
    assert.equal((await c.unsubscribe('max-0')).type, 'unsubscribe_success');
    assert.deepEqual(await c.subscribe('/default/max/one-more', auth(), 'max-200'), { type: 'subscribe_success', id: 'max-200' });
    await c.close();
  });

  test('bad ids (129 characters, bad characters, empty, missing) are refused', async () => {
    const c = await open();
    const ok128 = 'a'.repeat(128);
    assert.deepEqual(await c.subscribe('/default/ids', auth(), ok128), { type: 'subscribe_success', id: ok128 });
    for (const bad of ['a'.repeat(129), 'has space', 'dot.id', 'slash/id', 'é', '']) {
      c.send({ type: 'subscribe', id: bad, channel: '/default/ids', authorization: auth() });
      const e = await c.next({ type: 'subscribe_error' });
      assertErrorMessage(e, 'subscribe_error', undefined, 'BadRequestException');
      c.send({ type: 'publish', id: bad, channel: '/default/ids', events: ['1'], authorization: auth() });
      const p = await c.next({ type: 'publish_error' });
      assertErrorMessage(p, 'publish_error', undefined, 'BadRequestException');
      c.send({ type: 'unsubscribe', id: bad });
      const u = await c.next({ type: 'unsubscribe_error' });
      assertErrorMessage(u, 'unsubscribe_error', undefined, 'BadRequestException');
    }
    c.send({ type: 'subscribe', channel: '/default/ids', authorization: auth() });
    assertErrorMessage(await c.next({ type: 'subscribe_error' }), 'subscribe_error', undefined, 'BadRequestException');
    c.send({ type: 'subscribe', id: 12, channel: '/default/ids', authorization: auth() });
    assertErrorMessage(await c.next({ type: 'subscribe_error' }), 'subscribe_error', undefined, 'BadRequestException');
    assert.ok(c.isOpen);
    await c.close();
  });

  test('a publish with 0 or 6 events, or events that are not strings, gets publish_error', async () => {
    const c = await open();
    const cases = [
      ['six events', ['1', '2', '3', '4', '5', '6']],
      ['no events', []],
      ['events not an array', '1'],
      ['an event that is not a string', ['1', 2]],
      ['events missing', undefined],
    ];
    for (const [name, events] of cases) {
      const id = randomUUID();
      const msg = await c.publish('/default/n', events, auth(), id);
      assertErrorMessage(msg, 'publish_error', id, 'BadRequestException');
      const h = await httpPublish(ctx.broker, { channel: '/default/n', events }, { 'x-api-key': KEY });
      assert.equal(h.status, 400, name);
      assert.equal(h.body.errors[0].errorType, 'BadRequestException', name);
    }
    await c.close();
  });

  test('an event over 240 KB and a non-JSON event are listed in "failed" and not delivered', async () => {
    const c = await open();
    const s = await c.subscribe('/default/failed', auth());
    const big = JSON.stringify('x'.repeat(240 * 1024)); // 245762 bytes > 240 KB
    const limit = JSON.stringify('y'.repeat(240 * 1024 - 2)); // exactly 240 KB: allowed
    const events = ['"ok-0"', big, 'not json{', '"ok-3"', limit];
    const id = randomUUID();
    const r = await c.publish('/default/failed', events, auth(), id);
    assert.equal(r.type, 'publish_success');
    assert.equal(r.id, id);
    assert.deepEqual(r.successful.map((x) => x.index), [0, 3, 4]);
    for (const x of r.successful) {
      assert.deepEqual(Object.keys(x).sort(), ['identifier', 'index']);
      assert.match(x.identifier, UUID_RE);
    }
    assert.equal(r.failed.length, 2);
    assert.deepEqual(r.failed.map((x) => x.index), [1, 2]);
    for (const x of r.failed) {
      assert.deepEqual(Object.keys(x).sort(), ['code', 'identifier', 'index', 'message']);
      assert.match(x.identifier, UUID_RE);
      assert.equal(typeof x.message, 'string');
    }
    assert.equal(r.failed[0].code, 'PayloadTooLargeException');
    assert.equal(r.failed[1].code, 'BadRequestException');
    assert.equal((await c.nextData(s.id)).event, '"ok-0"');
    assert.equal((await c.nextData(s.id)).event, '"ok-3"');
    assert.equal((await c.nextData(s.id)).event, limit);

    // The same over HTTP.
    const h = await httpPublish(ctx.broker, { channel: '/default/failed', events: [big, '"ok-h"', '{'] }, { 'x-api-key': KEY });
    assert.equal(h.status, 200);
    assert.deepEqual(h.body.successful.map((x) => x.index), [1]);
    assert.deepEqual(h.body.failed.map((x) => [x.index, x.code]), [[0, 'PayloadTooLargeException'], [2, 'BadRequestException']]);
    assert.equal((await c.nextData(s.id)).event, '"ok-h"');

    await c.publish('/default/failed', ['"sentinel"'], auth());
    assert.deepEqual(await c.eventsUntil(s.id, '"sentinel"'), []);
    await c.close();
  });

  test('a publish over 1.2 MB in total gets publish_error PayloadTooLargeException', async () => {
    const c = await open();
    // 5 events of 240 KB each = 1.2 MB; one byte more is too much.
    const e = JSON.stringify('z'.repeat(240 * 1024 - 2));
    const okEvents = [e, e, e, e, e];
    const ok = await c.publish('/default/total', okEvents, auth());
    assertAllSuccessful(ok, 5);
    // 5 events of 241 KB add up to more than 1.2 MB (but the message is
    // still under the WebSocket message limit): refused as a whole.
    const big = JSON.stringify('z'.repeat(241 * 1024));
    const id = randomUUID();
    const r = await c.publish('/default/total', [big, big, big, big, big], auth(), id);
    assertErrorMessage(r, 'publish_error', id, 'PayloadTooLargeException');
    const h = await httpPublish(ctx.broker, { channel: '/default/total', events: [big, big, big, big, big] }, { 'x-api-key': KEY });
    assert.equal(h.status, 413);
    assert.equal(h.body.errors[0].errorType, 'PayloadTooLargeException');
    await c.close();
  });

  test('a malformed JSON message gets {"type":"error"} and the connection stays usable', async () => {
    const c = await open();
    for (const bad of ['{not json', '[1,2]', '"str"', '{"no":"type"}', '{"type":42}', '{"type":"subscribe","type":"x"}']) {
      c.send(bad);
      const e = await c.next({ type: 'error' });
      assertErrorMessage(e, 'error', undefined, 'BadRequestException');
    }
    const s = await c.subscribe('/default/usable', auth());
    assert.equal(s.type, 'subscribe_success');
    await c.publish('/default/usable', ['"still works"'], auth());
    assert.equal((await c.nextData(s.id)).event, '"still works"');
    await c.close();
  });

  test('an unknown message type gets error UnsupportedOperation', async () => {
    const c = await open();
    c.send({ type: 'no_such_type', id: 'op-1' });
    assertErrorMessage(await c.next({ type: 'error' }), 'error', 'op-1', 'UnsupportedOperation');
    // Server-to-client types sent by a client are unsupported as well.
    c.send({ type: 'data', id: 'op-2', event: '1' });
    assertErrorMessage(await c.next({ type: 'error' }), 'error', 'op-2', 'UnsupportedOperation');
    c.send({ type: 'whatever' });
    assertErrorMessage(await c.next({ type: 'error' }), 'error', undefined, 'UnsupportedOperation');
    assert.ok(c.isOpen);
    await c.close();
  });

  test('a binary frame closes the connection; other connections are unaffected', async () => {
    const other = await open();
    const s = await other.subscribe('/default/binary', auth());
    const c = await open();
    c.ws.send(Buffer.from('{"type":"connection_init"}'), { binary: true });
    const closed = await c.waitClosed();
    assert.notEqual(closed.code, 1000);
    await other.publish('/default/binary', ['"fine"'], auth());
    assert.equal((await other.nextData(s.id)).event, '"fine"');
    await other.close();
  });

  const hugePublish = (id) =>
    JSON.stringify({
      type: 'publish',
      id,
      channel: '/default/huge',
      events: ['"' + 'h'.repeat(1400 * 1024) + '"'],
      authorization: auth(),
    });

  test('a WebSocket message over ~1.3 MB closes that connection; other connections keep working', async () => {
    const other = await open();
    const s = await other.subscribe('/default/huge', auth());
    const c = await open();
    c.send(hugePublish('huge'));
    const closed = await c.waitClosed(10000);
    assert.notEqual(closed.code, 1000, `closed with ${JSON.stringify(closed)}`);
    assert.ok(!c.all.some((m) => m.id === 'huge'), 'the oversized publish was answered');
    await other.publish('/default/huge', ['"sentinel"'], auth());
    assert.deepEqual(await other.eventsUntil(s.id, '"sentinel"'), []);
    const fresh = await open();
    assertAllSuccessful(await fresh.publish('/default/huge', ['"fresh"'], auth()), 1);
    assert.equal((await other.nextData(s.id)).event, '"fresh"');
    await fresh.close();
    await other.close();
  });

  // The broker queues a 1009 close frame, then close()s the socket right away
  // with most of the oversized message unread, so the kernel resets the
  // connection. A client still busy sending may then lose the close frame and
  // see 1006 instead: this fails intermittently (mostly under CPU load) until
  // the broker drains/lingers before closing. See the report.
  test('a WebSocket message over ~1.3 MB is answered with close code 1009', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await open();
      c.send(hugePublish(`huge-${i}`));
      const closed = await c.waitClosed(10000);
      assert.equal(closed.code, 1009, `attempt ${i}: closed with ${JSON.stringify(closed)}`);
    }
  });

  test('HTTP errors: GET /event 405, unknown path 404, body over the limit 413, malformed request 400, bad JSON 400', async () => {
    const b = ctx.broker;
    const get = await fetch(b.httpUrl, { headers: { 'x-api-key': KEY }, signal: AbortSignal.timeout(5000) });
    assert.equal(get.status, 405);
    assert.equal((await get.json()).errors[0].errorType, 'BadRequestException');

    const unknown = await fetch(`http://${b.host}/nope`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5000) });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).errors[0].errorType, 'NotFoundException');

    const tooBig = await rawHttp(
      b,
      `POST /event HTTP/1.1\r\nHost: ${b.host}\r\nx-api-key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{"channel":`,
    );
    assert.equal(tooBig.status, 413, tooBig.text);

    // Chunked body that grows over the limit.
    const chunk = 'a'.repeat(64 * 1024);
    let chunked = `POST /event HTTP/1.1\r\nHost: ${b.host}\r\nx-api-key: ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    for (let i = 0; i < 24; i++) chunked += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const tooBigChunked = await rawHttp(b, chunked);
    assert.equal(tooBigChunked.status, 413, tooBigChunked.text.slice(0, 300));

    const malformed = await rawHttp(b, 'THIS IS NOT HTTP\r\n\r\n');
    assert.equal(malformed.status, 400, malformed.text);
    const badHeader = await rawHttp(b, 'POST /event HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n');
    assert.equal(badHeader.status, 400, badHeader.text);
    const badLength = await rawHttp(b, 'POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\nConnection: close\r\n\r\n');
    assert.equal(badLength.status, 400, badLength.text);

    const badJson = await httpPublish(b, '{"channel":', { 'x-api-key': KEY });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.errors[0].errorType, 'BadRequestException');
    const notObject = await httpPublish(b, '[1]', { 'x-api-key': KEY });
    assert.equal(notObject.status, 400);

    // The broker still serves after all that.
    const ok = await httpPublish(b, { channel: '/default/after', events: ['1'] }, { 'x-api-key': KEY });
    assert.equal(ok.status, 200);
  });
});
