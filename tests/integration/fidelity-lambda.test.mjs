// `tether lambda` next to AWS's own code (issue 13, items 4-6): what AWS's
// runtime interface emulator answers and what aws-lambda-go sends, checked
// through the real binary with a hand-written runtime, curl and the AWS CLI.
//
// - A second GET /next while the invocation is unanswered gets that same
//   invocation again (the emulator does; a runtime that lost its poll
//   recovers its work).
// - aws-lambda-go's lambdaurl answers a RESPONSE_STREAM URL with a chunked
//   POST of content type application/vnd.awslambda.http-integration-response
//   (prelude, 8 NULs, body) and error trailers declared, but no
//   Lambda-Runtime-Function-Response-Mode header: that answer streams.
// - Function.ResponseSizeTooLarge names the declared size, as the emulator's
//   rapi/handler/invocationresponse.go words it.
// - GET /2015-03-31/functions/ (ListFunctions as the AWS CLI sends it) gets
//   the same answer as without the slash.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { curl, makeWorkdir, parseCurlResponse, useLambda, writeFiles } from './lib/lambda.mjs';

const RUNTIME = `
import http from 'node:http';
import net from 'node:net';
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime';

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    // agent: false: every call on a connection of its own, as after a lost one
    const req = http.request({ host, port, method, path: base + path, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The bytes aws-lambda-go's runtime API client writes for lambdaurl's
// streamed answer: Go's net/http client with an io.Reader body (chunked, a
// chunk per Read), Trailer declared for the error trailers, no mode header.
function goStreamedPost(id, chunks, trailers = '') {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host, () => {
      socket.write('POST ' + base + '/invocation/' + id + '/response HTTP/1.1\\r\\n' +
        'Host: ' + host + ':' + port + '\\r\\n' +
        'User-Agent: aws-lambda-go/go1.19.8\\r\\n' +
        'Transfer-Encoding: chunked\\r\\n' +
        'Trailer: Lambda-Runtime-Function-Error-Body,Lambda-Runtime-Function-Error-Type\\r\\n' +
        'Content-Type: application/vnd.awslambda.http-integration-response\\r\\n' +
        'Accept-Encoding: gzip\\r\\n\\r\\n');
      let i = 0;
      const next = () => {
        if (i < chunks.length) {
          const c = Buffer.from(chunks[i++], 'latin1');
          socket.write(c.length.toString(16) + '\\r\\n');
          socket.write(c);
          socket.write('\\r\\n');
          setTimeout(next, 150);
        } else {
          socket.write('0\\r\\n' + trailers + '\\r\\n');
        }
      };
      next();
    });
    let answer = '';
    socket.on('data', (d) => { answer += d; if (answer.includes('\\r\\n\\r\\n')) { socket.end(); } });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

const prelude = (status, headers) => JSON.stringify({ statusCode: status, headers }) + '\\0'.repeat(8);

for (;;) {
  const first = await call('GET', '/invocation/next');
  const id = first.headers['lambda-runtime-aws-request-id'];
  const event = JSON.parse(first.body);
  if (event.probe === 'repoll') {
    const second = await call('GET', '/invocation/next');
    await call('POST', '/invocation/' + second.headers['lambda-runtime-aws-request-id'] + '/response',
      JSON.stringify({ first, second }));
  } else if (event.probe === 'too-large') {
    await call('POST', '/invocation/' + id + '/response', 'x'.repeat(6291600));
  } else if (event.rawPath === '/lambdaurl') {
    await goStreamedPost(id, [prelude(201, { 'Content-Type': 'text/plain', 'X-From': 'lambdaurl' }), 'hello ', 'world']);
  } else if (event.rawPath === '/lambdaurl-panic') {
    const error = Buffer.from(JSON.stringify({ errorMessage: 'boom', errorType: 'panic' })).toString('base64');
    await goStreamedPost(id, [prelude(200, { 'Content-Type': 'text/plain' }), 'half '],
      'Lambda-Runtime-Function-Error-Type: panic\\r\\nLambda-Runtime-Function-Error-Body: ' + error + '\\r\\n');
  } else {
    await call('POST', '/invocation/' + id + '/response', JSON.stringify({ event }));
  }
}
`;

const dir = makeWorkdir();
writeFiles(dir, { 'rt/runtime.mjs': RUNTIME });
const fn = (name, extra = {}) => ({ name, working_dir: 'rt', bootstrap: ['node', 'runtime.mjs'], timeout: 10, concurrency: 1, ...extra });
const lambda = await useLambda(dir, { functions: [fn('probe'), fn('stream', { url: true, streaming: true })] });

describe('tether lambda next to the emulator and aws-lambda-go', () => {
  test('a second GET /next while the invocation is unanswered gets the same invocation', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'repoll', n: 1 });
    assert.equal(r.status, 200, r.text);
    const { first, second } = r.json;
    assert.equal(second.status, 200);
    assert.equal(second.body, first.body);
    assert.equal(second.headers['lambda-runtime-aws-request-id'], r.headers.get('x-amzn-requestid'));
    for (const name of ['lambda-runtime-aws-request-id', 'lambda-runtime-deadline-ms',
      'lambda-runtime-invoked-function-arn', 'lambda-runtime-trace-id', 'content-type']) {
      assert.equal(second.headers[name], first.headers[name], name);
    }
    assert.ok(second.headers['lambda-runtime-trace-id'], 'a trace id, not an empty one');
  });

  test('lambdaurl: a streamed answer without the mode header streams', { timeout: 60000 }, async () => {
    const r = await curl(['-i', '-N', lambda.url('stream', 'lambdaurl')]);
    assert.equal(r.code, 0, r.stderr);
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 201, r.stdout.toString('latin1'));
    assert.deepEqual(res.headers.find(([n]) => n === 'x-from'), ['x-from', 'lambdaurl']);
    assert.deepEqual(res.headers.find(([n]) => n === 'transfer-encoding'), ['transfer-encoding', 'chunked']);
    assert.equal(res.body.toString(), 'hello world');
    // The body came in pieces as the runtime sent them, not at the end.
    assert.ok(r.chunks.length >= 2, `arrived in ${r.chunks.length} piece(s)`);
  });

  test('lambdaurl: error trailers after the head cut the stream short', { timeout: 60000 }, async () => {
    const r = await curl(['-i', '-N', lambda.url('stream', 'lambdaurl-panic')]);
    assert.notEqual(r.code, 0, 'curl must see an unfinished answer');
    const res = parseCurlResponse(r.stdout);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'half ');
  });

  test('Function.ResponseSizeTooLarge names the size the runtime declared', { timeout: 60000 }, async () => {
    const r = await lambda.invoke('probe', { probe: 'too-large' });
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.deepEqual(r.json, {
      errorMessage: 'Response payload size (6291600 bytes) exceeded maximum allowed payload size (6291556 bytes).',
      errorType: 'Function.ResponseSizeTooLarge',
    });
  });

  test('GET /2015-03-31/functions/ answers as without the slash', { timeout: 30000 }, async () => {
    const bare = await fetch(`${lambda.endpoint}/2015-03-31/functions`);
    const slash = await fetch(`${lambda.endpoint}/2015-03-31/functions/`);
    assert.equal(slash.status, bare.status);
    assert.equal(slash.headers.get('x-amzn-errortype'), bare.headers.get('x-amzn-errortype'));
    assert.equal(await slash.text(), await bare.text());
  });

  // Debian's awscli package is the AWS CLI v2, which sends the slash; a
  // newer v1 on PATH (without it) is used when that is missing.
  const aws = ['/usr/bin/aws', 'aws'].find((bin) => spawnSync(bin, ['--version']).status === 0);
  test("the AWS CLI's list-functions gets that answer too", {
    timeout: 60000,
    skip: !aws && 'the AWS CLI is not installed (scripts/install-deps --tests installs awscli)',
  }, () => {
    const r = spawnSync(aws, ['lambda', 'list-functions', '--endpoint-url', lambda.endpoint, '--region', 'us-east-1', '--no-paginate'], {
      encoding: 'utf8',
      timeout: 50000,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'AKIDTETHERCLI0000001',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_MAX_ATTEMPTS: '1',
        AWS_RETRY_MODE: 'standard',
        AWS_PAGER: '',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
    });
    assert.notEqual(r.status, 0);
    // This service has no credentials, so its control plane refuses every
    // caller (lambda-control.test.mjs deploys and lists with the CLI).
    assert.match(r.stderr, /\(AccessDeniedException\) when calling the ListFunctions operation( \(reached max retries: \d+\))?: tether lambda's control plane is off/);
  });
});
