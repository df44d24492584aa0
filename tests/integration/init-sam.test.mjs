// `tether init --sam`: tether.json from SAM templates (AWS's sample apps and
// tether's own edge cases under tests/data/sam/), compared with the expected
// file byte for byte (key order, two-space indent, trailing newline); the
// refusals (an existing tether.json, a link planted in its place, nothing
// usable, an alias bomb); and the written Node.js and Python projects run
// under `tether dev`, answering `tether invoke` with the samples' own code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { REPO_DIR, TETHER_BIN, invokeJson, makeProject, sanitizerFindings, startDev, tempDir } from './lib/dev.mjs';

const DATA = path.join(REPO_DIR, 'tests', 'data', 'sam');

/** The environment without any AWS settings of this machine: the region must
 * come from the template's directory or the command line only. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1', HOME: tempDir('tether-init-home-') };
  for (const name of Object.keys(env)) {
    if (/^AWS_/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

/** Runs `tether init ARGS` in cwd; {code, stdout, stderr}. */
function init(cwd, args = [], env = {}) {
  const r = spawnSync(TETHER_BIN, ['init', ...args], { cwd, env: cleanEnv(env), encoding: 'utf8', timeout: 30000 });
  const findings = sanitizerFindings(r.stderr);
  assert.equal(findings.length, 0, r.stderr);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of tests/data/sam/NAME in a fresh folder. */
function sample(name) {
  return makeProject({ from: path.join(DATA, name), prefix: 'tether-init-' });
}

function readConfig(dir) {
  return fs.readFileSync(path.join(dir, 'tether.json'), 'utf8');
}

/** The whole file: JSON.stringify's two-space layout is jansson's too. */
function assertWritten(text, expected) {
  assert.deepEqual(JSON.parse(text), expected);
  assert.deepEqual(Object.keys(JSON.parse(text)), Object.keys(expected), 'key order');
  assert.equal(text, `${JSON.stringify(expected, null, 2)}\n`);
}

const api = { event: 'event HelloWorld (Api get /hello) is API Gateway' };

describe('tether init --sam', () => {
  test("AWS's Node.js sample: handler from CodeUri + Handler, Globals' timeout, no region so no \"aws\"", () => {
    const dir = sample('node-hello');
    const r = init(dir, ['--sam']);
    assert.equal(r.code, 0, r.stderr);
    assertWritten(readConfig(dir), {
      app: path.basename(dir),
      functions: { HelloWorldFunction: { root: 'hello-world', handler: 'app.lambdaHandler', runtime: 'nodejs20.x', timeout: 3 } },
    });
    assert.match(r.stdout, /HelloWorldFunction +nodejs20\.x +hello-world\/app\.lambdaHandler/);
    assert.ok(r.stdout.includes(api.event), r.stdout);
    assert.match(r.stdout, /no region known: tether\.json gets no "aws" section/);
    assert.match(r.stdout, /wrote .*tether\.json \(1 function\)/);
  });

  test("AWS's Python sample with a samconfig.toml: the deploy table's stack, region and the stack as app", () => {
    const dir = sample('python-hello');
    const r = init(dir, ['--sam', 'template.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assertWritten(readConfig(dir), {
      app: 'sam-app-py',
      aws: { region: 'eu-west-1', stack: 'sam-app-py' },
      functions: { HelloWorldFunction: { root: 'hello_world', handler: 'app.lambda_handler', runtime: 'python3.13', timeout: 3 } },
    });
    assert.match(r.stdout, /stack sam-app-py \(from samconfig\.toml\), region eu-west-1 \(from samconfig\.toml\)/);
  });

  test("AWS's TypeScript sample: the esbuild entry point is the handler; --stack, --region, --profile and --app", () => {
    const dir = sample('ts-hello');
    const r = init(dir, ['--sam', '--stack', 'ts-stack', '--region', 'us-west-2', '--profile', 'dev', '--app', 'ts']);
    assert.equal(r.code, 0, r.stderr);
    assertWritten(readConfig(dir), {
      app: 'ts',
      aws: { region: 'us-west-2', profile: 'dev', stack: 'ts-stack' },
      functions: { HelloWorldFunction: { root: 'hello-world', handler: 'app.lambdaHandler', runtime: 'nodejs22.x', timeout: 3 } },
    });
  });

  test("the region from the AWS environment when samconfig.toml has none", () => {
    const dir = sample('node-hello');
    const r = init(dir, ['--sam', '--stdout'], { AWS_REGION: 'ap-south-1' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).aws, { region: 'ap-south-1', stack: path.basename(dir) });
    assert.match(r.stderr, /region ap-south-1 \(from the AWS configuration\)/);
    assert.equal(fs.existsSync(path.join(dir, 'tether.json')), false, '--stdout writes nothing');
  });

  test('edge cases: Globals merged, intrinsics resolved or left out and listed, URLs, builds, skipped functions', () => {
    const dir = sample('edge');
    const r = init(dir, ['--sam', '--region', 'us-east-1', '--stack', 'edge-stack']);
    assert.equal(r.code, 0, r.stderr);
    const build = (id, tail) => `out="$PWD/.aws-sam/tether/${id}" && mkdir -p "$out" && ${tail}`;
    assertWritten(readConfig(dir), {
      app: 'edge-stack',
      aws: { region: 'us-east-1', stack: 'edge-stack' },
      functions: {
        Api: {
          root: 'src',
          handler: 'handlers/api.handler',
          runtime: 'nodejs20.x',
          timeout: 10,
          memory: 256,
          environment: {
            SHARED: 'from-globals',
            OVERRIDDEN: 'from-resource',
            LOG_LEVEL: 'dev',
            GREETING: 'hello-dev',
            REGION_NAME: 'us-east-1-x',
            STACK: 'edge-stack',
            JOINED: 'a-dev-c',
            PICKED: 'y',
            LITERAL_SUB: '${NotAVar}',
            VARS_SUB: 'dev-dev',
            NUMBER: '42',
            FLAG: 'true',
          },
          url: true,
          streaming: true,
        },
        Worker: {
          root: 'workers',
          handler: 'jobs.worker.main',
          runtime: 'python3.12',
          memory: 512,
          environment: { SHARED: 'from-globals', OVERRIDDEN: 'from-globals', LOG_LEVEL: 'dev' },
        },
        GoApi: {
          handler: 'bootstrap',
          runtime: 'provided.al2023',
          bootstrap: '.aws-sam/tether/GoApi/bootstrap',
          build: build('GoApi', 'cd go-api && go build -tags lambda.norpc -o "$out/bootstrap" .'),
          timeout: 10,
          memory: 512,
          environment: { SHARED: 'from-globals', OVERRIDDEN: 'from-globals', LOG_LEVEL: 'dev' },
        },
        MakeFn: {
          handler: 'my.handler',
          runtime: 'provided.al2',
          bootstrap: '.aws-sam/tether/MakeFn/bootstrap',
          build: build('MakeFn', 'make -C native build-MakeFn ARTIFACTS_DIR="$out"'),
          timeout: 10,
          memory: 512,
          environment: { SHARED: 'from-globals', OVERRIDDEN: 'from-globals', LOG_LEVEL: 'dev' },
        },
        Plain: { root: 'plain', handler: 'index.handler', runtime: 'nodejs22.x', url: true },
      },
    });
    for (const line of [
      'Api: environment variable TABLE is left out: it refers to Table, known only in AWS',
      'Api: environment variable TABLE_ARN is left out: Fn::GetAtt is known only in AWS',
      'Api: environment variable NO_DEFAULT is left out: parameter TableName has no Default',
      'Api: environment variable CHOSEN is left out: Fn::If is known only in AWS',
      'Api: event Get (HttpApi GET /items) is API Gateway',
      'Api: event Queue (SQS) reaches only the deployed function',
      'Worker: Timeout 2000 is left out: tether allows 1 to 900',
      'Image: skipped: a container image function',
      'Inline: skipped: its code is inline in the template',
      'Old: skipped: runtime "nodejs12.x" is not supported',
      'Escape: skipped: CodeUri ../outside is not a path inside the project',
    ]) {
      assert.ok(r.stdout.includes(line), `summary lacks "${line}":\n${r.stdout}`);
    }
  });

  test('a JSON template', () => {
    const dir = makeProject({ prefix: 'tether-init-', files: { 'template.json': fs.readFileSync(path.join(DATA, 'template.json'), 'utf8') } });
    const r = init(dir, ['--sam', 'template.json', '--app', 'json-app']);
    assert.equal(r.code, 0, r.stderr);
    assertWritten(readConfig(dir), {
      app: 'json-app',
      functions: { JsonFn: { root: 'fn', handler: 'index.handler', runtime: 'nodejs22.x', timeout: 30, environment: { GREETING: 'hi!' }, url: true } },
    });
  });

  test('an existing tether.json is kept without --force and replaced with it', () => {
    const dir = sample('node-hello');
    fs.writeFileSync(path.join(dir, 'tether.json'), '{"mine": true}\n');
    const refused = init(dir, ['--sam']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /tether\.json: File exists \(--force replaces it\)/);
    assert.equal(readConfig(dir), '{"mine": true}\n');
    const forced = init(dir, ['--sam', '--force', '--app', 'forced']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(readConfig(dir)).app, 'forced');
    assert.equal(fs.statSync(path.join(dir, 'tether.json')).mode & 0o777, 0o644);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('tether.json.')), [], 'no temporary file left');
  });

  test('a link planted in place of tether.json is not followed', () => {
    const dir = sample('node-hello');
    const victim = path.join(tempDir('tether-init-victim-'), 'victim');
    fs.writeFileSync(victim, 'untouched\n');
    fs.symlinkSync(victim, path.join(dir, 'tether.json'));
    const r = init(dir, ['--sam']);
    assert.equal(r.code, 2);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched\n');
    const dangling = sample('node-hello');
    const target = path.join(tempDir('tether-init-victim-'), 'created-through-link');
    fs.symlinkSync(target, path.join(dangling, 'tether.json'));
    assert.equal(init(dangling, ['--sam']).code, 2);
    assert.equal(fs.existsSync(target), false);
  });

  test('nothing usable, a bad template, a bomb, a bad option: exit 2, no file', () => {
    const images = makeProject({
      prefix: 'tether-init-',
      files: { 'template.yaml': 'Resources:\n  Img:\n    Type: AWS::Serverless::Function\n    Properties: {PackageType: Image}\n' },
    });
    const none = init(images, ['--sam']);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Img: skipped: a container image function/);
    assert.match(none.stderr, /no function in .*template\.yaml that tether dev can run/);
    assert.equal(fs.existsSync(path.join(images, 'tether.json')), false);

    const bomb = makeProject({ prefix: 'tether-init-', files: { 'template.yaml': fs.readFileSync(path.join(DATA, 'alias-bomb.yaml'), 'utf8') } });
    const started = Date.now();
    const refused = init(bomb, ['--sam']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /template\.yaml: line 7, column 8: aliases repeat more than 200000 nodes/);
    assert.ok(Date.now() - started < 5000, 'refused while reading, not after expanding');

    const deep = init(DATA, ['--sam', 'deep.yaml', '--stdout']);
    assert.equal(deep.code, 2);
    assert.match(deep.stderr, /deep\.yaml: line 2, column \d+: nested more than 64 levels deep/);

    const missing = init(images, ['--sam', 'nope.yaml']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope\.yaml: No such file or directory/);

    const badStack = init(sample('node-hello'), ['--sam', '--stack', '9lives', '--region', 'us-east-1']);
    assert.equal(badStack.code, 2);
    assert.match(badStack.stderr, /aws\.stack: must be a CloudFormation stack name or ARN/);

    const noSam = init(images, []);
    assert.equal(noSam.code, 2);
    assert.match(noSam.stderr, /say what to read: --sam \[TEMPLATE\]/);
  });

  for (const [name, code] of [
    ['node-hello', 'hello-world/app.mjs'],
    ['python-hello', 'hello_world/app.py'],
  ]) {
    test(`${name}: the written project runs under tether dev and answers with the sample's own ${code}`, async () => {
      const dir = sample(name);
      // Without an "aws" section: dev then runs on the embedded defaults and
      // attaches nothing (this machine has no AWS account to attach to).
      fs.rmSync(path.join(dir, 'samconfig.toml'), { force: true });
      const r = init(dir, ['--sam']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(readConfig(dir)).aws, undefined);
      const dev = await startDev(dir);
      try {
        const inv = await invokeJson('HelloWorldFunction', { cwd: dir, args: ['--event', '-'], input: '{"path":"/hello"}' });
        assert.equal(inv.code, 0, `${inv.stderr}\n${dev.dump()}`);
        assert.equal(inv.json.statusCode, 200);
        assert.deepEqual(JSON.parse(inv.json.body), { message: 'hello world' });
      } finally {
        assert.equal((await dev.stop()).code, 0, dev.dump());
      }
    });
  }

  test('the CodeUri is the task root: a Python handler imports the module beside it, as in Lambda', async () => {
    const dir = makeProject({
      prefix: 'tether-init-',
      files: {
        'template.yaml': [
          "AWSTemplateFormatVersion: '2010-09-09'",
          'Transform: AWS::Serverless-2016-10-31',
          'Resources:',
          '  Orders:',
          '    Type: AWS::Serverless::Function',
          '    Properties:',
          '      CodeUri: orders/',
          '      Handler: app.handler',
          '      Runtime: python3.12',
          '',
        ].join('\n'),
        'orders/app.py': 'import pricing\n\ndef handler(event, context):\n    return {"total": pricing.total(event["items"])}\n',
        'orders/pricing.py': 'def total(items):\n    return sum(items) * 2\n',
      },
    });
    const r = init(dir, ['--sam']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readConfig(dir)).functions.Orders, { root: 'orders', handler: 'app.handler', runtime: 'python3.12' });
    const dev = await startDev(dir);
    try {
      const inv = await invokeJson('Orders', { cwd: dir, args: ['--event', '-'], input: '{"items":[1,2,3]}' });
      assert.equal(inv.code, 0, `${inv.stderr}\n${dev.dump()}`);
      assert.deepEqual(inv.json, { total: 12 });
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });
});
