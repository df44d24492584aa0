// `tether lambda`'s control plane driven by AWS's own clients: the official
// @aws-sdk/client-lambda for every operation (functions from zips made here,
// Node, Python and provided runtimes, layers in /opt, tags, pagination, the
// update states and every error), the AWS CLI for create-function and
// list-functions, and plain HTTP for requests that are not signed right.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteLayerVersionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand,
  GetLayerVersionCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListLayerVersionsCommand,
  ListTagsCommand,
  PublishLayerVersionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';

import { makeWorkdir, startLambda, waitFor } from './lib/lambda.mjs';
import { makeZip } from './lib/zip.mjs';

const KEY = { accessKeyId: 'AKIDTETHERCONTROL001', secretAccessKey: 'control-plane-secret' };
const ROLE = 'arn:aws:iam::012345678912:role/tether-test';
const SERVICE_ENV = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: undefined,
};

const nodeCode = (version, extra = '') =>
  makeZip({
    'index.js': `${extra}
exports.handler = async (event) => ({ version: ${version}, name: event.name,
  stage: process.env.STAGE ?? null, cwd: process.cwd(), task: process.env.LAMBDA_TASK_ROOT,
  waited: event.wait ? await new Promise((r) => setTimeout(() => r(event.wait), event.wait)) : 0 });
`,
  });

const BASH_BOOTSTRAP = String.raw`#!/bin/bash
# A custom runtime from a layer: answers every event with where it runs from.
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next") || exit 1
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\r' | cut -d' ' -f2)
  rm -f "$HEADERS"
  printf '{"from":"%s","data":"%s","opt":"%s","event":%s}' "$0" "$(cat "$LAMBDA_TASK_ROOT/data.txt")" \
    "$(cat /opt/extra.txt 2>/dev/null)" "$EVENT" |
    curl -sS -o /dev/null -X POST --data-binary @- "$API/invocation/$ID/response"
done
`;

const decode = (payload) => JSON.parse(Buffer.from(payload).toString());

async function expectError(promise, name, status, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, status);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('tether lambda: the control plane with @aws-sdk/client-lambda', () => {
  const dir = makeWorkdir();
  let lambda;
  let client;

  before(async () => {
    lambda = await startLambda(dir, null, { env: SERVICE_ENV });
    client = new LambdaClient({ endpoint: lambda.endpoint, region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
  });
  after(async () => {
    client?.destroy();
    await lambda?.stop();
  });

  const configuration = (name) => client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  const until = (name, check, what) =>
    waitFor(async () => {
      const c = await configuration(name);
      return check(c) ? c : null;
    }, 20000, `${name}: ${what}`);
  const invoke = async (name, payload = {}) => {
    const r = await client.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(payload) }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    return decode(r.Payload);
  };

  test('starts with no functions', async () => {
    const r = await client.send(new ListFunctionsCommand({}));
    assert.deepEqual(r.Functions, []);
    assert.equal(r.NextMarker, undefined);
  });

  test('CreateFunction (Node): Pending, then Active, then it answers with its own code', { timeout: 60000 }, async () => {
    const zip = nodeCode(1);
    const created = await client.send(
      new CreateFunctionCommand({
        FunctionName: 'hello-node',
        Runtime: 'nodejs20.x',
        Role: ROLE,
        Handler: 'index.handler',
        Code: { ZipFile: zip },
        Description: 'made by the SDK',
        Timeout: 10,
        MemorySize: 256,
        Environment: { Variables: { STAGE: 'one' } },
        Tags: { team: 'tether' },
      }),
    );
    assert.equal(created.$metadata.httpStatusCode, 201);
    assert.equal(created.FunctionName, 'hello-node');
    assert.equal(created.FunctionArn, 'arn:aws:lambda:us-east-1:012345678912:function:hello-node');
    assert.equal(created.Runtime, 'nodejs20.x');
    assert.equal(created.Role, ROLE);
    assert.equal(created.Handler, 'index.handler');
    assert.equal(created.CodeSize, zip.length);
    assert.equal(created.CodeSha256, crypto.createHash('sha256').update(zip).digest('base64'));
    assert.equal(created.Description, 'made by the SDK');
    assert.equal(created.Timeout, 10);
    assert.equal(created.MemorySize, 256);
    assert.equal(created.Version, '$LATEST');
    assert.deepEqual(created.Environment, { Variables: { STAGE: 'one' } });
    assert.equal(created.State, 'Pending');
    assert.equal(created.StateReasonCode, 'Creating');
    assert.equal(created.PackageType, 'Zip');
    assert.deepEqual(created.Architectures, ['x86_64']);
    assert.deepEqual(created.EphemeralStorage, { Size: 512 });
    assert.equal(created.LoggingConfig.LogGroup, '/aws/lambda/hello-node');
    assert.match(created.LastModified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.match(created.RevisionId, /^[0-9a-f-]{36}$/);
    await expectError(invoke('hello-node'), 'ResourceConflictException', 409, /Pending/);
    const active = await until('hello-node', (c) => c.State === 'Active', 'Active');
    assert.equal(active.LastUpdateStatus, 'Successful');
    const answer = await invoke('hello-node', { name: 'sdk' });
    assert.equal(answer.version, 1);
    assert.equal(answer.name, 'sdk');
    assert.equal(answer.stage, 'one');
    assert.equal(answer.cwd, answer.task);
  });

  test('GetFunction: Code.Location serves the zip, Tags come along', async () => {
    const r = await client.send(new GetFunctionCommand({ FunctionName: 'hello-node' }));
    assert.equal(r.Configuration.FunctionName, 'hello-node');
    assert.equal(r.Code.RepositoryType, 'S3');
    assert.deepEqual(r.Tags, { team: 'tether' });
    const res = await fetch(r.Code.Location);
    assert.equal(res.status, 200);
    const zip = Buffer.from(await res.arrayBuffer());
    assert.equal(crypto.createHash('sha256').update(zip).digest('base64'), r.Configuration.CodeSha256);
    const wrong = await fetch(r.Code.Location.replace(/[0-9a-f]{32}$/, '0'.repeat(32)));
    assert.equal(wrong.status, 404);
  });

  test('CreateFunction (Python) runs with tether\'s Python runtime', { timeout: 60000 }, async () => {
    await client.send(
      new CreateFunctionCommand({
        FunctionName: 'hello-python',
        Runtime: 'python3.12',
        Role: ROLE,
        Handler: 'app.handler',
        Code: { ZipFile: makeZip({ 'app.py': 'import os\ndef handler(event, context):\n    return {"py": event.get("x"), "fn": context.function_name}\n' }) },
      }),
    );
    await until('hello-python', (c) => c.State === 'Active', 'Active');
    assert.deepEqual(await invoke('hello-python', { x: 7 }), { py: 7, fn: 'hello-python' });
  });

  test('UpdateFunctionCode: InProgress, a second update conflicts, then the new code runs', { timeout: 60000 }, async () => {
    const before = await configuration('hello-node');
    const updated = await client.send(
      new UpdateFunctionCodeCommand({ FunctionName: 'hello-node', ZipFile: nodeCode(2) }),
    );
    assert.equal(updated.LastUpdateStatus, 'InProgress');
    assert.notEqual(updated.RevisionId, before.RevisionId);
    assert.notEqual(updated.CodeSha256, before.CodeSha256);
    await expectError(
      client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello-node', Timeout: 11 })),
      'ResourceConflictException',
      409,
      /update is in progress/,
    );
    await until('hello-node', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    assert.equal((await invoke('hello-node')).version, 2);
  });

  test('an invocation in flight finishes on the old code; the next one gets the new', { timeout: 60000 }, async () => {
    const slow = invoke('hello-node', { wait: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello-node', ZipFile: nodeCode(3) }));
    await until('hello-node', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    assert.equal((await invoke('hello-node')).version, 3);
    const old = await slow;
    assert.equal(old.version, 2);
    assert.equal(old.waited, 1500);
  });

  test('UpdateFunctionConfiguration: new settings round-trip exactly, RevisionId guards races', { timeout: 60000 }, async () => {
    const current = await configuration('hello-node');
    await expectError(
      client.send(
        new UpdateFunctionConfigurationCommand({ FunctionName: 'hello-node', Timeout: 20, RevisionId: crypto.randomUUID() }),
      ),
      'PreconditionFailedException',
      412,
    );
    const r = await client.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'hello-node',
        RevisionId: current.RevisionId,
        Timeout: 20,
        Environment: { Variables: { STAGE: 'two', EXTRA: 'x' } },
        Description: 'changed',
      }),
    );
    assert.equal(r.LastUpdateStatus, 'InProgress');
    const done = await until('hello-node', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    assert.equal(done.Timeout, 20);
    assert.equal(done.Description, 'changed');
    assert.deepEqual(done.Environment, { Variables: { STAGE: 'two', EXTRA: 'x' } });
    assert.equal(done.CodeSha256, current.CodeSha256);
    assert.equal((await invoke('hello-node')).stage, 'two');
    // Back to what it was: the configuration reads exactly as before.
    await client.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'hello-node',
        Timeout: current.Timeout,
        Environment: current.Environment,
        Description: current.Description,
      }),
    );
    const restored = await until('hello-node', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    for (const key of ['Runtime', 'Handler', 'Role', 'Timeout', 'MemorySize', 'Description', 'Environment', 'Layers', 'CodeSha256', 'CodeSize', 'Architectures']) {
      assert.deepEqual(restored[key], current[key], key);
    }
  });

  test('layers: versions, a bootstrap only in /opt, a Node module from /opt/nodejs/node_modules', { timeout: 90000 }, async () => {
    const runtime = await client.send(
      new PublishLayerVersionCommand({
        LayerName: 'bash-runtime',
        Description: 'a runtime',
        Content: { ZipFile: makeZip({ bootstrap: BASH_BOOTSTRAP }) },
        CompatibleRuntimes: ['provided.al2023'],
      }),
    );
    assert.equal(runtime.$metadata.httpStatusCode, 201);
    assert.equal(runtime.Version, 1);
    assert.equal(runtime.LayerVersionArn, 'arn:aws:lambda:us-east-1:012345678912:layer:bash-runtime:1');
    assert.equal(runtime.LayerArn, 'arn:aws:lambda:us-east-1:012345678912:layer:bash-runtime');
    assert.deepEqual(runtime.CompatibleRuntimes, ['provided.al2023']);
    const second = await client.send(
      new PublishLayerVersionCommand({ LayerName: 'bash-runtime', Content: { ZipFile: makeZip({ bootstrap: BASH_BOOTSTRAP, 'extra.txt': 'v2' }) } }),
    );
    assert.equal(second.Version, 2);

    await client.send(
      new CreateFunctionCommand({
        FunctionName: 'from-layer',
        Runtime: 'provided.al2023',
        Role: ROLE,
        Handler: 'unused',
        Code: { ZipFile: makeZip({ 'data.txt': 'code' }) },
        Layers: [second.LayerVersionArn],
      }),
    );
    const active = await until('from-layer', (c) => c.State === 'Active', 'Active');
    assert.deepEqual(active.Layers, [{ Arn: second.LayerVersionArn, CodeSize: second.Content.CodeSize }]);
    const answer = await invoke('from-layer', { via: 'layer' });
    assert.equal(answer.data, 'code');
    assert.deepEqual(answer.event, { via: 'layer' });
    // As root (the suite's user) the layers are mounted at a private /opt.
    if (process.getuid() === 0) {
      assert.equal(answer.from, '/opt/bootstrap');
      assert.equal(answer.opt, 'v2');
    } else {
      assert.match(answer.from, /\/bootstrap$/);
    }
    assert.ok(!fs.existsSync('/opt/extra.txt'), 'the mount stays private to the sandbox');

    const lib = await client.send(
      new PublishLayerVersionCommand({
        LayerName: 'greeting',
        Content: { ZipFile: makeZip({ 'nodejs/node_modules/greeting/index.js': 'exports.greet = (n) => `hello ${n} from /opt`;' }) },
      }),
    );
    // A later layer overwrites an earlier one's file, as in /opt.
    const override = await client.send(
      new PublishLayerVersionCommand({
        LayerName: 'greeting-override',
        Content: { ZipFile: makeZip({ 'nodejs/node_modules/greeting/index.js': 'exports.greet = (n) => `hi ${n}, overridden`;' }) },
      }),
    );
    await client.send(
      new CreateFunctionCommand({
        FunctionName: 'uses-module',
        Runtime: 'nodejs20.x',
        Role: ROLE,
        Handler: 'index.handler',
        Code: { ZipFile: makeZip({ 'index.js': "const { greet } = require('greeting');\nexports.handler = async (e) => greet(e.who);\n" }) },
        Layers: [lib.LayerVersionArn],
      }),
    );
    await until('uses-module', (c) => c.State === 'Active', 'Active');
    assert.equal(await invoke('uses-module', { who: 'sdk' }), 'hello sdk from /opt');
    await client.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: 'uses-module', Layers: [lib.LayerVersionArn, override.LayerVersionArn] }),
    );
    await until('uses-module', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    assert.equal(await invoke('uses-module', { who: 'sdk' }), 'hi sdk, overridden');

    const got = await client.send(new GetLayerVersionCommand({ LayerName: 'bash-runtime', VersionNumber: 1 }));
    assert.equal(got.Description, 'a runtime');
    assert.equal(got.Content.CodeSha256, runtime.Content.CodeSha256);
    const byArn = await client.send(new GetLayerVersionByArnCommand({ Arn: second.LayerVersionArn }));
    assert.equal(byArn.Version, 2);
    const page = await client.send(new ListLayerVersionsCommand({ LayerName: 'bash-runtime', MaxItems: 1 }));
    assert.deepEqual(page.LayerVersions.map((v) => v.Version), [2]);
    const rest = await client.send(new ListLayerVersionsCommand({ LayerName: 'bash-runtime', Marker: page.NextMarker }));
    assert.deepEqual(rest.LayerVersions.map((v) => v.Version), [1]);
    assert.equal(rest.NextMarker, undefined);
    await client.send(new DeleteLayerVersionCommand({ LayerName: 'bash-runtime', VersionNumber: 2 }));
    await expectError(
      client.send(new GetLayerVersionCommand({ LayerName: 'bash-runtime', VersionNumber: 2 })),
      'ResourceNotFoundException',
      404,
    );
    // A function that uses a deleted version keeps it.
    assert.equal((await invoke('from-layer')).data, 'code');
  });

  test('a provided function without any bootstrap fails with a reason', { timeout: 60000 }, async () => {
    await client.send(
      new CreateFunctionCommand({
        FunctionName: 'no-bootstrap',
        Runtime: 'provided.al2023',
        Role: ROLE,
        Handler: 'x',
        Code: { ZipFile: makeZip({ 'readme.txt': 'nothing to run' }) },
      }),
    );
    const failed = await until('no-bootstrap', (c) => c.State !== 'Pending', 'a state');
    assert.equal(failed.State, 'Failed');
    assert.match(failed.StateReason, /Couldn't find valid bootstrap/);
    await expectError(invoke('no-bootstrap'), 'ResourceConflictException', 409, /Failed/);
    // An update that cannot run fails; the function keeps running what it ran.
    await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello-node', Runtime: 'provided.al2023' }));
    const update = await until('hello-node', (c) => c.LastUpdateStatus !== 'InProgress', 'the update to end');
    assert.equal(update.LastUpdateStatus, 'Failed');
    assert.match(update.LastUpdateStatusReason, /Couldn't find valid bootstrap/);
    assert.equal(update.State, 'Active');
    assert.equal((await invoke('hello-node')).version, 3);
    await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello-node', Runtime: 'nodejs20.x' }));
    await until('hello-node', (c) => c.LastUpdateStatus === 'Successful', 'Successful');
    assert.equal((await invoke('hello-node')).version, 3);
  });

  test('tags: TagResource, UntagResource, ListTags', async () => {
    const arn = 'arn:aws:lambda:us-east-1:012345678912:function:hello-node';
    await client.send(new TagResourceCommand({ Resource: arn, Tags: { env: 'dev', owner: 'me' } }));
    assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'tether', env: 'dev', owner: 'me' });
    await client.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team', 'owner'] }));
    assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags, { env: 'dev' });
    await expectError(
      client.send(new TagResourceCommand({ Resource: arn, Tags: { 'aws:reserved': 'x' } })),
      'InvalidParameterValueException',
      400,
    );
  });

  test('ListFunctions pages with Marker and MaxItems', async () => {
    const names = [];
    let marker;
    let pages = 0;
    do {
      const r = await client.send(new ListFunctionsCommand({ MaxItems: 2, Marker: marker }));
      assert.ok(r.Functions.length <= 2);
      names.push(...r.Functions.map((f) => f.FunctionName));
      marker = r.NextMarker;
      pages++;
    } while (marker);
    assert.deepEqual(names, ['hello-node', 'hello-python', 'from-layer', 'uses-module', 'no-bootstrap']);
    assert.equal(pages, 3);
  });

  test('errors as AWS answers them', { timeout: 240000 }, async () => {
    const base = { Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: nodeCode(1) } };
    await expectError(client.send(new GetFunctionCommand({ FunctionName: 'nope' })), 'ResourceNotFoundException', 404, /Function not found/);
    await expectError(client.send(new CreateFunctionCommand({ FunctionName: 'hello-node', ...base })), 'ResourceConflictException', 409);
    await expectError(
      client.send(new CreateFunctionCommand({ FunctionName: 'image', PackageType: 'Image', Role: ROLE, Code: { ImageUri: '1.dkr.ecr/x:1' } })),
      'InvalidParameterValueException',
      400,
      /images are not supported/,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'bad-zip', Code: { ZipFile: Buffer.from('not a zip') } })),
      'InvalidParameterValueException',
      400,
      /Could not unzip/,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'escape', Code: { ZipFile: makeZip({ '../evil.js': 'x' }) } })),
      'InvalidParameterValueException',
      400,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'reserved', Environment: { Variables: { AWS_REGION: 'x' } } })),
      'InvalidParameterValueException',
      400,
      /AWS_REGION/,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'big-env', Environment: { Variables: { BIG: 'x'.repeat(5000) } } })),
      'InvalidParameterValueException',
      400,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'layers', Layers: Array(6).fill('arn:aws:lambda:us-east-1:012345678912:layer:greeting:1') })),
      'InvalidParameterValueException',
      400,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'slow', Timeout: 901 })),
      'InvalidParameterValueException',
      400,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'java', Runtime: 'java21' })),
      'InvalidParameterValueException',
      400,
      /not supported/,
    );
    // A zip bomb: 300 MB of zeros deflates to a few hundred KB; refused at the unzipped limit.
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'bomb', Code: { ZipFile: makeZip({ 'zeros.bin': Buffer.alloc(300 * 1024 * 1024) }) } })),
      'InvalidParameterValueException',
      400,
      /Unzipped size must be smaller than 262144000 bytes/,
    );
    await expectError(
      client.send(new CreateFunctionCommand({ ...base, FunctionName: 'huge', Code: { ZipFile: makeZip({ 'r.bin': { data: crypto.randomBytes(51 * 1024 * 1024), stored: true } }) } })),
      'RequestEntityTooLargeException',
      413,
    );
    const names = (await client.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName);
    for (const refused of ['image', 'bad-zip', 'escape', 'reserved', 'big-env', 'layers', 'slow', 'java', 'bomb', 'huge']) {
      assert.ok(!names.includes(refused), refused);
    }
  });

  test('requests that are not signed with the service\'s credentials are refused', async () => {
    const plain = await fetch(`${lambda.endpoint}/2015-03-31/functions/`);
    assert.equal(plain.status, 403);
    assert.equal(plain.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
    const wrongSecret = new LambdaClient({ endpoint: lambda.endpoint, region: 'us-east-1', credentials: { ...KEY, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    const otherKey = new LambdaClient({ endpoint: lambda.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSOMEONEELSE00001', secretAccessKey: 'x' }, maxAttempts: 1 });
    const otherRegion = new LambdaClient({ endpoint: lambda.endpoint, region: 'eu-west-1', credentials: KEY, maxAttempts: 1 });
    try {
      await expectError(wrongSecret.send(new ListFunctionsCommand({})), 'InvalidSignatureException', 403);
      await expectError(otherKey.send(new DeleteFunctionCommand({ FunctionName: 'hello-node' })), 'UnrecognizedClientException', 403);
      await expectError(otherRegion.send(new ListFunctionsCommand({})), 'InvalidSignatureException', 403);
      await expectError(
        wrongSecret.send(new CreateFunctionCommand({ FunctionName: 'intruder', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: nodeCode(9) } })),
        'InvalidSignatureException',
        403,
      );
    } finally {
      wrongSecret.destroy();
      otherKey.destroy();
      otherRegion.destroy();
    }
    assert.equal((await configuration('hello-node')).FunctionName, 'hello-node');
    await expectError(configuration('intruder'), 'ResourceNotFoundException', 404);
  });

  test('DeleteFunction: gone from the API and from Invoke', { timeout: 30000 }, async () => {
    const r = await client.send(new DeleteFunctionCommand({ FunctionName: 'hello-python' }));
    assert.equal(r.$metadata.httpStatusCode, 204);
    await expectError(configuration('hello-python'), 'ResourceNotFoundException', 404);
    await expectError(invoke('hello-python'), 'ResourceNotFoundException', 404);
    await expectError(client.send(new DeleteFunctionCommand({ FunctionName: 'hello-python' })), 'ResourceNotFoundException', 404);
  });
});

describe('tether lambda: a control plane without credentials', () => {
  const dir = makeWorkdir();
  test('answers 403 and says how to enable it; Invoke keeps working', async () => {
    const lambda = await startLambda(dir, null, {
      env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined },
    });
    const client = new LambdaClient({ endpoint: lambda.endpoint, region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
    try {
      await expectError(client.send(new ListFunctionsCommand({})), 'AccessDeniedException', 403, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      await expectError(client.send(new InvokeCommand({ FunctionName: 'none' })), 'ResourceNotFoundException', 404);
    } finally {
      client.destroy();
      await lambda.stop();
    }
  });
});

// Debian's awscli is the AWS CLI v2; a pyenv or pip v1 on PATH works as well.
const aws = ['/usr/bin/aws', 'aws'].find((bin) => spawnSync(bin, ['--version']).status === 0);
describe('tether lambda: the AWS CLI deploys to it', () => {
  const dir = makeWorkdir();
  test('create-function with --zip-file, list-functions, invoke', {
    timeout: 120000,
    skip: !aws && 'no AWS CLI is installed (scripts/install-deps --tests installs awscli)',
  }, async () => {
    const lambda = await startLambda(dir, null, { env: SERVICE_ENV });
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_SESSION_TOKEN: '',
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    delete env.AWS_SESSION_TOKEN;
    const cli = (...args) => {
      const r = spawnSync(aws, ['lambda', ...args, '--endpoint-url', lambda.endpoint, '--region', 'us-east-1', '--output', 'json'], { encoding: 'utf8', timeout: 60000, env });
      assert.equal(r.status, 0, `aws lambda ${args[0]}: ${r.stderr}`);
      return r.stdout ? JSON.parse(r.stdout) : null;
    };
    try {
      const zipPath = path.join(dir, 'cli.zip');
      fs.writeFileSync(zipPath, nodeCode(42));
      const created = cli('create-function', '--function-name', 'from-cli', '--runtime', 'nodejs20.x', '--role', ROLE, '--handler', 'index.handler', '--zip-file', `fileb://${zipPath}`);
      assert.equal(created.FunctionName, 'from-cli');
      assert.equal(created.State, 'Pending');
      await waitFor(() => cli('get-function-configuration', '--function-name', 'from-cli').State === 'Active', 20000, 'from-cli to be Active');
      const listed = cli('list-functions');
      assert.deepEqual(listed.Functions.map((f) => f.FunctionName), ['from-cli']);
      const out = path.join(dir, 'out.json');
      const invoked = cli('invoke', '--function-name', 'from-cli', '--payload', Buffer.from('{"name":"cli"}').toString('base64'), out);
      assert.equal(invoked.StatusCode, 200);
      const answer = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.equal(answer.version, 42);
      assert.equal(answer.name, 'cli');
    } finally {
      await lambda.stop();
    }
  });
});

describe('tether lambda --state-dir: functions and layers survive a restart', () => {
  const dir = makeWorkdir();
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  const start = () => startLambda(dir, null, { env: SERVICE_ENV, args: ['--state-dir', stateDir] });
  const connect = (lambda) =>
    new LambdaClient({ endpoint: lambda.endpoint, region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
  const activeConfiguration = (client, name) =>
    waitFor(async () => {
      const c = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      return c.State === 'Active' && c.LastUpdateStatus === 'Successful' ? c : null;
    }, 20000, `${name} to be Active`);

  test('the same configuration, revision, tags and layers after a restart; a deleted function stays deleted', { timeout: 120000 }, async () => {
    let lambda = await start();
    let client = connect(lambda);
    let before;
    try {
      const layer = await client.send(
        new PublishLayerVersionCommand({
          LayerName: 'kept',
          Description: 'kept across restarts',
          Content: { ZipFile: makeZip({ 'nodejs/node_modules/kept/index.js': 'exports.word = "kept";' }) },
        }),
      );
      for (const name of ['survivor', 'doomed']) {
        await client.send(
          new CreateFunctionCommand({
            FunctionName: name,
            Runtime: 'nodejs20.x',
            Role: ROLE,
            Handler: 'index.handler',
            Code: { ZipFile: makeZip({ 'index.js': "exports.handler = async () => require('kept').word + ' ' + process.env.WHO;" }) },
            Layers: [layer.LayerVersionArn],
            Environment: { Variables: { WHO: name } },
            Tags: { kept: 'yes' },
          }),
        );
      }
      await client.send(new TagResourceCommand({ Resource: 'arn:aws:lambda:us-east-1:012345678912:function:survivor', Tags: { more: '1' } }));
      before = await activeConfiguration(client, 'survivor');
      await activeConfiguration(client, 'doomed');
      await client.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    } finally {
      client.destroy();
      await lambda.stop();
    }
    for (const file of fs.readdirSync(path.join(stateDir, '.tether', 'lambda-functions'))) {
      assert.equal(fs.statSync(path.join(stateDir, '.tether', 'lambda-functions', file)).mode & 0o777, 0o600, file);
    }

    lambda = await start();
    client = connect(lambda);
    try {
      const after = await activeConfiguration(client, 'survivor');
      for (const key of ['FunctionArn', 'Runtime', 'Role', 'Handler', 'CodeSize', 'CodeSha256', 'Description', 'Timeout', 'MemorySize', 'LastModified', 'RevisionId', 'Environment', 'Layers']) {
        assert.deepEqual(after[key], before[key], key);
      }
      const r = await client.send(new InvokeCommand({ FunctionName: 'survivor', Payload: '{}' }));
      assert.equal(decode(r.Payload), 'kept survivor');
      assert.deepEqual((await client.send(new GetFunctionCommand({ FunctionName: 'survivor' }))).Tags, { kept: 'yes', more: '1' });
      await expectError(client.send(new GetFunctionCommand({ FunctionName: 'doomed' })), 'ResourceNotFoundException', 404);
      const layer = await client.send(new GetLayerVersionCommand({ LayerName: 'kept', VersionNumber: 1 }));
      assert.equal(layer.Description, 'kept across restarts');
      const next = await client.send(new PublishLayerVersionCommand({ LayerName: 'kept', Content: { ZipFile: makeZip({ 'x.txt': 'x' }) } }));
      assert.equal(next.Version, 2);
    } finally {
      client.destroy();
      await lambda.stop();
    }
  });
});
