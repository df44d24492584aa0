// AWS_IAM (SigV4) authorization, signed with the official AWS signer
// (@smithy/signature-v4) exactly as AppSync Events clients sign: the
// realtime messages sign a synthetic POST /event whose body is "{}" (connect),
// JSON.stringify({channel}) (subscribe) or JSON.stringify({channel, events})
// (publish); HTTP publish signs the real request.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertAllSuccessful,
  assertErrorMessage,
  connect,
  httpPublish,
  iamAuth,
  iamHttpHeaders,
  randomUUID,
  useBroker,
} from './lib/broker.mjs';

const ID1 = { accessKeyId: 'AKIDTETHERTEST000001', secretAccessKey: 'tether/test+secret/one0000000000000000001' };
const ID2 = {
  accessKeyId: 'AKIDTETHERTEST000002',
  secretAccessKey: 'tether/test+secret/two0000000000000000002',
  sessionToken: 'IQoJb3JpZ2luX2VjEtethertesttoken/+=0002',
};

// Ways of signing that the broker must refuse; each gets the same checks.
const BAD_SIGNING = {
  'wrong secret': { creds: { ...ID1, secretAccessKey: 'not-the-secret' } },
  'unknown access key id': { creds: { ...ID1, accessKeyId: 'AKIDUNKNOWN000000000' } },
  'wrong region': { creds: ID1, options: { region: 'us-west-2' } },
  'wrong service': { creds: ID1, options: { service: 'execute-api' } },
  'expired date (20 minutes ago)': { creds: ID1, options: { date: new Date(Date.now() - 20 * 60 * 1000) } },
  'date 20 minutes in the future': { creds: ID1, options: { date: new Date(Date.now() + 20 * 60 * 1000) } },
  'missing session token for an identity that needs one': {
    creds: { accessKeyId: ID2.accessKeyId, secretAccessKey: ID2.secretAccessKey },
  },
  'wrong session token': { creds: { ...ID2, sessionToken: 'not-the-token' } },
  'session token sent for an identity without one': { creds: { ...ID1, sessionToken: 'unexpected' } },
};

describe('IAM authorization', () => {
  const ctx = useBroker([
    '--iam',
    `${ID1.accessKeyId}:${ID1.secretAccessKey}`,
    '--iam',
    `${ID2.accessKeyId}:${ID2.secretAccessKey}:${ID2.sessionToken}`,
  ]);

  const connectIam = async (creds = ID1, options) =>
    connect(ctx.broker, { auth: await iamAuth(ctx.broker, creds, '{}', options) });
  const subAuth = (channel, creds = ID1, options) =>
    iamAuth(ctx.broker, creds, JSON.stringify({ channel }), options);
  const pubAuth = (channel, events, creds = ID1, options) =>
    iamAuth(ctx.broker, creds, JSON.stringify({ channel, events }), options);
  const httpIam = async (body, creds = ID1, options) => {
    const text = JSON.stringify(body);
    return httpPublish(ctx.broker, text, await iamHttpHeaders(ctx.broker, creds, text, options));
  };

  test('the connect authorization object has the documented headers', async () => {
    const auth = await iamAuth(ctx.broker, ID2, '{}');
    assert.deepEqual(Object.keys(auth).sort(), [
      'accept',
      'authorization',
      'content-encoding',
      'content-type',
      'host',
      'x-amz-date',
      'x-amz-security-token',
    ]);
    assert.match(
      auth.authorization,
      /^AWS4-HMAC-SHA256 Credential=AKIDTETHERTEST000002\/\d{8}\/us-east-1\/appsync\/aws4_request, SignedHeaders=accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    assert.equal(auth.host, ctx.broker.host);
  });

  for (const [name, creds] of [
    ['without a session token', ID1],
    ['with a session token', ID2],
  ]) {
    test(`valid signatures work ${name}: connect, subscribe, WS publish, HTTP publish`, async () => {
      const channel = `/default/iam/${creds === ID1 ? 'one' : 'two'}`;
      const sub = await connectIam(creds);
      const s = await sub.subscribe(channel, await subAuth(channel, creds));
      assert.deepEqual(s, { type: 'subscribe_success', id: s.id });
      const wild = await sub.subscribe('/default/iam/*', await subAuth('/default/iam/*', creds));
      assert.equal(wild.type, 'subscribe_success');

      const pub = await connectIam(creds);
      const events = ['{"over":"ws"}', '"second"'];
      const r = await pub.publish(channel, events, await pubAuth(channel, events, creds));
      assert.equal(r.type, 'publish_success');
      assertAllSuccessful(r, 2);

      const httpEvents = ['{"over":"http"}'];
      const h = await httpIam({ channel, events: httpEvents }, creds);
      assert.equal(h.status, 200, h.text);
      assertAllSuccessful(h.body, 1);

      assert.deepEqual(
        [await sub.nextData(s.id), await sub.nextData(s.id), await sub.nextData(s.id)].map((m) => m.event),
        [...events, ...httpEvents],
      );
      assert.deepEqual(
        [await sub.nextData(wild.id), await sub.nextData(wild.id), await sub.nextData(wild.id)].map(
          (m) => m.event,
        ),
        [...events, ...httpEvents],
      );
      await sub.close();
      await pub.close();
    });
  }

  test('IAM auth headers on the upgrade request (Swift style) work instead of the header- subprotocol', async () => {
    const b = ctx.broker;
    const headers = await iamAuth(b, ID2, '{}');
    delete headers.host; // ws sends the same Host itself
    const c = await connect(b, { protocols: ['aws-appsync-event-ws'], headers });
    const channel = '/default/iam/swift';
    const s = await c.subscribe(channel, await subAuth(channel, ID2));
    assert.deepEqual(s, { type: 'subscribe_success', id: s.id });
    const events = ['"via upgrade headers"'];
    assertAllSuccessful(await c.publish(channel, events, await pubAuth(channel, events, ID2)), 1);
    assert.deepEqual(await c.nextData(s.id), { type: 'data', id: s.id, event: events[0] });
    await c.close();

    const bad = await iamAuth(b, { ...ID2, secretAccessKey: 'wrong' }, '{}');
    delete bad.host;
    const refused = await connect(b, { protocols: ['aws-appsync-event-ws'], headers: bad, init: false });
    assertErrorMessage(await refused.next({ type: 'connection_error' }), 'connection_error', undefined, 'UnauthorizedException');
    await refused.waitClosed();
  });

  for (const [name, { creds, options }] of Object.entries(BAD_SIGNING)) {
    test(`refused: ${name} (connect, subscribe, WS publish, HTTP publish; nothing delivered)`, async () => {
      const b = ctx.broker;
      const channel = `/default/bad/${randomUUID().slice(0, 8)}`;

      const badConn = await connect(b, { auth: await iamAuth(b, creds, '{}', options), init: false });
      const ce = await badConn.next({ type: 'connection_error' });
      assertErrorMessage(ce, 'connection_error', undefined, 'UnauthorizedException');
      await badConn.waitClosed();

      const watcher = await connectIam();
      const w = await watcher.subscribe(channel, await subAuth(channel));
      assert.equal(w.type, 'subscribe_success');

      const client = await connectIam();
      const sid = randomUUID();
      const se = await client.subscribe(channel, await subAuth(channel, creds, options), sid);
      assertErrorMessage(se, 'subscribe_error', sid, 'UnauthorizedException');

      const events = ['"refused"'];
      const pid = randomUUID();
      const pe = await client.publish(channel, events, await pubAuth(channel, events, creds, options), pid);
      assertErrorMessage(pe, 'publish_error', pid, 'UnauthorizedException');

      const h = await httpIam({ channel, events: ['"refused-http"'] }, creds, options);
      assert.equal(h.status, 401, h.text);
      assert.deepEqual(h.body, {
        errors: [{ errorType: 'UnauthorizedException', message: h.body.errors[0].message }],
      });

      const sentinel = ['"sentinel"'];
      const ok = await client.publish(channel, sentinel, await pubAuth(channel, sentinel));
      assert.equal(ok.type, 'publish_success');
      assert.deepEqual(await watcher.eventsUntil(w.id, '"sentinel"'), []);
      await watcher.close();
      await client.close();
    });
  }

  test('refused: tampered bodies (signed for one channel or events, sent with another)', async () => {
    const b = ctx.broker;
    const watcher = await connectIam();
    const w = await watcher.subscribe('/default/tamper/*', await subAuth('/default/tamper/*'));
    assert.equal(w.type, 'subscribe_success');
    const client = await connectIam();

    // subscribe signed for /default/tamper/a, sent for /default/tamper/b
    const sid = randomUUID();
    const se = await client.subscribe('/default/tamper/b', await subAuth('/default/tamper/a'), sid);
    assertErrorMessage(se, 'subscribe_error', sid, 'UnauthorizedException');

    // publish signed for one channel, sent to another
    const events = ['"tampered-channel"'];
    const p1 = randomUUID();
    const e1 = await client.publish('/default/tamper/b', events, await pubAuth('/default/tamper/a', events), p1);
    assertErrorMessage(e1, 'publish_error', p1, 'UnauthorizedException');

    // publish signed for some events, sent with others
    const p2 = randomUUID();
    const e2 = await client.publish(
      '/default/tamper/a',
      ['"tampered-events"'],
      await pubAuth('/default/tamper/a', ['"what was signed"']),
      p2,
    );
    assertErrorMessage(e2, 'publish_error', p2, 'UnauthorizedException');

    // publish signed with the subscribe body
    const p3 = randomUUID();
    const e3 = await client.publish('/default/tamper/a', ['"x"'], await subAuth('/default/tamper/a'), p3);
    assertErrorMessage(e3, 'publish_error', p3, 'UnauthorizedException');

    // HTTP publish: sign one body, send another
    const signedText = JSON.stringify({ channel: '/default/tamper/a', events: ['"signed"'] });
    const sentText = JSON.stringify({ channel: '/default/tamper/b', events: ['"signed"'] });
    const h = await httpPublish(b, sentText, await iamHttpHeaders(b, ID1, signedText));
    assert.equal(h.status, 401, h.text);
    assert.equal(h.body.errors[0].errorType, 'UnauthorizedException');

    // connect signed over a body other than "{}"
    const badConn = await connect(b, { auth: await iamAuth(b, ID1, '{"channel":"/default/x"}'), init: false });
    assertErrorMessage(await badConn.next({ type: 'connection_error' }), 'connection_error', undefined, 'UnauthorizedException');
    await badConn.waitClosed();

    // a host changed after signing
    const tamperedHost = await subAuth('/default/tamper/a');
    tamperedHost.host = '127.0.0.1:1';
    const sid3 = randomUUID();
    const se3 = await client.subscribe('/default/tamper/a', tamperedHost, sid3);
    assertErrorMessage(se3, 'subscribe_error', sid3, 'UnauthorizedException');

    const sentinel = ['"sentinel"'];
    await client.publish('/default/tamper/a', sentinel, await pubAuth('/default/tamper/a', sentinel));
    assert.deepEqual(await watcher.eventsUntil(w.id, '"sentinel"'), []);
    await watcher.close();
    await client.close();
  });

  test('events with unicode, quotes, backslashes, newlines, </script> and emoji verify and arrive byte-exact', async () => {
    const channel = '/default/iam/escaping';
    const sub = await connectIam(ID2);
    const s = await sub.subscribe(channel, await subAuth(channel, ID2));
    assert.equal(s.type, 'subscribe_success');
    const pub = await connectIam(ID2);
    const batches = [
      [
        JSON.stringify({ text: 'quote " and \\ backslash', html: '</script><script>alert(1)</script>' }),
        JSON.stringify({ emoji: '😀👍🏽🇫🇷', cjk: '中文テキスト', accents: 'héllo wörld ñ' }),
        JSON.stringify({ controls: '\u0000\u0001\u0008\u000b\u001f\u007f', ws: 'tab\tnl\ncr\r' }),
        JSON.stringify({ separators: 'line\u2028para\u2029', bom: '\ufeff', replacement: '\ufffd' }),
        JSON.stringify('just a "string" with \\/ slash'),
      ],
      [
        '{\n\t"raw": "whitespace between tokens"\r\n}', // raw control whitespace in the event text
        '"\\u00e9\\ud83d\\ude00 escapes kept as written"',
        '"/ forward slash"',
        '[1, 2.5e3, -0, true, false, null]',
        JSON.stringify({ long: 'x\\"'.repeat(2000) }),
      ],
    ];
    for (const events of batches) {
      const r = await pub.publish(channel, events, await pubAuth(channel, events, ID2));
      assert.equal(r.type, 'publish_success', JSON.stringify(r));
      assertAllSuccessful(r, events.length);
      for (const e of events) {
        assert.deepEqual(await sub.nextData(s.id), { type: 'data', id: s.id, event: e });
      }
    }
    // The same over HTTP (signed over the real body).
    const h = await httpIam({ channel, events: batches[0] }, ID2);
    assert.equal(h.status, 200, h.text);
    assertAllSuccessful(h.body, batches[0].length);
    for (const e of batches[0]) {
      assert.deepEqual(await sub.nextData(s.id), { type: 'data', id: s.id, event: e });
    }
    await sub.close();
    await pub.close();
  });
});
