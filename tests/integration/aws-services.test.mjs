// tether's AppSync control-plane, IAM, CloudFormation and STS identity
// clients (src/aws/appsync.c, iam.c, cloudformation.c, sts.c), which cannot
// be run against AWS here. For every operation, a loopback stand-in
// answers with bodies AWS documents, and:
//  - what tether sends is compared with what the official AWS SDK v3 client
//    serializes for the same operation and input (method, path, query,
//    content-type, the body as JSON or as form fields);
//  - tether's signature is checked with AWS's own signer;
//  - the same SDK deserializes the stand-in's answers without error (so they
//    are answers AWS could give), and tether reads from them the same values.
// tether is driven through build/.../tests/tools/aws_services, which prints
// what it parsed as JSON.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  AppSyncClient,
  CreateApiCommand,
  CreateChannelNamespaceCommand,
  GetApiCommand,
  ListApisCommand,
  ListChannelNamespacesCommand,
} from '@aws-sdk/client-appsync';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DeleteRolePolicyCommand, GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

import {
  compareRequests,
  credentialsEnv,
  sdkRequest,
  startCapture,
  verifySigV4,
} from './lib/aws-capture.mjs';

const TETHER_BIN = process.env.TETHER_BIN ?? path.resolve('../../build/tether');
const TOOL = path.join(path.dirname(TETHER_BIN), 'tests', 'tools', 'aws_services');
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

const SERVICES = {
  appsync: { env: 'AWS_ENDPOINT_URL_APPSYNC', signing: 'appsync', region: REGION, client: (c) => new AppSyncClient(c) },
  iam: { env: 'AWS_ENDPOINT_URL_IAM', signing: 'iam', region: 'us-east-1', client: (c) => new IAMClient(c) },
  cloudformation: {
    env: 'AWS_ENDPOINT_URL_CLOUDFORMATION',
    signing: 'cloudformation',
    region: REGION,
    client: (c) => new CloudFormationClient(c),
  },
  sts: { env: 'AWS_ENDPOINT_URL_STS', signing: 'sts', region: REGION, client: (c) => new STSClient(c) },
};

// A home without ~/.aws, so only the environment configures tether.
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-aws-services-'));
process.on('exit', () => fs.rmSync(HOME, { recursive: true, force: true }));

/** Runs the tool against a stand-in answering `answer`: { out, requests }. */
async function runTether(service, args, answer) {
  const capture = await startCapture({ answer });
  try {
    const env = {
      PATH: process.env.PATH,
      HOME,
      AWS_CONFIG_FILE: path.join(HOME, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(HOME, 'credentials'),
      AWS_REGION: REGION,
      ...credentialsEnv(),
      [SERVICES[service].env]: capture.url,
    };
    const stdout = await new Promise((resolve, reject) => {
      execFile(TOOL, args, { env, timeout: 60000 }, (error, out, err) => {
        if (error && error.code !== 1) reject(new Error(`${TOOL} ${args.join(' ')}: ${error.message}\n${err}`));
        else resolve(out);
      });
    });
    return { out: JSON.parse(stdout), requests: [...capture.requests] };
  } finally {
    await capture.close();
  }
}

/**
 * Compares one request tether sent with the SDK's for `command`, checks
 * tether's signature, and has the SDK read `answer`: returns its output
 * (or its error when `expectError` names the error the SDK must see).
 */
async function compareWithSdk(service, tetherRequest, command, answer, { expectError } = {}) {
  const s = SERVICES[service];
  const sdk = await sdkRequest(s.client, command, { answer, region: s.region });
  compareRequests(tetherRequest, sdk.request, { headers: ['content-type'] });
  assert.equal(await verifySigV4(tetherRequest, { region: s.region, service: s.signing }), true, 'SigV4');
  if (expectError) {
    assert.ok(sdk.error, `the SDK read the answer as an ${expectError}`);
    assert.equal(sdk.error.name, expectError);
    return sdk.error;
  }
  assert.equal(sdk.error, undefined, `the SDK could not read the stand-in's answer: ${sdk.error}`);
  return sdk.output;
}

// ---- AppSync ----

const IAM_MODES = [{ authType: 'AWS_IAM' }];
function apiObject(apiId, name, modes = IAM_MODES) {
  return {
    apiId,
    name,
    ownerContact: 'dev@example.com',
    tags: {},
    dns: {
      HTTP: `${apiId}.appsync-api.${REGION}.amazonaws.com`,
      REALTIME: `${apiId}.appsync-realtime-api.${REGION}.amazonaws.com`,
    },
    apiArn: `arn:aws:appsync:${REGION}:${ACCOUNT}:apis/${apiId}`,
    created: 1714564800,
    xrayEnabled: false,
    eventConfig: {
      authProviders: IAM_MODES,
      connectionAuthModes: modes,
      defaultPublishAuthModes: modes,
      defaultSubscribeAuthModes: modes,
      logConfig: { logLevel: 'NONE', cloudWatchLogsRoleArn: `arn:aws:iam::${ACCOUNT}:role/logs` },
    },
  };
}
function namespaceObject(apiId, name) {
  return {
    apiId,
    name,
    subscribeAuthModes: IAM_MODES,
    publishAuthModes: IAM_MODES,
    tags: {},
    channelNamespaceArn: `arn:aws:appsync:${REGION}:${ACCOUNT}:apis/${apiId}/channelNamespace/${name}`,
    created: 1714564800,
    lastModified: 1714564800,
  };
}
const jsonError = (status, type, message) => ({
  status,
  headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.deepdish/` },
  body: { message },
});

function expectedApi(api) {
  return {
    apiId: api.apiId,
    name: api.name,
    apiArn: api.apiArn,
    httpHost: api.dns.HTTP,
    realtimeHost: api.dns.REALTIME,
    iamAuth: true,
  };
}

// ListApis in two pages: the API asked for is on the second.
const OTHER = apiObject('otherapi00000000000000000a', 'someone-else');
const SHOP = apiObject('shopapi0000000000000000000', 'tether-shop');
function listApisAnswer(req) {
  return req.query.nextToken === 'page/2+=' ? { body: { apis: [SHOP] } } : { body: { apis: [OTHER], nextToken: 'page/2+=' } };
}

describe('AppSync control plane, compared with @aws-sdk/client-appsync', () => {
  test('ListApis: pages followed until the API named is found', async () => {
    const { out, requests } = await runTether('appsync', ['appsync-find-api', 'tether-shop'], listApisAnswer);
    assert.equal(out.ok, true, out.cause);
    assert.equal(requests.length, 2);
    const first = await compareWithSdk('appsync', requests[0], new ListApisCommand({ maxResults: 25 }), listApisAnswer);
    assert.equal(first.nextToken, 'page/2+=');
    const second = await compareWithSdk(
      'appsync',
      requests[1],
      new ListApisCommand({ maxResults: 25, nextToken: 'page/2+=' }),
      listApisAnswer,
    );
    const found = second.apis.find((a) => a.name === 'tether-shop');
    assert.deepEqual(out.result, { ...expectedApi(found) });
  });

  test('ListApis: an API that is not there is ENOENT', async () => {
    const { out, requests } = await runTether('appsync', ['appsync-find-api', 'missing'], listApisAnswer);
    assert.equal(out.ok, false);
    assert.equal(out.errno, 'ENOENT');
    assert.equal(requests.length, 2);
  });

  test('CreateApi: an Event API with AWS_IAM for every mode', async () => {
    const answer = { body: { api: SHOP } };
    const { out, requests } = await runTether('appsync', ['appsync-create-api', 'tether-shop'], answer);
    assert.equal(out.ok, true, out.cause);
    const sdk = await compareWithSdk(
      'appsync',
      requests[0],
      new CreateApiCommand({
        name: 'tether-shop',
        eventConfig: {
          authProviders: IAM_MODES,
          connectionAuthModes: IAM_MODES,
          defaultPublishAuthModes: IAM_MODES,
          defaultSubscribeAuthModes: IAM_MODES,
        },
      }),
      answer,
    );
    assert.deepEqual(out.result, expectedApi(sdk.api));
  });

  test('GetApi, and NotFoundException as ENOENT', async () => {
    const answer = { body: { api: SHOP } };
    const { out, requests } = await runTether('appsync', ['appsync-get-api', SHOP.apiId], answer);
    assert.equal(out.ok, true, out.cause);
    const sdk = await compareWithSdk('appsync', requests[0], new GetApiCommand({ apiId: SHOP.apiId }), answer);
    assert.deepEqual(out.result, expectedApi(sdk.api));

    const missing = jsonError(404, 'NotFoundException', 'Api not found');
    const gone = await runTether('appsync', ['appsync-get-api', 'nosuchapi'], missing);
    assert.equal(gone.out.errno, 'ENOENT');
    await compareWithSdk('appsync', gone.requests[0], new GetApiCommand({ apiId: 'nosuchapi' }), missing, {
      expectError: 'NotFoundException',
    });
  });

  test('ListChannelNamespaces and CreateChannelNamespace', async () => {
    const list = (req) =>
      req.query.nextToken
        ? { body: { channelNamespaces: [namespaceObject(SHOP.apiId, 'tether')] } }
        : { body: { channelNamespaces: [namespaceObject(SHOP.apiId, 'default')], nextToken: 'n2' } };
    const found = await runTether('appsync', ['appsync-find-namespace', SHOP.apiId, 'tether'], list);
    assert.equal(found.out.ok, true, found.out.cause);
    assert.equal(found.requests.length, 2);
    await compareWithSdk('appsync', found.requests[0], new ListChannelNamespacesCommand({ apiId: SHOP.apiId, maxResults: 25 }), list);
    const page2 = await compareWithSdk(
      'appsync',
      found.requests[1],
      new ListChannelNamespacesCommand({ apiId: SHOP.apiId, maxResults: 25, nextToken: 'n2' }),
      list,
    );
    assert.deepEqual(found.out.result, {
      name: page2.channelNamespaces[0].name,
      arn: page2.channelNamespaces[0].channelNamespaceArn,
    });

    const created = { body: { channelNamespace: namespaceObject(SHOP.apiId, 'tether') } };
    const made = await runTether('appsync', ['appsync-create-namespace', SHOP.apiId, 'tether'], created);
    assert.equal(made.out.ok, true, made.out.cause);
    const sdk = await compareWithSdk(
      'appsync',
      made.requests[0],
      new CreateChannelNamespaceCommand({ apiId: SHOP.apiId, name: 'tether' }),
      created,
    );
    assert.equal(made.out.result.arn, sdk.channelNamespace.channelNamespaceArn);
  });

  test('ensure-events: creates the API and the namespace when missing', async () => {
    const calls = [];
    const answer = (req) => {
      calls.push(`${req.method} ${req.path}`);
      if (req.method === 'GET' && req.path === '/v2/apis') return { body: { apis: [OTHER] } };
      if (req.method === 'POST' && req.path === '/v2/apis') return { body: { api: SHOP } };
      if (req.method === 'GET') return { body: { channelNamespaces: [namespaceObject(SHOP.apiId, 'default')] } };
      return { body: { channelNamespace: namespaceObject(SHOP.apiId, 'tether') } };
    };
    const { out } = await runTether('appsync', ['appsync-ensure-events', 'tether-shop', 'tether'], answer);
    assert.equal(out.ok, true, out.cause);
    assert.deepEqual(calls, [
      'GET /v2/apis',
      'POST /v2/apis',
      `GET /v2/apis/${SHOP.apiId}/channelNamespaces`,
      `POST /v2/apis/${SHOP.apiId}/channelNamespaces`,
    ]);
    assert.equal(out.result.http, `https://${SHOP.dns.HTTP}/event`);
    assert.equal(out.result.realtime, `wss://${SHOP.dns.REALTIME}/event/realtime`);
    assert.equal(out.result.createdApi, true);
    assert.equal(out.result.createdNamespace, true);
    assert.equal(out.result.namespace.arn, `${SHOP.apiArn}/channelNamespace/tether`);
  });

  test('ensure-events: a namespace created meanwhile (ConflictException) is read back', async () => {
    let listed = 0;
    const answer = (req) => {
      if (req.path === '/v2/apis') return { body: { apis: [SHOP] } };
      if (req.method === 'GET') {
        listed += 1;
        return { body: { channelNamespaces: listed === 1 ? [] : [namespaceObject(SHOP.apiId, 'tether')] } };
      }
      return jsonError(409, 'ConflictException', 'A channel namespace with this name already exists');
    };
    const { out, requests } = await runTether('appsync', ['appsync-ensure-events', 'tether-shop', 'tether'], answer);
    assert.equal(out.ok, true, out.cause);
    assert.equal(out.result.createdApi, false);
    assert.equal(out.result.createdNamespace, false);
    assert.equal(requests.length, 4);
    await compareWithSdk(
      'appsync',
      requests[2],
      new CreateChannelNamespaceCommand({ apiId: SHOP.apiId, name: 'tether' }),
      answer(requests[2]),
      { expectError: 'ConflictException' },
    );
  });

  test('ensure-events: an existing API without IAM auth is refused', async () => {
    const keyOnly = apiObject(SHOP.apiId, 'tether-shop', [{ authType: 'API_KEY' }]);
    const { out, requests } = await runTether('appsync', ['appsync-ensure-events', 'tether-shop', 'tether'], {
      body: { apis: [keyOnly] },
    });
    assert.equal(out.errno, 'EPERM');
    assert.match(out.cause, /AWS_IAM/);
    assert.equal(requests.length, 1, 'nothing is created');
  });

  test('hostile answers: an events host that is not a DNS name is refused', async () => {
    const bad = apiObject(SHOP.apiId, 'tether-shop');
    bad.dns.HTTP = 'evil.example/steal?x=';
    const { out } = await runTether('appsync', ['appsync-get-api', SHOP.apiId], { body: { api: bad } });
    assert.equal(out.errno, 'EPROTO');
    const notJson = await runTether('appsync', ['appsync-get-api', SHOP.apiId], { body: '<html>' });
    assert.equal(notJson.out.errno, 'EPROTO');
  });

  test('AccessDenied and throttling: final, and retried with backoff', async () => {
    const denied = { status: 403, headers: { 'x-amzn-errortype': 'AccessDeniedException' }, body: { message: 'not allowed' } };
    const d = await runTether('appsync', ['appsync-get-api', SHOP.apiId], denied);
    assert.equal(d.out.errno, 'EACCES');
    assert.equal(d.requests.length, 1, 'access denied is not retried');
    await compareWithSdk('appsync', d.requests[0], new GetApiCommand({ apiId: SHOP.apiId }), denied, {
      expectError: 'AccessDeniedException',
    });

    const throttled = jsonError(429, 'LimitExceededException', 'Rate exceeded');
    let n = 0;
    const recovering = () => (++n === 1 ? throttled : { body: { api: SHOP } });
    const t = await runTether('appsync', ['appsync-get-api', SHOP.apiId], recovering);
    assert.equal(t.out.ok, true, t.out.cause);
    assert.equal(t.requests.length, 2);
    await compareWithSdk('appsync', t.requests[0], new GetApiCommand({ apiId: SHOP.apiId }), throttled, {
      expectError: 'LimitExceededException',
    });

    const failing = jsonError(500, 'InternalFailureException', 'internal');
    const f = await runTether('appsync', ['appsync-get-api', SHOP.apiId], failing);
    assert.equal(f.out.errno, 'EIO');
    assert.equal(f.requests.length, 3, 'three attempts in all');
  });
});

// ---- IAM ----

const xmlAnswer = (status, body) => ({ status, headers: { 'content-type': 'text/xml' }, body });
const iamError = (status, code, message) =>
  xmlAnswer(
    status,
    `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${message}</Message></Error><RequestId>4a7b6c3d-0000-4000-8000-000000000001</RequestId></ErrorResponse>`,
  );
const iamOk = (action, result = '') =>
  xmlAnswer(
    200,
    `<${action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">${result}` +
      `<ResponseMetadata><RequestId>4a7b6c3d-0000-4000-8000-000000000002</RequestId></ResponseMetadata></${action}Response>`,
  );

describe('IAM inline role policy, compared with @aws-sdk/client-iam', () => {
  const apiArn = SHOP.apiArn;
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/service-role/shop/shop-dev-ApiRole-1A2B3C`;

  test('PutRolePolicy: the bridge policy on the role the ARN names', async () => {
    const answer = iamOk('PutRolePolicy');
    const { out, requests } = await runTether('iam', ['iam-put-bridge-policy', roleArn, 'tether-live', apiArn, 'tether'], answer);
    assert.equal(out.ok, true, out.cause);
    assert.equal(out.result.roleName, 'shop-dev-ApiRole-1A2B3C');
    assert.deepEqual(JSON.parse(out.result.document), {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'appsync:EventConnect', Resource: apiArn },
        {
          Effect: 'Allow',
          Action: ['appsync:EventSubscribe', 'appsync:EventPublish'],
          Resource: `${apiArn}/channelNamespace/tether`,
        },
      ],
    });
    await compareWithSdk(
      'iam',
      requests[0],
      new PutRolePolicyCommand({ RoleName: 'shop-dev-ApiRole-1A2B3C', PolicyName: 'tether-live', PolicyDocument: out.result.document }),
      answer,
    );
  });

  test('GetRolePolicy: the document, URL-decoded as the SDK leaves it encoded', async () => {
    const document = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'appsync:EventConnect', Resource: apiArn }] });
    const answer = iamOk(
      'GetRolePolicy',
      `<GetRolePolicyResult><PolicyName>tether-live</PolicyName><RoleName>r</RoleName>` +
        `<PolicyDocument>${encodeURIComponent(document)}</PolicyDocument></GetRolePolicyResult>`,
    );
    const { out, requests } = await runTether('iam', ['iam-get-role-policy', 'r', 'tether-live'], answer);
    assert.equal(out.ok, true, out.cause);
    const sdk = await compareWithSdk('iam', requests[0], new GetRolePolicyCommand({ RoleName: 'r', PolicyName: 'tether-live' }), answer);
    assert.equal(out.result.document, decodeURIComponent(sdk.PolicyDocument));
    assert.equal(out.result.document, document);
  });

  test('DeleteRolePolicy; NoSuchEntity is ENOENT, AccessDenied EACCES, Throttling retried', async () => {
    const answer = iamOk('DeleteRolePolicy');
    const { out, requests } = await runTether('iam', ['iam-delete-role-policy', 'r', 'tether-live'], answer);
    assert.equal(out.ok, true, out.cause);
    await compareWithSdk('iam', requests[0], new DeleteRolePolicyCommand({ RoleName: 'r', PolicyName: 'tether-live' }), answer);

    const missing = iamError(404, 'NoSuchEntity', 'The role policy with name tether-live cannot be found.');
    const m = await runTether('iam', ['iam-delete-role-policy', 'r', 'tether-live'], missing);
    assert.equal(m.out.errno, 'ENOENT');
    await compareWithSdk('iam', m.requests[0], new DeleteRolePolicyCommand({ RoleName: 'r', PolicyName: 'tether-live' }), missing, {
      expectError: 'NoSuchEntityException',
    });

    const denied = iamError(403, 'AccessDenied', 'User is not authorized to perform: iam:PutRolePolicy');
    const d = await runTether('iam', ['iam-get-role-policy', 'r', 'tether-live'], denied);
    assert.equal(d.out.errno, 'EACCES');
    assert.equal(d.requests.length, 1);
    await compareWithSdk('iam', d.requests[0], new GetRolePolicyCommand({ RoleName: 'r', PolicyName: 'tether-live' }), denied, {
      expectError: 'AccessDenied',
    });

    const throttled = iamError(400, 'Throttling', 'Rate exceeded');
    let n = 0;
    const t = await runTether('iam', ['iam-delete-role-policy', 'r', 'tether-live'], () => (++n < 3 ? throttled : answer));
    assert.equal(t.out.ok, true, t.out.cause);
    assert.equal(t.requests.length, 3);
  });

  test('bad role ARNs and names are refused before anything is sent', async () => {
    for (const arn of [`arn:aws:iam::${ACCOUNT}:user/alice`, 'role/x', `arn:aws:sts::${ACCOUNT}:role/x`]) {
      const { out, requests } = await runTether('iam', ['iam-put-bridge-policy', arn, 'p', apiArn, 'tether'], iamOk('PutRolePolicy'));
      assert.equal(out.errno, 'EINVAL', arn);
      assert.equal(requests.length, 0);
    }
    const { out, requests } = await runTether('iam', ['iam-get-role-policy', 'a b', 'p'], iamOk('GetRolePolicy'));
    assert.equal(out.errno, 'EINVAL');
    assert.equal(requests.length, 0);
  });
});

// ---- CloudFormation ----

const cfnMember = (logical, physical, type, status = 'CREATE_COMPLETE') =>
  `<member><LogicalResourceId>${logical}</LogicalResourceId>` +
  (physical ? `<PhysicalResourceId>${physical}</PhysicalResourceId>` : '') +
  `<ResourceType>${type}</ResourceType><LastUpdatedTimestamp>2024-05-01T12:00:00.123Z</LastUpdatedTimestamp>` +
  `<ResourceStatus>${status}</ResourceStatus><DriftInformation><StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus></DriftInformation></member>`;
const cfnPage = (members, next) =>
  xmlAnswer(
    200,
    `<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><ListStackResourcesResult>` +
      `<StackResourceSummaries>${members.join('')}</StackResourceSummaries>${next ? `<NextToken>${next}</NextToken>` : ''}` +
      `</ListStackResourcesResult><ResponseMetadata><RequestId>b9b4b0f8-0000-4000-8000-000000000003</RequestId></ResponseMetadata></ListStackResourcesResponse>`,
  );
const NESTED_ARN = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/shop-dev-Workers-1X2Y/0a1b2c3d-0000-4000-8000-000000000004`;
function stackAnswer(req) {
  const form = Object.fromEntries(new URLSearchParams(req.body.toString()));
  if (form.StackName === 'shop-dev' && !form.NextToken) {
    return cfnPage(
      [cfnMember('Api', 'shop-dev-Api-1A2B', 'AWS::Lambda::Function'), cfnMember('ApiRole', 'shop-dev-ApiRole-9', 'AWS::IAM::Role')],
      'next&amp;page=2',
    );
  }
  if (form.StackName === 'shop-dev') {
    return cfnPage([
      cfnMember('Workers', NESTED_ARN, 'AWS::CloudFormation::Stack'),
      cfnMember('Queue', null, 'AWS::SQS::Queue', 'CREATE_IN_PROGRESS'),
    ]);
  }
  if (form.StackName === NESTED_ARN) return cfnPage([cfnMember('Resize', 'shop-dev-Resize-7Q', 'AWS::Lambda::Function')]);
  return xmlAnswer(
    400,
    `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code>` +
      `<Message>Stack with id ${form.StackName} does not exist</Message></Error><RequestId>c0</RequestId></ErrorResponse>`,
  );
}

describe('CloudFormation stack resources, compared with @aws-sdk/client-cloudformation', () => {
  test('ListStackResources: every page, read as the SDK reads it', async () => {
    const { out, requests } = await runTether('cloudformation', ['cfn-list-stack-resources', 'shop-dev'], stackAnswer);
    assert.equal(out.ok, true, out.cause);
    assert.equal(requests.length, 2);
    const p1 = await compareWithSdk('cloudformation', requests[0], new ListStackResourcesCommand({ StackName: 'shop-dev' }), stackAnswer);
    assert.equal(p1.NextToken, 'next&page=2');
    const p2 = await compareWithSdk(
      'cloudformation',
      requests[1],
      new ListStackResourcesCommand({ StackName: 'shop-dev', NextToken: p1.NextToken }),
      stackAnswer,
    );
    const sdkResources = [...p1.StackResourceSummaries, ...p2.StackResourceSummaries].map((r) => ({
      logicalId: r.LogicalResourceId,
      physicalId: r.PhysicalResourceId ?? '',
      type: r.ResourceType,
      status: r.ResourceStatus,
    }));
    assert.deepEqual(out.result, sdkResources);
  });

  test('the Lambda functions of a stack and of its nested stacks', async () => {
    const { out, requests } = await runTether('cloudformation', ['cfn-lambda-functions', 'shop-dev'], stackAnswer);
    assert.equal(out.ok, true, out.cause);
    assert.deepEqual(out.result, [
      { logicalId: 'Api', functionName: 'shop-dev-Api-1A2B', stack: '' },
      { logicalId: 'Resize', functionName: 'shop-dev-Resize-7Q', stack: 'Workers' },
    ]);
    assert.equal(requests.length, 3);
    await compareWithSdk('cloudformation', requests[2], new ListStackResourcesCommand({ StackName: NESTED_ARN }), stackAnswer);
  });

  test('a stack that does not exist is ENOENT', async () => {
    const { out, requests } = await runTether('cloudformation', ['cfn-lambda-functions', 'nope'], stackAnswer);
    assert.equal(out.errno, 'ENOENT');
    assert.equal(requests.length, 1);
    await compareWithSdk('cloudformation', requests[0], new ListStackResourcesCommand({ StackName: 'nope' }), stackAnswer, {
      expectError: 'ValidationError',
    });
  });

  test('nested stacks deeper than the cap are refused', async () => {
    const loop = () => cfnPage([cfnMember('Again', NESTED_ARN, 'AWS::CloudFormation::Stack')]);
    const { out, requests } = await runTether('cloudformation', ['cfn-lambda-functions', 'shop-dev'], loop);
    assert.equal(out.errno, 'EFBIG');
    assert.equal(requests.length, 6, 'the top stack and five nested levels');
  });

  test('more nested stacks than the cap are refused', async () => {
    const wide = (req) => {
      const form = Object.fromEntries(new URLSearchParams(req.body.toString()));
      if (form.StackName !== 'shop-dev') return cfnPage([]);
      const members = [];
      for (let i = 0; i < 60; i++) members.push(cfnMember(`Nested${i}`, `${NESTED_ARN}-${i}`, 'AWS::CloudFormation::Stack'));
      return cfnPage(members);
    };
    const { out, requests } = await runTether('cloudformation', ['cfn-lambda-functions', 'shop-dev'], wide);
    assert.equal(out.errno, 'EFBIG');
    assert.equal(requests.length, 50, 'fifty stacks listed in all');
  });
});

// ---- STS ----

describe('STS AssumeRole (the credential chain), compared with @aws-sdk/client-sts', () => {
  const expiration = new Date(Date.now() + 3600 * 1000);
  const assumed = xmlAnswer(
    200,
    `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
      `<AssumedRoleUser><Arn>arn:aws:sts::${ACCOUNT}:assumed-role/dev/s1</Arn><AssumedRoleId>AROAEXAMPLE:s1</AssumedRoleId></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>ASIAROLEEXAMPLE</AccessKeyId><SecretAccessKey>role/secret+key</SecretAccessKey>` +
      `<SessionToken>token&amp;more</SessionToken><Expiration>${expiration.toISOString()}</Expiration></Credentials>` +
      `</AssumeRoleResult><ResponseMetadata><RequestId>a1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
  );
  const cases = [
    { name: 'role and session name', args: [`arn:aws:iam::${ACCOUNT}:role/dev`, 's1', '-', '-'], input: { RoleArn: `arn:aws:iam::${ACCOUNT}:role/dev`, RoleSessionName: 's1' } },
    {
      name: 'with an external id and a duration, characters to encode',
      args: [`arn:aws:iam::${ACCOUNT}:role/path/dev+ops`, 'alice@example.com', 'ext id/1=2&3', '1800'],
      input: { RoleArn: `arn:aws:iam::${ACCOUNT}:role/path/dev+ops`, RoleSessionName: 'alice@example.com', ExternalId: 'ext id/1=2&3', DurationSeconds: 1800 },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { out, requests } = await runTether('sts', ['sts-assume-role', ...c.args], assumed);
      assert.equal(out.ok, true, out.cause);
      const sdk = await compareWithSdk('sts', requests[0], new AssumeRoleCommand(c.input), assumed);
      assert.equal(out.result.accessKeyId, sdk.Credentials.AccessKeyId);
      assert.equal(out.result.secretAccessKey, sdk.Credentials.SecretAccessKey);
      assert.equal(out.result.sessionToken, sdk.Credentials.SessionToken);
      assert.equal(out.result.expiration, Math.floor(sdk.Credentials.Expiration.getTime() / 1000));
    });
  }
});

describe('STS GetCallerIdentity, compared with @aws-sdk/client-sts', () => {
  const identity = xmlAnswer(
    200,
    `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
      `<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/dev/alice@example.com</Arn><UserId>AROAEXAMPLEID:alice@example.com</UserId>` +
      `<Account>${ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>d1</RequestId></ResponseMetadata>` +
      `</GetCallerIdentityResponse>`,
  );

  test('the account, ARN and user id', async () => {
    const { out, requests } = await runTether('sts', ['sts-get-caller-identity'], identity);
    assert.equal(out.ok, true, out.cause);
    const sdk = await compareWithSdk('sts', requests[0], new GetCallerIdentityCommand({}), identity);
    assert.deepEqual(out.result, { account: sdk.Account, arn: sdk.Arn, userId: sdk.UserId });
  });

  test('expired credentials: the error names AWS code and message', async () => {
    const expired = xmlAnswer(
      403,
      `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code>` +
        `<Message>The security token included in the request is expired</Message></Error><RequestId>d2</RequestId></ErrorResponse>`,
    );
    const { out, requests } = await runTether('sts', ['sts-get-caller-identity'], expired);
    assert.equal(out.ok, false);
    assert.match(out.cause, /ExpiredToken/);
    assert.match(out.cause, /expired/);
    await compareWithSdk('sts', requests[0], new GetCallerIdentityCommand({}), expired, { expectError: 'ExpiredToken' });
  });
});
