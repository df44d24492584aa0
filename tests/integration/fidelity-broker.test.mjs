// The broker against the AWS SDK for Go v2's own SigV4 signer (issue 13,
// item 1). A Go client that builds the AppSync authorization object from a
// signed http.Request (SST's bridge does) lists content-length in
// SignedHeaders but cannot copy it: Go keeps Content-Length outside the
// header map. AppSync accepts such objects, so the broker must take the
// length from the body it rebuilds, and still refuse anything tampered with.
//
// The signer is tests/integration/go/appsync-sign, built here from Debian's
// golang-github-aws-aws-sdk-go-v2-dev in GOPATH mode, offline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assertErrorMessage, connect, randomUUID, useBroker } from './lib/broker.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const GOPATH = '/usr/share/gocode';
const goMissing = spawnSync('go', ['version']).status !== 0
  ? 'Go is not installed (scripts/install-deps --tests installs golang-go)'
  : !fs.existsSync(path.join(GOPATH, 'src/github.com/aws/aws-sdk-go-v2/aws/signer/v4'))
    ? 'aws-sdk-go-v2 is not installed (scripts/install-deps --tests installs golang-github-aws-aws-sdk-go-v2-dev)'
    : false;

const ID = {
  accessKeyId: 'AKIDTETHERGOSDK00001',
  secretAccessKey: 'tether/go+sdk/secret000000000000000001',
  sessionToken: 'IQoJb3JpZ2luX2VjEtethergosdktoken/+=01',
};

describe('SigV4 from the AWS SDK for Go v2', { skip: goMissing }, () => {
  const ctx = useBroker(['--iam', `${ID.accessKeyId}:${ID.secretAccessKey}:${ID.sessionToken}`]);
  let work;
  let signer;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-go-sign-'));
    signer = path.join(work, 'appsync-sign');
    execFileSync('go', ['build', '-o', signer, './appsync-sign'], {
      cwd: path.join(here, 'go'),
      env: {
        ...process.env,
        GOPATH,
        GO111MODULE: 'off',
        GOPROXY: 'off',
        GOFLAGS: '',
        GOCACHE: path.join(work, 'cache'),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 300000,
    });
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** The Go SDK's authorization object for a signed body. */
  const goAuth = (body) =>
    JSON.parse(
      execFileSync(signer, [ctx.broker.host, 'us-east-1', body], {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: ID.accessKeyId,
          AWS_SECRET_ACCESS_KEY: ID.secretAccessKey,
          AWS_SESSION_TOKEN: ID.sessionToken,
        },
        encoding: 'utf8',
      }),
    );
  const subBody = (channel) => JSON.stringify({ channel });
  const pubBody = (channel, events) => JSON.stringify({ channel, events });

  test('the object signs content-length and does not carry it', () => {
    const auth = goAuth('{}');
    assert.match(auth.authorization, /SignedHeaders=[a-z;-]*content-length;[a-z;-]*, /);
    assert.equal(auth['content-length'], undefined);
  });

  test('accepted: connect, subscribe and publish signed by the Go SDK', { timeout: 60000 }, async () => {
    const channel = '/default/gosdk/ok';
    const sub = await connect(ctx.broker, { auth: goAuth('{}') });
    const s = await sub.subscribe(channel, goAuth(subBody(channel)));
    assert.deepEqual(s, { type: 'subscribe_success', id: s.id });
    const pub = await connect(ctx.broker, { auth: goAuth('{}') });
    const events = ['{"from":"go"}', '"two"'];
    const r = await pub.publish(channel, events, goAuth(pubBody(channel, events)));
    assert.equal(r.type, 'publish_success', JSON.stringify(r));
    assert.equal(r.successful.length, 2);
    assert.deepEqual([(await sub.nextData(s.id)).event, (await sub.nextData(s.id)).event], events);
    await sub.close();
    await pub.close();
  });

  test('refused: tampered bodies, headers and lengths', { timeout: 60000 }, async () => {
    const channel = '/default/gosdk/tamper';
    const client = await connect(ctx.broker, { auth: goAuth('{}') });

    // subscribe signed for one channel, sent for another
    let id = randomUUID();
    assertErrorMessage(
      await client.subscribe(`${channel}/b`, goAuth(subBody(`${channel}/a`)), id),
      'subscribe_error', id, 'UnauthorizedException');

    // publish signed for other events of the same length
    id = randomUUID();
    assertErrorMessage(
      await client.publish(channel, ['"bbbb"'], goAuth(pubBody(channel, ['"aaaa"'])), id),
      'publish_error', id, 'UnauthorizedException');

    // a signed header changed after signing
    const changed = goAuth(subBody(channel));
    changed['content-type'] = 'text/plain';
    id = randomUUID();
    assertErrorMessage(await client.subscribe(channel, changed, id), 'subscribe_error', id,
      'UnauthorizedException');

    // a content-length added that is not the signed body's
    const lying = goAuth(subBody(channel));
    lying['content-length'] = String(subBody(channel).length + 1);
    id = randomUUID();
    assertErrorMessage(await client.subscribe(channel, lying, id), 'subscribe_error', id,
      'UnauthorizedException');

    // connect signed over another body
    const bad = await connect(ctx.broker, { auth: goAuth(subBody(channel)), init: false });
    assertErrorMessage(await bad.next({ type: 'connection_error' }), 'connection_error', undefined,
      'UnauthorizedException');
    await bad.waitClosed();
    await client.close();
  });
});
