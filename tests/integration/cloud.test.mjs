// Cloud mode on one machine: the embedded broker configured like AWS (TLS
// with a test CA, IAM only, region eu-west-1), tether's clients with
// credentials from the AWS chain (profiles in a scratch HOME, STS AssumeRole
// against a stand-in, credential_process), everything through a real HTTP
// proxy (tinyproxy) whose log proves it carried the traffic, and the official
// aws-amplify events client with IAM over wss.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

import { startBroker } from './lib/broker.mjs';
import {
  BRIDGE_BIN,
  cleanEnv,
  makeAwsHome,
  makeCa,
  makeServerCert,
  runAmplify,
  runTether,
  spawnTether,
  startStsStandIn,
  startTinyproxy,
  tempDir,
  waitFor,
  withTimeout,
} from './lib/cloud.mjs';
import { curl, parseCurlResponse, startLambda } from './lib/lambda.mjs';
import { keyFormat, keyGenerate } from './lib/seal.mjs';

const REGION = 'eu-west-1';
const PROXY_AUTH = { user: 'tether', password: 'pr0xyp4ss' };
const IDS = {
  profile: { accessKeyId: 'AKIDPROFILE000000001', secretAccessKey: 'profile/secret+0000000000000000000001' },
  caller: { accessKeyId: 'AKIDCALLER0000000001', secretAccessKey: 'caller/secret+00000000000000000000001' },
  role: { accessKeyId: 'ASIAROLE000000000001', secretAccessKey: 'role/secret+0000000000000000000000001', sessionToken: 'role-session-token/+=0001' },
  bridge: { accessKeyId: 'ASIABRIDGE0000000001', secretAccessKey: 'bridge/secret+00000000000000000000001', sessionToken: 'bridge-execution-role-token+/=' },
  dev: { accessKeyId: 'ASIADEV0000000000001', secretAccessKey: 'dev/secret+000000000000000000000000001', sessionToken: 'dev-process-token+/=' },
  amplify: { accessKeyId: 'ASIAAMPLIFY000000001', secretAccessKey: 'amplify/secret+0000000000000000000001', sessionToken: 'amplify-token/+=' },
};
const iamArg = (id) => `${id.accessKeyId}:${id.secretAccessKey}${id.sessionToken ? `:${id.sessionToken}` : ''}`;

describe('cloud mode: TLS + IAM through a real proxy', () => {
  let dir;
  let ca;
  let broker;
  let proxy;
  let authProxy;
  let home;

  before(async () => {
    dir = tempDir('tether-cloud-');
    ca = makeCa(dir);
    const cert = makeServerCert(dir, ca, 'broker', 'IP:127.0.0.1,DNS:localhost');
    proxy = await startTinyproxy(dir);
    authProxy = await startTinyproxy(dir, { auth: PROXY_AUTH });
    broker = await startBroker([
      ...Object.values(IDS).flatMap((id) => ['--iam', iamArg(id)]),
      '--region', REGION,
      '--namespace', 'tether', '--namespace', 'default',
      '--tls-cert', cert.cert, '--tls-key', cert.key,
    ]);
    home = makeAwsHome(path.join(dir, 'home'), {
      config: `[default]\nregion = ${REGION}\n`,
      credentials: `[default]\naws_access_key_id = ${IDS.profile.accessKeyId}\naws_secret_access_key = ${IDS.profile.secretAccessKey}\n`,
    });
  });

  after(async () => {
    await broker?.stop();
    await proxy?.stop();
    await authProxy?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const clientEnv = (extra = {}) => cleanEnv({ HOME: home, HTTPS_PROXY: authProxy.url, ...extra });
  const publish = (args, env) =>
    runTether(['publish', '--endpoint', broker.httpUrl, '--iam', '--ca-file', ca.cert, ...args], { env });

  test('publish and subscribe --iam with a profile from ~/.aws, through an authenticating proxy', async () => {
    const before = authProxy.connects().length;
    const sub = spawnTether(
      ['subscribe', '--endpoint', broker.httpUrl, '--iam', '--ca-file', ca.cert, '--count', '2',
        '--timeout', '20', '--log-level', 'info', '/default/cloud/profile'],
      { env: clientEnv() },
    );
    await waitFor(() => /-> ready/.test(sub.stderr), 15000, `the subscriber to connect:\n${sub.stderr}`);
    await new Promise((r) => setTimeout(r, 500));
    const ws = await publish(['/default/cloud/profile', '{"over":"wss"}'], clientEnv());
    assert.equal(ws.code, 0, ws.stderr);
    assert.match(ws.stdout, /"successful":\[\{"identifier"/);
    const http = await publish(['--http', '/default/cloud/profile', '{"over":"https"}'], clientEnv());
    assert.equal(http.code, 0, http.stderr);
    await waitFor(() => sub.child.exitCode !== null, 15000, `the subscriber to get 2 events:\n${sub.stderr}`);
    await sub.stop();
    assert.deepEqual(sub.lines(), ['{"over":"wss"}', '{"over":"https"}']);
    // Three realtime/HTTP connections, every one through the proxy.
    const target = `127.0.0.1:${broker.port}`;
    assert.ok(
      authProxy.connects().slice(before).filter((t) => t === target).length >= 3,
      authProxy.logText(),
    );
  });

  test('certificate verification: the system store does not know the test CA; --ca-file does', async () => {
    const r = await runTether(['publish', '--endpoint', broker.httpUrl, '--iam', '--timeout', '5',
      '/default/cloud/x', '1'], { env: clientEnv() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate verification failed/i);
    const other = makeCa(path.join(dir, 'home')); // another CA entirely
    const r2 = await runTether(['publish', '--endpoint', broker.httpUrl, '--iam', '--ca-file', other.cert,
      '--timeout', '5', '--http', '/default/cloud/x', '1'], { env: clientEnv() });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /certificate verification failed/i);
  });

  test('SNI and the name check: the endpoint host is sent and verified, directly and inside the tunnel', async () => {
    const cert = makeServerCert(dir, ca, 'localhost', 'DNS:localhost');
    const seen = [];
    const server = tls.createServer({ key: fs.readFileSync(cert.key), cert: fs.readFileSync(cert.cert) }, (socket) => {
      seen.push(socket.servername);
      socket.once('data', () => {
        const body = '{"successful":[{"identifier":"00000000-0000-4000-8000-000000000000","index":0}],"failed":[]}';
        socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    try {
      const args = ['publish', '--endpoint', `https://localhost:${port}/event`, '--api-key', 'da2-x',
        '--ca-file', ca.cert, '--http', '--timeout', '5', '/default/sni', '1'];
      const direct = await runTether(args, { env: cleanEnv() });
      assert.equal(direct.code, 0, direct.stderr);
      const before = proxy.connects().length;
      const tunnelled = await runTether(args, { env: cleanEnv({ https_proxy: proxy.url }) });
      assert.equal(tunnelled.code, 0, tunnelled.stderr);
      assert.deepEqual(seen, ['localhost', 'localhost']);
      assert.deepEqual(proxy.connects().slice(before), [`localhost:${port}`]);
      // The certificate names localhost only: 127.0.0.1 must be refused.
      const mismatch = await runTether(['publish', '--endpoint', `https://127.0.0.1:${port}/event`,
        '--api-key', 'da2-x', '--ca-file', ca.cert, '--http', '--timeout', '5', '/default/sni', '1'],
      { env: cleanEnv() });
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.stderr, /certificate verification failed/i);
    } finally {
      server.close();
    }
  });

  test('proxy failures are clear; NO_PROXY exempts what it lists', async () => {
    const wrong = authProxy.url.replace(encodeURIComponent(PROXY_AUTH.password), 'wrong');
    const denied = await publish(['--timeout', '5', '--http', '/default/cloud/x', '1'], clientEnv({ HTTPS_PROXY: wrong }));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /refused CONNECT 127\.0\.0\.1:\d+: 40[17] .*check the user name and password/);
    assert.doesNotMatch(denied.stderr, /wrong/); // no proxy password in messages
    const noAuth = await publish(['--timeout', '5', '--http', '/default/cloud/x', '1'],
      clientEnv({ HTTPS_PROXY: `http://127.0.0.1:${authProxy.port}` }));
    assert.match(noAuth.stderr, /: 40[17] .*user:password@/);
    const before = authProxy.connects().length;
    for (const noProxy of ['127.0.0.1', '127.0.0.0/8', `localhost,127.0.0.1:${broker.port}`, '*']) {
      const r = await publish(['--http', '/default/cloud/x', '1'], clientEnv({ NO_PROXY: noProxy }));
      assert.equal(r.code, 0, `${noProxy}: ${r.stderr}`);
    }
    assert.equal(authProxy.connects().length, before, 'NO_PROXY targets went through the proxy');
    const r = await publish(['--http', '/default/cloud/x', '1'], clientEnv({ no_proxy: '.example.com,127.0.0.1:1' }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(authProxy.connects().length, before + 1);
  });

  test('role_arn + source_profile: STS AssumeRole (signature checked by the official signer), through the proxy', async () => {
    const sts = await startStsStandIn({ caller: IDS.caller, role: IDS.role, region: REGION });
    try {
      const roleHome = makeAwsHome(path.join(dir, 'role-home'), {
        config: `[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/tether-dev\nsource_profile = base\n` +
          `role_session_name = tether-test\nregion = ${REGION}\n` +
          `[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/tether-dev\nsource_profile = bad\n`,
        credentials: `[base]\naws_access_key_id = ${IDS.caller.accessKeyId}\naws_secret_access_key = ${IDS.caller.secretAccessKey}\n` +
          `[bad]\naws_access_key_id = ${IDS.caller.accessKeyId}\naws_secret_access_key = not-the-secret\n`,
      });
      const env = (profile) => cleanEnv({
        HOME: roleHome, AWS_PROFILE: profile, AWS_ENDPOINT_URL_STS: sts.url,
        HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url,
      });
      const before = proxy.connects().length;
      const r = await publish(['/default/cloud/role', '{"as":"role"}'], env('deploy'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sts.requests.length, 1);
      const [req] = sts.requests;
      assert.equal(req.signatureValid, true);
      assert.deepEqual(req.params, {
        Action: 'AssumeRole', Version: '2011-06-15',
        RoleArn: 'arn:aws:iam::123456789012:role/tether-dev', RoleSessionName: 'tether-test',
      });
      assert.match(req.headers.authorization, new RegExp(`Credential=${IDS.caller.accessKeyId}/\\d{8}/${REGION}/sts/aws4_request`));
      // What @aws-sdk/client-sts sends (aws-services.test.mjs compares the whole request).
      assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
      // STS and the events endpoint were both reached through the proxy.
      assert.deepEqual(proxy.connects().slice(before).sort(), [`127.0.0.1:${broker.port}`, `127.0.0.1:${sts.port}`].sort());

      const bad = await publish(['/default/cloud/role', '1'], env('broken'));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /SignatureDoesNotMatch/);
      assert.equal(sts.requests[1].signatureValid, false);
    } finally {
      await sts.stop();
    }
  });

  test('the live path in cloud mode: tether lambda runs the bridge with its role in the environment, tether dev uses credential_process', async () => {
    const project = path.join(dir, 'project');
    fs.cpSync(path.resolve(import.meta.dirname, '..', '..', 'examples', 'node-api'), project, { recursive: true });
    fs.writeFileSync(path.join(project, 'tether.json'), JSON.stringify({
      app: 'cloud',
      stage: 'ci',
      functions: { Api: { handler: 'src/api.handler', runtime: 'nodejs20.x', url: true, environment: { GREETING: 'hello' } } },
      events: { http: broker.httpUrl, region: REGION, caFile: ca.cert },
    }));
    const devHome = makeAwsHome(path.join(dir, 'dev-home'), {
      config: '[profile local]\ncredential_process = ~/creds.sh --profile local\n'.replace('~', path.join(dir, 'dev-home')),
      files: {
        'creds.sh': {
          mode: 0o700,
          text: `#!/bin/sh\n[ "$2" = local ] || exit 2\nprintf '{"Version":1,"AccessKeyId":"${IDS.dev.accessKeyId}","SecretAccessKey":"${IDS.dev.secretAccessKey}","SessionToken":"${IDS.dev.sessionToken}","Expiration":"%s"}' "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"\n`,
        },
      },
    });
    // The stage's bridge key, given to both ends through TETHER_BRIDGE_KEY.
    const bridgeKey = keyFormat(keyGenerate());
    const before = authProxy.connects().length;
    const dev = spawnTether(['dev', '--json', '--profile', 'local'], {
      cwd: project,
      env: cleanEnv({ HOME: devHome, HTTPS_PROXY: authProxy.url, NO_COLOR: '1', TETHER_BRIDGE_KEY: bridgeKey }),
    });
    let lambda;
    try {
      await waitFor(() => /"type":"ready"/.test(dev.stdout) || dev.child.exitCode !== null, 20000,
        `tether dev to be ready:\n${dev.stdout}\n${dev.stderr}`);
      assert.equal(dev.child.exitCode, null, `${dev.stdout}\n${dev.stderr}`);
      assert.match(dev.stdout, /AWS credentials from profile local \(credential_process\), region eu-west-1/);
      const lambdaDir = tempDir('tether-cloud-lambda-');
      lambda = await startLambda(lambdaDir, {
        // As in Lambda: the execution role's credentials and the region go
        // into the function's environment (AWS_ACCESS_KEY_ID, ..., AWS_REGION).
        region: REGION,
        credentials: {
          access_key_id: IDS.bridge.accessKeyId,
          secret_access_key: IDS.bridge.secretAccessKey,
          session_token: IDS.bridge.sessionToken,
        },
        functions: [{
          name: 'Api', runtime: 'provided.al2023', bootstrap: [BRIDGE_BIN], timeout: 30, url: true,
          environment: {
            // The bridge's mbedTLS 2.28 (Debian 12) matches DNS names only, not
            // IP addresses in certificates: name the endpoint by DNS, as AWS's are.
            TETHER_EVENTS_HTTP: broker.httpUrl.replace('127.0.0.1', 'localhost'), TETHER_APP: 'cloud', TETHER_STAGE: 'ci', TETHER_CA_FILE: ca.cert,
            HTTPS_PROXY: authProxy.url, TETHER_BRIDGE_KEY: bridgeKey,
          },
        }],
      }, { env: cleanEnv() });
      const r = await curl(['-s', '-i', lambda.url('Api', 'hello?name=cloud')], 60000);
      const res = parseCurlResponse(r.stdout);
      assert.equal(res.status, 200, `${r.stdout}\n--- lambda ---\n${lambda.stdout}\n${lambda.stderr}\n--- dev ---\n${dev.stdout}\n${dev.stderr}`);
      const body = JSON.parse(res.body.toString());
      assert.equal(body.message, 'hello, cloud!');
      assert.equal(body.runningLocally, true);
      // dev's realtime link, the bridge's, and their HTTP publishes: all via the proxy.
      const target = `127.0.0.1:${broker.port}`;
      const tunnels = authProxy.connects().slice(before);
      assert.ok(tunnels.filter((t) => t === target).length >= 1, authProxy.logText()); // dev
      assert.ok(tunnels.filter((t) => t === `localhost:${broker.port}`).length >= 1, authProxy.logText()); // bridge
    } finally {
      await lambda?.stop();
      await dev.stop();
    }
  });

  test('the official aws-amplify events client: IAM over wss, signatures verified by the broker', async () => {
    const ok = await runAmplify(
      { endpoint: broker.httpUrl, region: REGION, credentials: IDS.amplify, channel: '/default/amplify', expect: 2 },
      { ca: ca.cert },
    );
    assert.deepEqual(ok.errors, [], JSON.stringify(ok));
    assert.deepEqual(ok.events, [{ via: 'amplify websocket' }, { via: 'amplify http' }]);
    const refused = await runAmplify(
      {
        endpoint: broker.httpUrl, region: REGION, channel: '/default/amplify', expect: 1, waitMs: 3000,
        credentials: { ...IDS.amplify, secretAccessKey: 'not-the-secret' },
      },
      { ca: ca.cert },
    );
    assert.deepEqual(refused.events, []);
    assert.ok(refused.errors.length > 0, JSON.stringify(refused));
  });
});
