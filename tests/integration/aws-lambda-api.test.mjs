// The Lambda control-plane requests `tether dev` and `tether detach` make to
// attach and restore a deployed function, each compared with what the
// official @aws-sdk/client-lambda serializes for the same operation and
// input (method, path, query, content-type, the JSON body), each signature
// checked with AWS's own signer, and each answer of the stand-in fed to the
// same SDK, which must deserialize it. The stand-in keeps one function and
// its tags and layers, and honours RevisionId as Lambda does, so attach,
// restore, kill -9 + detach and two racing sessions run against it here;
// the end-to-end runs against `tether lambda` are in attach.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListLayerVersionsCommand,
  ListTagsCommand,
  PublishLayerVersionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';

import { AppSyncClient, CreateApiCommand, CreateChannelNamespaceCommand, GetApiCommand, ListApisCommand, ListChannelNamespacesCommand } from '@aws-sdk/client-appsync';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';

import { TEST_CREDENTIALS, compareRequests, credentialsEnv, sdkRequest, startCapture, verifySigV4 } from './lib/aws-capture.mjs';
import { TETHER_BIN, makeProject, sanitizerFindings, spawnDev, startBroker, tempDir, waitFor } from './lib/dev.mjs';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const NAME = 'shop-dev-Api';
const ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${NAME}`;
const DEPS_LAYER = `arn:aws:lambda:${REGION}:${ACCOUNT}:layer:deps:4`;
const BRIDGE_LAYER = 'tether-bridge-x86_64';
const API_KEY = 'da2-attachtestkey000000000000';

/* ------------------------------------------------------------ the stand-in */

function originalConfiguration() {
  return {
    FunctionName: NAME,
    FunctionArn: ARN,
    Runtime: 'nodejs22.x',
    Role: `arn:aws:iam::${ACCOUNT}:role/shop-dev-Api-role`,
    Handler: 'index.handler',
    CodeSize: 312,
    Description: '',
    Timeout: 3,
    MemorySize: 128,
    LastModified: '2026-12-01T10:00:00.000+0000',
    CodeSha256: 'sOmEcOdEsHa256=',
    Version: '$LATEST',
    Environment: { Variables: { TABLE: 'orders' } },
    RevisionId: 'rev-0',
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: ['x86_64'],
    Layers: [{ Arn: DEPS_LAYER, CodeSize: 10 }],
  };
}

function lambdaError(status, type, message) {
  return { status, headers: { 'x-amzn-errortype': type }, body: { Type: 'User', message } };
}

/** One function, its tags and the bridge layer's versions, as Lambda keeps them. */
class LambdaStandIn {
  constructor() {
    this.configuration = originalConfiguration();
    this.tags = { team: 'shop' };
    this.layers = [];
    this.revision = 0;
    this.polls = 0; // GetFunctionConfiguration answers still InProgress
    this.log = []; // {request, answer}
  }

  answer(request) {
    let answer;
    try {
      answer = this.route(request);
    } catch (e) {
      answer = lambdaError(500, 'ServiceException', `the stand-in failed: ${e.stack}`);
    }
    this.log.push({ request, answer });
    return answer;
  }

  isOurs(label) {
    const name = decodeURIComponent(label);
    return name === NAME || name === ARN;
  }

  route(r) {
    const m = /^\/(2015-03-31\/functions|2017-03-31\/tags|2018-10-31\/layers)\/([^/]+)(\/.*)?$/.exec(r.path);
    if (!m) return lambdaError(404, 'UnknownOperationException', r.path);
    const [, base, label, rest = ''] = m;
    if (base === '2018-10-31/layers') return this.layerRoute(r, decodeURIComponent(label), rest);
    if (!this.isOurs(label)) return lambdaError(404, 'ResourceNotFoundException', `Function not found: ${label}`);
    if (base === '2017-03-31/tags') return this.tagRoute(r);
    if (r.method === 'GET' && rest === '') {
      return { body: { Configuration: this.configuration, Code: { RepositoryType: 'S3', Location: 'https://example.invalid/code' }, Tags: this.tags } };
    }
    if (r.method === 'GET' && rest === '/configuration') {
      const c = { ...this.configuration };
      if (this.polls > 0) {
        this.polls -= 1;
        c.LastUpdateStatus = 'InProgress';
      }
      return { body: c };
    }
    if (r.method === 'PUT' && rest === '/configuration') return this.update(JSON.parse(r.body.toString()));
    return lambdaError(404, 'UnknownOperationException', r.path);
  }

  update(input) {
    if (input.RevisionId && input.RevisionId !== this.configuration.RevisionId) {
      return lambdaError(412, 'PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    }
    const c = this.configuration;
    for (const key of ['Runtime', 'Handler', 'Timeout', 'Environment']) if (key in input) c[key] = input[key];
    if ('Layers' in input) c.Layers = input.Layers.map((Arn) => ({ Arn, CodeSize: 10 }));
    this.revision += 1;
    c.RevisionId = `rev-${this.revision}`;
    c.LastModified = `2026-12-07T22:00:${String(this.revision).padStart(2, '0')}.000+0000`;
    this.polls = 1; // the next read still sees the update in progress
    return { body: { ...c, LastUpdateStatus: 'InProgress' } };
  }

  tagRoute(r) {
    if (r.method === 'GET') return { body: { Tags: this.tags } };
    if (r.method === 'POST') {
      Object.assign(this.tags, JSON.parse(r.body.toString()).Tags);
      return { status: 204 };
    }
    if (r.method === 'DELETE') {
      const keys = new URL(r.url, 'http://x').searchParams.getAll('tagKeys');
      for (const k of keys) delete this.tags[k];
      return { status: 204 };
    }
    return lambdaError(404, 'UnknownOperationException', r.path);
  }

  layerRoute(r, name, rest) {
    if (rest !== '/versions') return lambdaError(404, 'UnknownOperationException', r.path);
    if (r.method === 'GET') return { body: { LayerVersions: name === BRIDGE_LAYER ? [...this.layers].reverse() : [] } };
    const input = JSON.parse(r.body.toString());
    const version = this.layers.length + 1;
    const layer = {
      LayerVersionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:layer:${name}:${version}`,
      Version: version,
      Description: input.Description,
      CreatedDate: '2026-12-07T22:00:00.000+0000',
      CompatibleRuntimes: input.CompatibleRuntimes,
      CompatibleArchitectures: input.CompatibleArchitectures,
    };
    this.layers.push(layer);
    return {
      status: 201,
      body: {
        Content: { Location: 'https://example.invalid/layer', CodeSha256: 'x', CodeSize: Buffer.from(input.Content.ZipFile, 'base64').length },
        LayerArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:layer:${name}`,
        ...layer,
      },
    };
  }
}

/* ------------------------------------------------------------ the project */

let broker;
let capture;
let lambda;
let bridgeZip;

before(async () => {
  broker = await startBroker(['--api-key', API_KEY]);
  lambda = new LambdaStandIn();
  capture = await startCapture({ answer: (r) => lambda.answer(r) });
  const dir = tempDir('tether-attach-zip-');
  const zip = path.join(dir, 'bridge.zip');
  execFileSync(TETHER_BIN, ['bridge', 'package', '--output', zip], { stdio: 'pipe' });
  bridgeZip = fs.readFileSync(zip);
});

after(async () => {
  await capture?.close();
  await broker?.stop();
});

function project({ stack } = {}) {
  return makeProject({
    files: {
      'tether.json': {
        app: 'shop',
        stage: 'ci',
        aws: stack ? { region: REGION, stack } : { region: REGION },
        events: { http: broker.info.http, apiKey: API_KEY },
        functions: stack
          ? { Api: { handler: 'api.handler', runtime: 'nodejs22.x' }, Other: { handler: 'api.handler', runtime: 'nodejs22.x' } }
          : { Api: { handler: 'api.handler', runtime: 'nodejs22.x', deployed: NAME } },
      },
      'api.mjs': 'export const handler = async () => ({ local: true });\n',
    },
  });
}

const env = { ...credentialsEnv(), AWS_ENDPOINT_URL_LAMBDA: '', AWS_REGION: REGION, AWS_PROFILE: '', HOME: '/nonexistent' };

function devIn(dir, args = [], extra = {}) {
  return spawnDev(dir, { args, env: { ...env, AWS_ENDPOINT_URL_LAMBDA: capture.url, ...extra } });
}

/** `tether detach ARGS` in dir; the stand-in answers meanwhile (so never a sync spawn). */
function detach(dir, args) {
  return new Promise((resolve) => {
    execFile(TETHER_BIN, ['detach', ...args], { cwd: dir, env: { ...process.env, ...env, AWS_ENDPOINT_URL_LAMBDA: capture.url }, timeout: 60000 }, (err, stdout, stderr) => {
      assert.equal(sanitizerFindings(stderr).length, 0, stderr);
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

async function attached(dev) {
  try {
    return await waitFor(() => dev.records.find((r) => r.type === 'attach' && (r.event === 'attached' || r.event === 'failed')) || (!dev.alive && { event: 'exited' }), 30000, 'the function to be attached');
  } catch (err) {
    throw new Error(`${err.message}\n${dev.dump()}`);
  }
}

function withoutTimes(c) {
  const { LastModified, RevisionId, ...rest } = c;
  return rest;
}

/* ------------------------------------------------------------ the SDK's side */

/** The SDK command and input for one request tether made. */
function sdkCommandFor(r, body) {
  const m = /^\/(2015-03-31\/functions|2017-03-31\/tags|2018-10-31\/layers)\/([^/]+)(\/.*)?$/.exec(r.path);
  const label = decodeURIComponent(m[2]);
  const rest = m[3] ?? '';
  if (m[1] === '2015-03-31/functions') {
    if (r.method === 'GET' && rest === '') return new GetFunctionCommand({ FunctionName: label });
    if (r.method === 'GET') return new GetFunctionConfigurationCommand({ FunctionName: label });
    return new UpdateFunctionConfigurationCommand({ FunctionName: label, ...body });
  }
  if (m[1] === '2017-03-31/tags') {
    if (r.method === 'GET') return new ListTagsCommand({ Resource: label });
    if (r.method === 'POST') return new TagResourceCommand({ Resource: label, Tags: body.Tags });
    return new UntagResourceCommand({ Resource: label, TagKeys: new URL(r.url, 'http://x').searchParams.getAll('tagKeys') });
  }
  if (r.method === 'GET') return new ListLayerVersionsCommand({ LayerName: label, CompatibleArchitecture: r.query.CompatibleArchitecture });
  return new PublishLayerVersionCommand({
    LayerName: label,
    Description: body.Description,
    Content: { ZipFile: bridgeZip },
    CompatibleRuntimes: ['provided.al2023'],
    CompatibleArchitectures: ['x86_64'],
  });
}

/** Every request of `log` against the SDK's, and every answer through it. */
async function compareAll(log) {
  const seen = new Set();
  for (const { request, answer } of log) {
    const body = request.body.length ? JSON.parse(request.body.toString()) : undefined;
    const command = sdkCommandFor(request, body);
    const sdk = await sdkRequest((config) => new LambdaClient(config), command, { answer, region: REGION });
    compareRequests(request, sdk.request, { headers: ['content-type'] });
    // A repeated query key (UntagResource's tagKeys) is signed with every value.
    const params = new URL(request.url, 'http://x').searchParams;
    const query = Object.fromEntries([...new Set(params.keys())].map((k) => [k, params.getAll(k).length > 1 ? params.getAll(k) : params.get(k)]));
    assert.equal(await verifySigV4({ ...request, query }, { credentials: TEST_CREDENTIALS, region: REGION, service: 'lambda' }), true, `SigV4 of ${command.constructor.name}`);
    if ((answer.status ?? 200) < 300) assert.equal(sdk.error, undefined, `the SDK reads the answer to ${command.constructor.name}: ${sdk.error}`);
    else assert.equal(sdk.error?.name, answer.headers['x-amzn-errortype']);
    seen.add(command.constructor.name);
  }
  return seen;
}

/* ------------------------------------------------------------ the tests */

describe('attach and restore against a Lambda stand-in, every request as the SDK makes it', () => {
  test('tether dev attaches on start and restores on SIGINT; every request matches the SDK', async () => {
    const dir = project();
    lambda.log = [];
    const dev = devIn(dir);
    const r = await attached(dev);
    assert.equal(r.event, 'attached', dev.dump());
    const c = lambda.configuration;
    assert.equal(c.Runtime, 'provided.al2023');
    assert.equal(c.Handler, 'bootstrap');
    assert.deepEqual(c.Layers.map((l) => l.Arn), [DEPS_LAYER, lambda.layers[0].LayerVersionArn]);
    const key = fs.readFileSync(path.join(dir, '.tether', 'keys', 'ci.key'), 'utf8').trim();
    const vars = c.Environment.Variables;
    assert.match(vars.TETHER_SESSION, /^[0-9a-f]{16} \S+@\S+ pid \d+$/);
    assert.deepEqual(vars, {
      TABLE: 'orders',
      TETHER_EVENTS_HTTP: broker.info.http,
      TETHER_EVENTS_REGION: REGION,
      TETHER_EVENTS_API_KEY: API_KEY,
      TETHER_APP: 'shop',
      TETHER_STAGE: 'ci',
      TETHER_NAMESPACE: 'tether',
      TETHER_FUNCTION_ID: 'Api',
      TETHER_BRIDGE_KEY: key,
      TETHER_SESSION: vars.TETHER_SESSION,
    });
    assert.ok(lambda.tags['tether:session'].includes('pid'));
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.tether', 'attached', 'Api.json'), 'utf8'));
    assert.equal(state.arn, ARN);
    assert.deepEqual(state.configuration, originalConfiguration());
    assert.equal(JSON.stringify(state).includes(key), false, 'the state file never holds the bridge key');

    const stopped = await dev.stop('SIGINT');
    assert.equal(stopped.code, 0, dev.dump());
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
    assert.deepEqual(lambda.tags, { team: 'shop' });
    assert.equal(fs.existsSync(path.join(dir, '.tether', 'attached', 'Api.json')), false);
    assert.ok(dev.records.some((x) => x.type === 'attach' && x.event === 'restored'), dev.dump());

    const seen = await compareAll(lambda.log);
    assert.deepEqual([...seen].sort(), [
      'GetFunctionCommand',
      'GetFunctionConfigurationCommand',
      'ListLayerVersionsCommand',
      'ListTagsCommand',
      'PublishLayerVersionCommand',
      'TagResourceCommand',
      'UntagResourceCommand',
      'UpdateFunctionConfigurationCommand',
    ]);
  });

  test('the layer is published once per bridge version: a second session finds it', async () => {
    const dir = project();
    const before = lambda.layers.length;
    lambda.log = [];
    const dev = devIn(dir);
    assert.equal((await attached(dev)).event, 'attached', dev.dump());
    await dev.stop('SIGTERM');
    assert.equal(lambda.layers.length, before);
    assert.equal(lambda.log.some((e) => e.request.method === 'POST' && e.request.path.includes('/layers/')), false);
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
  });

  test('kill -9, then tether detach Api restores from .tether/attached/', async () => {
    const dir = project();
    const dev = devIn(dir);
    assert.equal((await attached(dev)).event, 'attached', dev.dump());
    dev.child.kill('SIGKILL');
    await dev.waitExit();
    assert.equal(lambda.configuration.Runtime, 'provided.al2023');
    const r = await detach(dir, ['Api']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Api shop-dev-Api: restored/);
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
    assert.deepEqual(lambda.tags, { team: 'shop' });
    assert.equal(fs.existsSync(path.join(dir, '.tether', 'attached', 'Api.json')), false);
  });

  test('kill -9 and no state file: tether detach --function restores from the tags', async () => {
    const dir = project();
    const dev = devIn(dir);
    assert.equal((await attached(dev)).event, 'attached', dev.dump());
    dev.child.kill('SIGKILL');
    await dev.waitExit();
    fs.rmSync(path.join(dir, '.tether', 'attached'), { recursive: true });
    lambda.log = [];
    const r = await detach(dir, ['--function', NAME]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
    assert.deepEqual(lambda.tags, { team: 'shop' });
    await compareAll(lambda.log);
    const again = await detach(dir, ['--function', NAME]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /carries no tether record in its tags: it is not attached/);
  });

  test('kill -9, then the next tether dev restores the leftover before attaching afresh', async () => {
    const dir = project();
    const first = devIn(dir);
    assert.equal((await attached(first)).event, 'attached', first.dump());
    first.child.kill('SIGKILL');
    await first.waitExit();
    const second = devIn(dir);
    const restored = await waitFor(() => second.records.find((x) => x.type === 'attach' && x.event === 'restored'), 30000, 'the leftover restored');
    assert.equal(restored.function, 'Api');
    assert.equal((await attached(second)).event, 'attached', second.dump());
    await second.stop('SIGINT');
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
  });

  test('two sessions racing for one function: one wins, the other names who holds it', async () => {
    const a = project();
    const b = project();
    const devA = devIn(a);
    const devB = devIn(b);
    const [ra, rb] = await Promise.all([attached(devA), attached(devB)]);
    const events = [ra.event, rb.event].sort();
    assert.deepEqual(events, ['attached', 'failed'], `${devA.dump()}\n${devB.dump()}`);
    const loser = ra.event === 'failed' ? ra : rb;
    const winner = ra.event === 'failed' ? devB : devA;
    assert.match(loser.detail, /shop-dev-Api is attached by another tether dev session \([0-9a-f]{16} \S+@\S+ pid \d+\); stop it, or take over with --force/);
    assert.ok(loser.detail.includes(`pid ${winner.pid}`), loser.detail);
    await devA.stop('SIGINT');
    await devB.stop('SIGINT');
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
    assert.deepEqual(lambda.tags, { team: 'shop' });
  });

  test('a container image function is refused with the reason', async () => {
    lambda.configuration.PackageType = 'Image';
    try {
      const dir = project();
      const dev = devIn(dir);
      const r = await attached(dev);
      assert.equal(r.event, 'failed');
      assert.match(r.detail, /shop-dev-Api is a container image function; tether attaches zip functions only/);
      await dev.stop('SIGINT');
    } finally {
      lambda.configuration.PackageType = 'Zip';
    }
    assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
  });
});

/* ------------------------------------------------------------ CloudFormation */

function stackAnswer() {
  const member = (logical, physical, type) =>
    `<member><LogicalResourceId>${logical}</LogicalResourceId><PhysicalResourceId>${physical}</PhysicalResourceId>` +
    `<ResourceType>${type}</ResourceType><LastUpdatedTimestamp>2026-12-01T10:00:00.000Z</LastUpdatedTimestamp>` +
    '<ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>';
  return {
    headers: { 'content-type': 'text/xml' },
    body:
      '<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><ListStackResourcesResult><StackResourceSummaries>' +
      member('Api', NAME, 'AWS::Lambda::Function') +
      member('ApiRole', 'shop-dev-Api-role', 'AWS::IAM::Role') +
      '</StackResourceSummaries></ListStackResourcesResult><ResponseMetadata><RequestId>cfn-1</RequestId></ResponseMetadata></ListStackResourcesResponse>',
  };
}

describe('aws.stack: functions matched to the stack by logical id', () => {
  test('the stack\'s Api is attached for the function Api; Other, not in the stack, is left alone', async () => {
    const cfn = await startCapture({ answer: stackAnswer });
    try {
      const dir = project({ stack: 'shop-dev' });
      const dev = devIn(dir, [], { AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url });
      const r = await attached(dev);
      assert.equal(r.event, 'attached', dev.dump());
      assert.equal(r.function, 'Api');
      assert.equal(r.deployed, NAME);
      assert.ok(dev.records.some((x) => x.type === 'info' && x.message === 'attaching 1 deployed function in us-east-1'), dev.dump());
      await dev.stop('SIGINT');
      assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()));
      assert.equal(cfn.requests.length, 1);
      const sdk = await sdkRequest((config) => new CloudFormationClient(config), new ListStackResourcesCommand({ StackName: 'shop-dev' }), { answer: stackAnswer() });
      assert.equal(sdk.error, undefined);
      compareRequests(cfn.requests[0], sdk.request, { headers: ['content-type'] });
      assert.equal(await verifySigV4(cfn.requests[0], { credentials: TEST_CREDENTIALS, region: REGION, service: 'cloudformation' }), true);
    } finally {
      await cfn.close();
    }
  });
});

/* ------------------------------------------------------------ AppSync */

const IAM_MODES = [{ authType: 'AWS_IAM' }];
const EVENTS_API_ID = 'shopeventsapi0000000000000';

function appsyncApi() {
  return {
    apiId: EVENTS_API_ID,
    name: 'tether-shop',
    dns: { HTTP: `${EVENTS_API_ID}.appsync-api.${REGION}.amazonaws.com`, REALTIME: `${EVENTS_API_ID}.appsync-realtime-api.${REGION}.amazonaws.com` },
    apiArn: `arn:aws:appsync:${REGION}:${ACCOUNT}:apis/${EVENTS_API_ID}`,
    created: 1764000000,
    eventConfig: { authProviders: IAM_MODES, connectionAuthModes: IAM_MODES, defaultPublishAuthModes: IAM_MODES, defaultSubscribeAuthModes: IAM_MODES },
  };
}

function appsyncNamespace(name) {
  return {
    apiId: EVENTS_API_ID,
    name,
    subscribeAuthModes: IAM_MODES,
    publishAuthModes: IAM_MODES,
    channelNamespaceArn: `arn:aws:appsync:${REGION}:${ACCOUNT}:apis/${EVENTS_API_ID}/channelNamespace/${name}`,
    created: 1764000000,
    lastModified: 1764000000,
  };
}

let namespacesListed = ['default'];
function appsyncAnswer(r) {
  if (r.method === 'GET' && r.path === '/v2/apis') return { body: { apis: [] } };
  if (r.method === 'GET' && r.path === `/v2/apis/${EVENTS_API_ID}`) return { body: { api: appsyncApi() } };
  if (r.method === 'POST' && r.path === '/v2/apis') return { body: { api: appsyncApi() } };
  if (r.method === 'GET') return { body: { channelNamespaces: namespacesListed.map(appsyncNamespace) } };
  return { body: { channelNamespace: appsyncNamespace('tether') } };
}

function appsyncCommand(r) {
  const body = r.body.length ? JSON.parse(r.body.toString()) : {};
  const maxResults = r.query.maxResults ? Number(r.query.maxResults) : undefined;
  if (r.method === 'GET' && r.path === '/v2/apis') return new ListApisCommand({ maxResults });
  if (r.method === 'GET' && r.path === `/v2/apis/${EVENTS_API_ID}`) return new GetApiCommand({ apiId: EVENTS_API_ID });
  if (r.method === 'POST' && r.path === '/v2/apis') {
    return new CreateApiCommand({ name: 'tether-shop', eventConfig: { authProviders: IAM_MODES, connectionAuthModes: IAM_MODES, defaultPublishAuthModes: IAM_MODES, defaultSubscribeAuthModes: IAM_MODES } });
  }
  if (r.method === 'GET') return new ListChannelNamespacesCommand({ apiId: EVENTS_API_ID, maxResults });
  assert.deepEqual(body, { name: 'tether' });
  return new CreateChannelNamespaceCommand({ apiId: EVENTS_API_ID, name: 'tether' });
}

describe('no "events" in tether.json: the events API found or created in AppSync', () => {
  test('ListApis, CreateApi, ListChannelNamespaces, CreateChannelNamespace as the SDK sends them; the run uses the API; the next run remembers it', async () => {
    const appsync = await startCapture({ answer: appsyncAnswer });
    try {
      const dir = makeProject({
        files: {
          'tether.json': { app: 'shop', stage: 'ci', aws: { region: REGION }, functions: { Api: { handler: 'api.handler', runtime: 'nodejs22.x', deployed: NAME } } },
          'api.mjs': 'export const handler = async () => ({ local: true });\n',
        },
      });
      const dev = devIn(dir, [], { AWS_ENDPOINT_URL_APPSYNC: appsync.url, HTTPS_PROXY: 'http://127.0.0.1:9' });
      const line = await waitFor(() => dev.records.find((x) => x.type === 'info' && /^events API /.test(x.message)) || (!dev.alive && { message: 'exited' }), 30000, 'the events API');
      assert.equal(line.message, `events API tether-shop (created), namespace tether (created): https://${EVENTS_API_ID}.appsync-api.${REGION}.amazonaws.com/event`, dev.dump());
      await dev.stop('SIGINT');
      assert.deepEqual(appsync.requests.map((q) => `${q.method} ${q.path}`), [
        'GET /v2/apis',
        'POST /v2/apis',
        `GET /v2/apis/${EVENTS_API_ID}/channelNamespaces`,
        `POST /v2/apis/${EVENTS_API_ID}/channelNamespaces`,
      ]);
      for (const q of appsync.requests) {
        const sdk = await sdkRequest((config) => new AppSyncClient(config), appsyncCommand(q), { answer: appsyncAnswer(q), region: REGION });
        assert.equal(sdk.error, undefined, `${sdk.error}`);
        compareRequests(q, sdk.request, { headers: ['content-type'] });
        assert.equal(await verifySigV4(q, { credentials: TEST_CREDENTIALS, region: REGION, service: 'appsync' }), true);
      }
      assert.deepEqual(withoutTimes(lambda.configuration), withoutTimes(originalConfiguration()), 'never attached: nothing changed');

      // The next run remembers the API (.tether/events-api.json): one GetApi
      // checks it, no listing of every API, nothing created again.
      namespacesListed = ['default', 'tether'];
      appsync.requests.length = 0;
      const again = devIn(dir, [], { AWS_ENDPOINT_URL_APPSYNC: appsync.url, HTTPS_PROXY: 'http://127.0.0.1:9' });
      const found = await waitFor(() => again.records.find((x) => x.type === 'info' && /^events API /.test(x.message)) || (!again.alive && { message: 'exited' }), 30000, 'the events API again');
      assert.equal(found.message, `events API tether-shop (found), namespace tether (found): https://${EVENTS_API_ID}.appsync-api.${REGION}.amazonaws.com/event`, again.dump());
      await again.stop('SIGINT');
      assert.deepEqual(appsync.requests.map((q) => `${q.method} ${q.path}`), [
        `GET /v2/apis/${EVENTS_API_ID}`,
        `GET /v2/apis/${EVENTS_API_ID}/channelNamespaces`,
      ]);
      for (const q of appsync.requests) {
        const sdk = await sdkRequest((config) => new AppSyncClient(config), appsyncCommand(q), { answer: appsyncAnswer(q), region: REGION });
        assert.equal(sdk.error, undefined, `${sdk.error}`);
        compareRequests(q, sdk.request, { headers: ['content-type'] });
      }
    } finally {
      namespacesListed = ['default'];
      await appsync.close();
    }
  });
});
