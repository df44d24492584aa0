// `tether invoke` against AWS Lambda's Invoke API, which cannot be reached
// here: a capture server on loopback stands in for it. Every request tether
// sends is compared with what the official @aws-sdk/client-lambda
// InvokeCommand serializes for the same input (method, path, query,
// content-type, x-amz-invocation-type, the payload bytes), both signatures
// are checked with AWS's own signer (@smithy/signature-v4), and every answer
// the stand-in gives is one the same SDK deserializes. The endpoint comes
// from AWS_ENDPOINT_URL_LAMBDA, from ~/.aws/config's services section, or
// from --endpoint-url, over HTTP and over HTTPS with AWS_CA_BUNDLE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

import { TEST_CREDENTIALS, compareRequests, credentialsEnv, sdkRequest, startCapture, verifySigV4 } from './lib/aws-capture.mjs';
import { cleanEnv, makeAwsHome, makeCa, makeServerCert, runTether, tempDir } from './lib/cloud.mjs';

const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-Api';
const OK = { headers: { 'x-amz-executed-version': '7' }, body: { statusCode: 200, body: 'hello from AWS' } };
const COMPARED_HEADERS = ['content-type', 'x-amz-invocation-type'];

const newLambda = (config) => new LambdaClient(config);

describe('tether invoke in AWS: the Invoke request equals the SDK\'s', () => {
  let dir;
  let home;
  let eventFile;
  const event = { Records: [{ body: 'a "quoted" body', n: 1 }], 'key with space': 'é' };

  before(() => {
    dir = tempDir('tether-aws-invoke-');
    home = makeAwsHome(path.join(dir, 'home'));
    eventFile = path.join(dir, 'event.json');
    fs.writeFileSync(eventFile, JSON.stringify(event));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** tether invoke ARGS with the test credentials and a scratch HOME. */
  function invoke(args, extra = {}) {
    return runTether(['invoke', ...args], { env: cleanEnv({ HOME: home, ...credentialsEnv(), ...extra }) });
  }

  async function compareWithSdk(tetherRequest, input, region, answer = OK) {
    const sdk = await sdkRequest(newLambda, new InvokeCommand(input), { region, answer });
    compareRequests(tetherRequest, sdk.request, { headers: COMPARED_HEADERS, rawBody: true });
    assert.equal(await verifySigV4(tetherRequest, { region, service: 'lambda' }), true, 'tether\'s signature');
    assert.equal(await verifySigV4(sdk.request, { region, service: 'lambda' }), true, 'the SDK\'s signature');
    assert.equal(tetherRequest.headers['x-amz-security-token'], TEST_CREDENTIALS.sessionToken);
    return sdk;
  }

  test('by ARN with a qualifier (region from the ARN), endpoint from AWS_ENDPOINT_URL_LAMBDA', async () => {
    const capture = await startCapture({ answer: OK });
    try {
      const r = await invoke([ARN, '--qualifier', 'live', '--event', eventFile], {
        AWS_ENDPOINT_URL_LAMBDA: capture.url,
        AWS_ENDPOINT_URL: 'http://127.0.0.1:1/not-this-one',
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), OK.body);
      assert.equal(capture.requests.length, 1);
      const sdk = await compareWithSdk(
        capture.requests[0],
        { FunctionName: ARN, Qualifier: 'live', InvocationType: 'RequestResponse', Payload: fs.readFileSync(eventFile) },
        'eu-west-1',
      );
      assert.equal(sdk.error, undefined);
      assert.equal(sdk.output.ExecutedVersion, '7');
      assert.deepEqual(JSON.parse(Buffer.from(sdk.output.Payload).toString()), OK.body);
    } finally {
      await capture.close();
    }
  });

  test('by name with --region and the default event; a profile\'s services section names the endpoint', async () => {
    const capture = await startCapture({ answer: OK });
    try {
      fs.writeFileSync(path.join(home, '.aws', 'config'),
        `[profile dev]\nregion = us-west-2\nservices = stand-in\n[services stand-in]\nlambda =\n  endpoint_url = ${capture.url}\n`);
      // --profile skips the environment's keys (as in the AWS CLI): the profile has them.
      fs.writeFileSync(path.join(home, '.aws', 'credentials'),
        `[dev]\naws_access_key_id = ${TEST_CREDENTIALS.accessKeyId}\naws_secret_access_key = ${TEST_CREDENTIALS.secretAccessKey}\n` +
        `aws_session_token = ${TEST_CREDENTIALS.sessionToken}\n`);
      const r = await invoke(['shop-dev-Api', '--profile', 'dev', '--region', 'ap-south-1'], {});
      assert.equal(r.code, 0, r.stderr);
      await compareWithSdk(
        capture.requests[0],
        { FunctionName: 'shop-dev-Api', InvocationType: 'RequestResponse', Payload: Buffer.from('{}') },
        'ap-south-1',
      );
      // Without --region the profile's region signs.
      const again = await invoke(['shop-dev-Api', '--profile', 'dev', '--event', eventFile], {});
      assert.equal(again.code, 0, again.stderr);
      await compareWithSdk(
        capture.requests[1],
        { FunctionName: 'shop-dev-Api', InvocationType: 'RequestResponse', Payload: fs.readFileSync(eventFile) },
        'us-west-2',
      );
    } finally {
      fs.writeFileSync(path.join(home, '.aws', 'config'), '');
      fs.writeFileSync(path.join(home, '.aws', 'credentials'), '');
      await capture.close();
    }
  });

  test('over HTTPS with --endpoint-url and AWS_CA_BUNDLE; without the bundle the certificate is refused', async () => {
    const ca = makeCa(dir);
    const cert = makeServerCert(dir, ca, 'lambda', 'IP:127.0.0.1');
    const capture = await startCapture({ answer: OK, tls: cert });
    try {
      const refused = await invoke([ARN, '--endpoint-url', capture.url], {});
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /certificate|verif/i);
      assert.equal(capture.requests.length, 0);
      const r = await invoke([ARN, '--endpoint-url', capture.url, '--event', eventFile], { AWS_CA_BUNDLE: ca.cert });
      assert.equal(r.code, 0, r.stderr);
      await compareWithSdk(
        capture.requests[0],
        { FunctionName: ARN, InvocationType: 'RequestResponse', Payload: fs.readFileSync(eventFile) },
        'eu-west-1',
      );
    } finally {
      await capture.close();
    }
  });

  test('AWS\'s answers: a function error, a missing function, access denied (each one the SDK reads too)', async () => {
    const functionError = {
      headers: { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
      body: { errorType: 'Error', errorMessage: 'boom', trace: [] },
    };
    const notFound = {
      status: 404,
      headers: { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.lambda/' },
      body: { Type: 'User', message: `Function not found: ${ARN}` },
    };
    const denied = {
      status: 403,
      headers: { 'x-amzn-errortype': 'AccessDeniedException' },
      body: { Message: 'User is not authorized to perform: lambda:InvokeFunction' },
    };
    const capture = await startCapture();
    const env = { AWS_ENDPOINT_URL_LAMBDA: capture.url };
    try {
      capture.setAnswer(functionError);
      let r = await invoke([ARN], env);
      assert.equal(r.code, 1);
      assert.deepEqual(JSON.parse(r.stderr.trim()), functionError.body);
      let sdk = await compareWithSdk(capture.requests[0], { FunctionName: ARN, InvocationType: 'RequestResponse', Payload: Buffer.from('{}') }, 'eu-west-1', functionError);
      assert.equal(sdk.output.FunctionError, 'Unhandled');

      capture.setAnswer(notFound);
      r = await invoke([ARN], env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /AWS Lambda answered 404 ResourceNotFoundException: Function not found: arn:aws:lambda/);
      sdk = await sdkRequest(newLambda, new InvokeCommand({ FunctionName: ARN }), { region: 'eu-west-1', answer: notFound });
      assert.equal(sdk.error?.name, 'ResourceNotFoundException');

      capture.setAnswer(denied);
      r = await invoke([ARN], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /403 AccessDeniedException: User is not authorized/);
      sdk = await sdkRequest(newLambda, new InvokeCommand({ FunctionName: ARN }), { region: 'eu-west-1', answer: denied });
      assert.equal(sdk.error?.$metadata?.httpStatusCode, 403);
    } finally {
      await capture.close();
    }
  });

  test('usage errors: no region, no credentials, a bad endpoint; nothing is sent', async () => {
    const capture = await startCapture({ answer: OK });
    try {
      let r = await invoke(['plain-name', '--qualifier', '1'], { AWS_ENDPOINT_URL_LAMBDA: capture.url });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /which region/);
      r = await runTether(['invoke', ARN], { env: cleanEnv({ HOME: home, AWS_ENDPOINT_URL_LAMBDA: capture.url }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /AWS credentials/);
      r = await invoke([ARN], { AWS_ENDPOINT_URL_LAMBDA: 'ftp://127.0.0.1/' });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /AWS_ENDPOINT_URL_LAMBDA: bad endpoint URL ftp:\/\/127\.0\.0\.1\//);
      assert.equal(capture.requests.length, 0);
    } finally {
      await capture.close();
    }
  });
});
