// A custom ("provided") runtime written in bash with curl proves that any
// bootstrap speaking the Runtime API works. Also: concurrency and sandbox
// identity, crashes, timeouts, payload limits, idle reaping, function URLs
// driven by curl, and shutdown on signals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  LOG_STREAM_RE,
  alive,
  curl,
  makeWorkdir,
  nodeFunction,
  parseCurlResponse,
  startLambda,
  useLambda,
  waitFor,
  writeFiles,
} from './lib/lambda.mjs';

const BOOTSTRAP = String.raw`#!/bin/bash
# A custom runtime in bash and curl: the Runtime API by hand. (No brace
# expansions: this text sits in a JavaScript template literal.)
set -u
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
while true; do
  curl -sS -o "$WORK/event" -D "$WORK/headers" "$API/invocation/next" || exit 1
  ID=$(tr -d '\r' < "$WORK/headers" | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  ACTION=$(head -c 200 "$WORK/event" | grep -o '"action":"[a-z]*"' | head -1 | cut -d'"' -f4)
  RAWPATH=$(grep -o '"rawPath":"[^"]*"' "$WORK/event" | head -1 | cut -d'"' -f4)
  echo "action=$ACTION path=$RAWPATH id=$ID"
  case "$ACTION" in
    crash) exit 3 ;;
    hang) sleep 30 ;;
    slow) sleep 0.5 ;;
  esac
  case "$ACTION:$RAWPATH" in
    big:*) head -c 6291557 /dev/zero | tr '\0' 'a' > "$WORK/out" ;;
    *:/echo*) printf '{"statusCode":200,"headers":{"content-type":"application/json","x-custom":"1"},"cookies":["a=1; Path=/","b=2"],"body":"%s","isBase64Encoded":true}' "$(base64 -w0 < "$WORK/event")" > "$WORK/out" ;;
    *:/shortcut) printf '{"hello":"world"}' > "$WORK/out" ;;
    *:/status) printf '{"statusCode":418,"headers":{"x-teapot":"yes","content-type":"text/plain"},"body":"short and stout"}' > "$WORK/out" ;;
    *:/error)
      curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: WebError' \
        --data-binary '{"errorMessage":"web error","errorType":"WebError"}' "$API/invocation/$ID/error"
      continue ;;
    *) printf '{"length":%s,"stream":"%s","api":"%s","handler":"%s"}' "$(wc -c < "$WORK/event")" \
         "$AWS_LAMBDA_LOG_STREAM_NAME" "$AWS_LAMBDA_RUNTIME_API" "$_HANDLER" > "$WORK/out" ;;
  esac
  curl -sS -o /dev/null -X POST --data-binary "@$WORK/out" "$API/invocation/$ID/response"
done
`;

const STREAM_APP = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const http = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { 'content-type': 'text/plain' },
  });
  for (const word of ['one', 'two', 'three']) {
    http.write(word + '\\n');
    await new Promise((r) => setTimeout(r, 400));
  }
  http.end();
});
`;

const dir = makeWorkdir();
writeFiles(dir, { 'bash/bootstrap': BOOTSTRAP, 'node/app.mjs': STREAM_APP });
const bash = (name, extra = {}) => ({ name, working_dir: 'bash', handler: 'bash.handler', ...extra });
const lambda = await useLambda(dir, {
  functions: [
    bash('echo'),
    bash('wide', { concurrency: 5 }),
    bash('sleepy', { timeout: 1 }),
    bash('web', { url: true, url_port: 0 }),
    nodeFunction('webstream', 'app.handler', { working_dir: 'node', url: true, streaming: true }),
  ],
});

describe('a bash + curl custom runtime', () => {
  test('answers through the Runtime API', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('echo', { hello: 'bash' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.length, JSON.stringify({ hello: 'bash' }).length);
    assert.match(r.json.stream, LOG_STREAM_RE);
    assert.match(r.json.api, /^127\.0\.0\.1:\d+$/);
    assert.equal(r.json.handler, 'bash.handler');
    await lambda.waitForOutput(/\[echo\] action= path= id=[0-9a-f-]{36}/);
  });

  test('20 parallel invocations use several sandboxes', { timeout: 60000 }, async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => lambda.invoke('wide', { action: 'slow' })),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    const streams = new Set(results.map((r) => r.json.stream));
    for (const s of streams) assert.match(s, LOG_STREAM_RE);
    assert.ok(streams.size >= 2 && streams.size <= 5, `${streams.size} sandboxes`);
    const apis = new Set(results.map((r) => r.json.api));
    assert.equal(apis.size, streams.size, 'each sandbox has its own Runtime API port');
  });

  test('a crash fails the invocation with Runtime.ExitError; the next one works', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('echo', { action: 'crash' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    const id = r.headers.get('x-amzn-requestid');
    assert.deepEqual(r.json, {
      errorMessage: `RequestId: ${id} Error: Runtime exited with error: exit status 3`,
      errorType: 'Runtime.ExitError',
    });
    const next = await lambda.invoke('echo', { after: 'crash' });
    assert.equal(next.status, 200);
    assert.equal(next.json.length, JSON.stringify({ after: 'crash' }).length);
  });

  test('a timeout kills the sandbox; the next invocation works', { timeout: 60000 }, async () => {
    const before = lambda.sandboxPids().length;
    const started = Date.now();
    const r = await lambda.invoke('sleepy', { action: 'hang' });
    const took = Date.now() - started;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    const id = r.headers.get('x-amzn-requestid');
    assert.equal(r.json.errorType, 'Sandbox.Timedout');
    assert.match(
      r.json.errorMessage,
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${id} Task timed out after 1\\.00 seconds$`),
    );
    assert.ok(took >= 900 && took < 5000, `answered after ${took} ms`);
    await lambda.waitForOutput(new RegExp(`\\[sleepy\\] REPORT RequestId: ${id}\\t.*\\tStatus: timeout`));
    // The whole process group (bash and its sleep) is gone.
    const pid = lambda.sandboxPids()[before];
    await waitFor(() => !alive(-pid), 5000, `process group ${pid} to end`);
    const next = await lambda.invoke('sleepy', { after: 'timeout' });
    assert.equal(next.status, 200, next.text);
  });

  test('a 6 MB payload is accepted, one byte more is refused', { timeout: 120000 }, async () => {
    const max = 6 * 1024 * 1024;
    const payload = `"${'a'.repeat(max - 2)}"`;
    const ok = await lambda.invoke('echo', payload);
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    assert.equal(ok.json.length, max);
    const big = await lambda.invoke('echo', `"${'a'.repeat(max - 1)}"`);
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('x-amzn-errortype'), 'RequestTooLargeException');
    assert.equal(big.json.Message, 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
    // The service is still fine afterwards.
    assert.equal((await lambda.invoke('echo', {})).status, 200);
  });

  test('an answer over 6 MB is Function.ResponseSizeTooLarge', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('echo', { action: 'big' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.equal(r.json.errorType, 'Function.ResponseSizeTooLarge');
    const next = await lambda.invoke('echo', {});
    assert.equal(next.status, 200);
  });
});

describe('function URLs with curl', () => {
  test('GET with query and cookies becomes a 2.0 event', { timeout: 60000 }, async () => {
    const r = await curl(['-i', '-b', 'c1=v1; c2=v2', '-H', 'X-Twice: a', '-H', 'X-Twice: b', lambda.url('web', 'echo/a%20b?x=1&x=2&y=z')]);
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 200);
    const get = (name) => res.headers.filter(([n]) => n === name).map(([, v]) => v);
    assert.deepEqual(get('x-custom'), ['1']);
    assert.deepEqual(get('set-cookie'), ['a=1; Path=/', 'b=2']);
    const event = JSON.parse(res.body.toString('utf8'));
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, '$default');
    assert.equal(event.rawPath, '/echo/a%20b');
    assert.equal(event.rawQueryString, 'x=1&x=2&y=z');
    assert.deepEqual(event.queryStringParameters, { x: '1,2', y: 'z' });
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
    assert.equal(event.headers['x-twice'], 'a,b');
    assert.match(event.headers['user-agent'], /^curl\//);
    assert.equal(event.headers.cookie, undefined);
    assert.equal(event.requestContext.http.method, 'GET');
    assert.equal(event.requestContext.http.path, '/echo/a%20b');
    assert.equal(event.requestContext.http.protocol, 'HTTP/1.1');
    assert.equal(event.requestContext.http.sourceIp, '127.0.0.1');
    assert.match(event.requestContext.time, /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    assert.ok(Math.abs(event.requestContext.timeEpoch - Date.now()) < 60000);
    assert.equal(event.isBase64Encoded, false);
    assert.equal(event.body, undefined);
  });

  test('a binary POST body arrives base64-encoded', { timeout: 60000 }, async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const file = path.join(dir, 'binary.bin');
    fs.writeFileSync(file, bytes);
    const r = await curl([
      '-i', '-X', 'POST', '-H', 'Content-Type: application/octet-stream',
      '--data-binary', `@${file}`, lambda.url('web', 'echo'),
    ]);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 200);
    const event = JSON.parse(res.body.toString('utf8'));
    assert.equal(event.requestContext.http.method, 'POST');
    assert.equal(event.isBase64Encoded, true);
    assert.deepEqual(Buffer.from(event.body, 'base64'), bytes);
    // Text stays text.
    const text = parseCurlResponse((await curl(['-i', '-H', 'Content-Type: text/plain', '--data-binary', 'héllo', lambda.url('web', 'echo')])).stdout);
    const textEvent = JSON.parse(text.body.toString('utf8'));
    assert.equal(textEvent.isBase64Encoded, false);
    assert.equal(textEvent.body, 'héllo');
  });

  test('statusCode, headers and the JSON shortcut', { timeout: 60000 }, async () => {
    const teapot = parseCurlResponse((await curl(['-i', lambda.url('web', 'status')])).stdout);
    assert.equal(teapot.status, 418);
    assert.deepEqual(teapot.headers.find(([n]) => n === 'x-teapot'), ['x-teapot', 'yes']);
    assert.equal(teapot.body.toString(), 'short and stout');
    const shortcut = parseCurlResponse((await curl(['-i', lambda.url('web', 'shortcut')])).stdout);
    assert.equal(shortcut.status, 200);
    assert.deepEqual(shortcut.headers.find(([n]) => n === 'content-type'), ['content-type', 'application/json']);
    assert.deepEqual(JSON.parse(shortcut.body.toString()), { hello: 'world' });
  });

  test('a function error is 502 Internal Server Error', { timeout: 60000 }, async () => {
    const res = parseCurlResponse((await curl(['-i', lambda.url('web', 'error')])).stdout);
    assert.equal(res.status, 502);
    assert.deepEqual(JSON.parse(res.body.toString()), { message: 'Internal Server Error' });
  });

  test("the function's own URL port", { timeout: 60000 }, async () => {
    const info = lambda.info.functions.find((f) => f.name === 'web');
    assert.match(info.urlPort, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = parseCurlResponse((await curl(['-i', `${info.urlPort}echo/own?q=1`])).stdout);
    assert.equal(res.status, 200);
    const event = JSON.parse(res.body.toString('utf8'));
    assert.equal(event.rawPath, '/echo/own');
    assert.deepEqual(event.queryStringParameters, { q: '1' });
    // Functions without url:true have none.
    const denied = await curl(['-s', '-o', '/dev/null', '-w', '%{http_code}', lambda.url('echo', '')]);
    assert.equal(denied.stdout.toString(), '403');
  });

  test('a streamed answer reaches curl in pieces', { timeout: 60000 }, async () => {
    const r = await curl(['-N', '-i', lambda.url('webstream', '')]);
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.find(([n]) => n === 'transfer-encoding'), ['transfer-encoding', 'chunked']);
    assert.equal(res.body.toString(), 'one\ntwo\nthree\n');
    const spread = r.chunks.at(-1)[0] - r.chunks[0][0];
    assert.ok(r.chunks.length >= 3 && spread >= 600, `${r.chunks.length} pieces over ${spread} ms`);
  });
});

describe('clients that go away', () => {
  test('an invocation whose caller left still runs to its end', { timeout: 60000 }, async () => {
    const controller = new AbortController();
    const seen = lambda.stdout.length;
    const pending = fetch(lambda.invokeUrl('echo'), {
      method: 'POST',
      body: JSON.stringify({ action: 'slow', marker: 'abandoned' }),
      signal: controller.signal,
    }).catch((e) => e);
    const started = await lambda.waitForOutput(/\[echo\] action=slow path= id=/, 10000, seen);
    controller.abort();
    assert.equal((await pending).name, 'AbortError');
    const id = started.match(/\[echo\] action=slow path= id=([0-9a-f-]{36})/)[1];
    await lambda.waitForOutput(new RegExp(`\\[echo\\] END RequestId: ${id}`), 10000, seen);
    assert.equal((await lambda.invoke('echo', {})).status, 200);
  });

  test('a stream whose client left is drained; the next one works', { timeout: 60000 }, async () => {
    await curl(['-N', lambda.url('webstream', '')]); // a warm sandbox
    const r = await curl(['-N', '--max-time', '0.6', lambda.url('webstream', '')]);
    assert.equal(r.code, 28, 'curl gave up (timeout)');
    assert.ok(r.stdout.toString().startsWith('one\n') && !r.stdout.toString().includes('three'));
    const again = await curl(['-N', lambda.url('webstream', '')]);
    assert.equal(again.stdout.toString(), 'one\ntwo\nthree\n');
  });
});

describe('sandbox lifecycle', () => {
  test('idle sandboxes are reaped and come back on demand', { timeout: 60000 }, async () => {
    const idleDir = makeWorkdir();
    writeFiles(idleDir, { 'bash/bootstrap': BOOTSTRAP });
    const idle = await startLambda(idleDir, { functions: [bash('idle')] }, { args: ['--idle-timeout-ms', '300'] });
    try {
      const first = await idle.invoke('idle', {});
      assert.equal(first.status, 200);
      const [pid] = idle.sandboxPids();
      await waitFor(() => !alive(-pid), 5000, 'the idle sandbox to be stopped');
      const second = await idle.invoke('idle', {});
      assert.equal(second.status, 200);
      assert.notEqual(second.json.stream, first.json.stream);
    } finally {
      const how = await idle.stop();
      assert.equal(how.code, 0);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal} stops the service and every sandbox, exit 0`, { timeout: 60000 }, async () => {
      const sigDir = makeWorkdir();
      writeFiles(sigDir, { 'bash/bootstrap': BOOTSTRAP });
      const service = await startLambda(sigDir, { functions: [bash('sig', { concurrency: 3 })] });
      try {
        const hang = service.invoke('sig', { action: 'hang' }).catch((e) => e);
        const results = await Promise.all([service.invoke('sig', {}), service.invoke('sig', {})]);
        for (const r of results) assert.equal(r.status, 200);
        await service.waitForOutput(/action=hang/);
        const pids = service.sandboxPids();
        assert.ok(pids.length >= 2);
        const how = await service.stop(signal);
        assert.deepEqual(how, { code: 0, signal: null });
        // Killed processes may linger a moment as zombies until reaped.
        for (const pid of pids) await waitFor(() => !alive(-pid), 5000, `process group ${pid} to end`);
        const answer = await hang;
        assert.ok(answer instanceof Error || answer.status >= 500, 'the pending invocation ends');
      } finally {
        await service.stop();
      }
    });
  }
});
