// Subscribe, publish (WebSocket and HTTP), fan-out, wildcards, ordering and
// unsubscribe.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import {
  apiKeyAuth,
  assertAllSuccessful,
  assertErrorMessage,
  connect,
  httpPublish,
  randomUUID,
  rawHttp,
  useBroker,
  withTimeout,
} from './lib/broker.mjs';

describe('subscribe, publish, unsubscribe', () => {
  // No --api-key: the broker generates one and prints it in the JSON line.
  const ctx = useBroker([]);
  const auth = () => apiKeyAuth(ctx.broker);
  const open = () => connect(ctx.broker, { auth: auth() });

  test('the generated API key is printed and works', () => {
    assert.match(ctx.broker.apiKey, /^da2-[a-z0-9]{26}$/);
    assert.deepEqual(Object.keys(ctx.broker.info).sort(), ['apiKey', 'http', 'port', 'realtime', 'type']);
    assert.equal(ctx.broker.info.http, `http://127.0.0.1:${ctx.broker.port}/event`);
    assert.equal(ctx.broker.info.realtime, `ws://127.0.0.1:${ctx.broker.port}/event/realtime`);
  });

  test('exact channel: subscribe_success, data carries the subscription id and the event string', async () => {
    const c = await open();
    const id = randomUUID();
    const s = await c.subscribe('/default/exact', auth(), id);
    assert.deepEqual(s, { type: 'subscribe_success', id });
    // Leading '/' is optional when publishing.
    const r = await c.publish('default/exact', ['{"a":1}'], auth());
    assert.equal(r.type, 'publish_success');
    assert.deepEqual(await c.nextData(id), { type: 'data', id, event: '{"a":1}' });
    // A sibling and a child channel are not delivered to an exact subscription.
    await c.publish('/default/exact2', ['"no"'], auth());
    await c.publish('/default/exact/child', ['"no"'], auth());
    await c.publish('/default/EXACT', ['"no (case-sensitive)"'], auth());
    await c.publish('/default/exact', ['"sentinel"'], auth());
    assert.deepEqual(await c.eventsUntil(id, '"sentinel"'), []);
    await c.close();
  });

  test('wildcards match every channel below their prefix, at any depth', async () => {
    const c = await open();
    const subs = {};
    for (const ch of ['/default/*', '/default/a/*', '/default/a/b/*', '/default/a/b/c/*', '/tether/*']) {
      const s = await c.subscribe(ch, auth());
      assert.equal(s.type, 'subscribe_success', `${ch}: ${JSON.stringify(s)}`);
      subs[ch] = s.id;
    }
    // 'default/a' (no leading '/') is the same channel as '/default/a'.
    const published = ['/default', 'default/a', '/default/ab', '/default/a/b', '/default/a/bc',
      '/default/a/b/c', '/default/a/b/c/d', '/default/a/b/c/d', '/tether/x/y', '/tether'];
    for (const ch of published) {
      const r = await c.publish(ch, [JSON.stringify(ch)], auth());
      assert.equal(r.type, 'publish_success', `${ch}: ${JSON.stringify(r)}`);
    }
    const sentinelChannel = '/default/a/b/c/zz'; // matches every /default wildcard
    await c.publish(sentinelChannel, ['"sentinel"'], auth());
    await c.publish('/tether/zz', ['"sentinel"'], auth());
    const got = {};
    for (const [ch, id] of Object.entries(subs)) {
      got[ch] = (await c.eventsUntil(id, '"sentinel"')).map((e) => JSON.parse(e));
    }
    assert.deepEqual(got, {
      '/default/*': ['default/a', '/default/ab', '/default/a/b', '/default/a/bc', '/default/a/b/c',
        '/default/a/b/c/d', '/default/a/b/c/d'],
      '/default/a/*': ['/default/a/b', '/default/a/bc', '/default/a/b/c', '/default/a/b/c/d', '/default/a/b/c/d'],
      '/default/a/b/*': ['/default/a/b/c', '/default/a/b/c/d', '/default/a/b/c/d'],
      '/default/a/b/c/*': ['/default/a/b/c/d', '/default/a/b/c/d'],
      '/tether/*': ['/tether/x/y'],
    });
    await c.close();
  });

  test('fan-out: several connections and several subscriptions on one connection each get their own data', async () => {
    const conns = await Promise.all([open(), open(), open()]);
    const subs = [];
    for (const c of conns) {
      const s = await c.subscribe('/default/fan', auth());
      subs.push([c, s.id]);
    }
    // One connection with three subscriptions that all match.
    const multi = await open();
    for (const ch of ['/default/fan', '/default/*', '/default/fan']) {
      const s = await multi.subscribe(ch, auth());
      assert.equal(s.type, 'subscribe_success');
      subs.push([multi, s.id]);
    }
    const pub = await open();
    const r = await pub.publish('/default/fan', ['{"fan":"out"}', '{"n":2}'], auth());
    assertAllSuccessful(r, 2);
    for (const [c, id] of subs) {
      assert.deepEqual(await c.nextData(id), { type: 'data', id, event: '{"fan":"out"}' });
      assert.deepEqual(await c.nextData(id), { type: 'data', id, event: '{"n":2}' });
    }
    // The publisher has no subscription and gets nothing but its publish_success.
    assert.deepEqual(pub.queued('data'), []);
    await Promise.all([...conns, multi, pub].map((c) => c.close()));
  });

  test('events arrive in publish order (pipelined WS publishes and HTTP publishes)', async () => {
    const sub = await open();
    const s = await sub.subscribe('/default/order', auth());
    const pub = await open();
    const ids = [];
    const expected = [];
    for (let i = 0; i < 40; i++) {
      const id = randomUUID();
      ids.push(id);
      const events = [JSON.stringify({ i, k: 0 }), JSON.stringify({ i, k: 1 })];
      expected.push(...events);
      pub.send({ type: 'publish', id, channel: '/default/order', events, authorization: auth() });
    }
    for (const id of ids) {
      const r = await pub.next((m) => m.id === id);
      assert.equal(r.type, 'publish_success');
    }
    for (let i = 0; i < 10; i++) {
      const events = [JSON.stringify({ http: i })];
      expected.push(...events);
      const h = await httpPublish(ctx.broker, { channel: '/default/order', events }, { 'x-api-key': ctx.broker.apiKey });
      assert.equal(h.status, 200);
    }
    const got = [];
    for (let i = 0; i < expected.length; i++) got.push((await sub.nextData(s.id)).event);
    assert.deepEqual(got, expected);
    await sub.close();
    await pub.close();
  });

  test('WS publish returns publish_success with successful [{identifier, index}] and failed []', async () => {
    const c = await open();
    const id = randomUUID();
    const events = ['1', '"two"', '{"three":3}', '[4]', 'null'];
    const r = await c.publish('/default/shape', events, auth(), id);
    assert.deepEqual(Object.keys(r).sort(), ['failed', 'id', 'successful', 'type']);
    assert.equal(r.type, 'publish_success');
    assert.equal(r.id, id);
    assertAllSuccessful(r, 5);
    await c.close();
  });

  test('HTTP publish returns 200 with {successful:[{identifier, index}], failed:[]} and delivers', async () => {
    const c = await open();
    const s = await c.subscribe('/default/http/*', auth());
    const events = ['{"via":"http"}', '"x"'];
    const res = await httpPublish(ctx.broker, { channel: '/default/http/one', events }, { 'x-api-key': ctx.broker.apiKey });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(Object.keys(res.body).sort(), ['failed', 'successful']);
    assertAllSuccessful(res.body, 2);
    assert.deepEqual(await c.nextData(s.id), { type: 'data', id: s.id, event: events[0] });
    assert.deepEqual(await c.nextData(s.id), { type: 'data', id: s.id, event: events[1] });
    // Unknown fields in the body are ignored.
    const extra = await httpPublish(
      ctx.broker,
      { channel: '/default/http/two', events: ['3'], extra: { ignored: true } },
      { 'x-api-key': ctx.broker.apiKey },
    );
    assert.equal(extra.status, 200);
    assert.deepEqual(await c.nextData(s.id), { type: 'data', id: s.id, event: '3' });
    await c.close();
  });

  test('HTTP publish with a chunked body and pipelined keep-alive requests', async () => {
    const b = ctx.broker;
    const c = await open();
    const s = await c.subscribe('/default/raw', auth());
    const body = JSON.stringify({ channel: '/default/raw', events: ['"chunked"'] });
    const half = Math.floor(body.length / 2);
    const chunked =
      `POST /event HTTP/1.1\r\nHost: ${b.host}\r\nx-api-key: ${b.apiKey}\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${half.toString(16)}\r\n${body.slice(0, half)}\r\n` +
      `${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`;
    const plain = (event, close) => {
      const text = JSON.stringify({ channel: '/default/raw', events: [event] });
      return `POST /event HTTP/1.1\r\nHost: ${b.host}\r\nx-api-key: ${b.apiKey}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `${close ? 'Connection: close\r\n' : ''}\r\n${text}`;
    };
    const r = await rawHttp(b, chunked + plain('"second"') + plain('"third"', true));
    // Responses follow each other directly (a body has no trailing newline).
    assert.deepEqual(r.text.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    for (const e of ['"chunked"', '"second"', '"third"']) {
      assert.deepEqual(await c.nextData(s.id), { type: 'data', id: s.id, event: e });
    }
    await c.close();
  });

  test('HTTP publish with "Expect: 100-continue" gets 100 Continue before sending the body', async () => {
    const b = ctx.broker;
    const text = JSON.stringify({ channel: '/default/expect', events: ['"continued"'] });
    const socket = net.connect(b.port, '127.0.0.1');
    try {
      let received = '';
      const waitFor = (re, what) =>
        withTimeout(
          new Promise((resolve, reject) => {
            const check = () => {
              if (re.test(received)) {
                socket.off('data', onData);
                resolve();
              }
            };
            const onData = (d) => {
              received += d;
              check();
            };
            socket.on('data', onData);
            socket.once('error', reject);
            check();
          }),
          2000,
          `${what} (got ${JSON.stringify(received)})`,
        );
      await withTimeout(new Promise((r) => socket.once('connect', r)), 2000, 'connect');
      socket.write(
        `POST /event HTTP/1.1\r\nHost: ${b.host}\r\nx-api-key: ${b.apiKey}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\nExpect: 100-continue\r\n\r\n`,
      );
      // Clients such as curl wait (1 s) for this before sending the body.
      await waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '"HTTP/1.1 100 Continue"');
      socket.write(text);
      await waitFor(/HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{.*\}$/, 'the 200 response');
    } finally {
      socket.destroy();
    }
  });

  test('unsubscribe: unsubscribe_success, then no more data; unknown id gets unsubscribe_error', async () => {
    const c = await open();
    const gone = await c.subscribe('/default/unsub', auth());
    const stays = await c.subscribe('/default/unsub', auth());
    await c.publish('/default/unsub', ['"before"'], auth());
    assert.equal((await c.nextData(gone.id)).event, '"before"');
    assert.equal((await c.nextData(stays.id)).event, '"before"');

    assert.deepEqual(await c.unsubscribe(gone.id), { type: 'unsubscribe_success', id: gone.id });
    await c.publish('/default/unsub', ['"after"'], auth());
    assert.equal((await c.nextData(stays.id)).event, '"after"');
    // Everything for `stays` has arrived after "after": nothing for `gone`.
    assert.deepEqual(c.queued('data'), []);
    assert.ok(!c.all.some((m) => m.type === 'data' && m.id === gone.id && m.event === '"after"'));

    // Unsubscribing again, or an id never used, is an error.
    assertErrorMessage(await c.unsubscribe(gone.id), 'unsubscribe_error', gone.id, 'UnknownOperationError');
    assertErrorMessage(await c.unsubscribe('never-used'), 'unsubscribe_error', 'never-used', 'UnknownOperationError');

    // The id can be used again after unsubscribing.
    const again = await c.subscribe('/default/unsub', auth(), gone.id);
    assert.deepEqual(again, { type: 'subscribe_success', id: gone.id });
    await c.close();
  });

  test('closing a connection drops its subscriptions; other subscribers still receive', async () => {
    const a = await open();
    const b = await open();
    const sa = await a.subscribe('/default/closing', auth());
    const sb = await b.subscribe('/default/closing', auth());
    await a.close();
    const r = await b.publish('/default/closing', ['"after close"'], auth());
    assertAllSuccessful(r, 1);
    assert.deepEqual(await b.nextData(sb.id), { type: 'data', id: sb.id, event: '"after close"' });
    assert.ok(sa.id);
    await b.close();
  });
});
