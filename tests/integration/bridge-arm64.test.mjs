// The arm64 bridge (build/tether-bridge-arm64, docs/bridge.md "arm64") on
// this x86_64 machine, run by QEMU's user-mode emulator:
//
//   caller ─► tether lambda ─► qemu-aarch64-static tether-bridge-arm64
//                                 ─► tether broker ─► tether dev ─► Node worker
//
// 1. the binary is what Lambda's arm64 provided.al2023 runs: an ELF for
//    EM_AARCH64, statically linked, with no program interpreter;
// 2. `tether bridge package --arch arm64` finds and packages it without
//    --bridge;
// 3. as a function's bootstrap in `tether lambda` (the same function
//    description lib/bridge.mjs gives the x86_64 bridge, with QEMU as its
//    runner), it relays invocations to a real `tether dev` and back, through
//    the Invoke API and a function URL.
//
// bridge.test.mjs's whole suite (with lib/bridge.mjs's Node dev side) also
// runs against this bridge: TETHER_BRIDGE_BIN=../../build/tether-bridge-arm64
// TETHER_BRIDGE_RUNNER=qemu-aarch64-static.
//
//   cd tests/integration && TETHER_BIN=$PWD/../../build/san/tether \
//     node --test --test-concurrency=1 bridge-arm64.test.mjs
//
// TETHER_BRIDGE_ARM64_BIN picks the bridge (default: build/tether-bridge-arm64
// beside build/tether, where `make` puts it whatever the flavour), QEMU the
// emulator (default: qemu-aarch64-static on PATH). Everything listens on
// 127.0.0.1; services and dev are stopped in after() hooks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { bridgeFunction } from './lib/bridge.mjs';
import {
  REPO_DIR,
  TETHER_BIN,
  httpRequest,
  invokeApi,
  remoteProject,
  startBroker,
  startDev,
  startLambda,
  tempDir,
} from './lib/dev.mjs';

const ARM64_BIN = path.resolve(process.env.TETHER_BRIDGE_ARM64_BIN || path.join(REPO_DIR, 'build', 'tether-bridge-arm64'));
const QEMU = process.env.QEMU || 'qemu-aarch64-static';
const EM_AARCH64 = 183;
const PT_INTERP = 3;
const PT_DYNAMIC = 2;

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The ELF header and program header types of a 64-bit little-endian ELF. */
function readElf(file) {
  const b = fs.readFileSync(file);
  assert.ok(b.length >= 64 && b.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1')), `${file} is not ELF`);
  assert.equal(b[4], 2, 'not ELFCLASS64');
  assert.equal(b[5], 1, 'not little-endian');
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  const types = [];
  for (let i = 0; i < phnum; i++) types.push(b.readUInt32LE(phoff + i * phentsize));
  return { type: b.readUInt16LE(16), machine: b.readUInt16LE(18), osabi: b[7], types, bytes: b };
}

test('the arm64 bridge and QEMU are installed (make bridge-arm64; scripts/install-deps --tests)', () => {
  assert.ok(fs.existsSync(ARM64_BIN), `${ARM64_BIN} is missing: run \`make bridge-arm64\``);
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${QEMU} does not run: ${r.error?.message ?? r.stderr}`);
});

test('the binary is a static arm64 Linux executable: EM_AARCH64, no interpreter, nothing dynamic', () => {
  const elf = readElf(ARM64_BIN);
  assert.equal(elf.machine, EM_AARCH64);
  assert.equal(elf.type, 2, 'not ET_EXEC'); // a static, non-PIE executable
  assert.ok(elf.types.length > 0, 'no program headers');
  assert.ok(!elf.types.includes(PT_INTERP), 'it asks for a program interpreter');
  assert.ok(!elf.types.includes(PT_DYNAMIC), 'it has a dynamic section');
  // The x86_64 kernel cannot run it by itself; QEMU can.
  const r = spawnSync(QEMU, [ARM64_BIN], { encoding: 'utf8', env: {}, timeout: 10000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^tether-bridge: AWS_LAMBDA_RUNTIME_API must be HOST:PORT/);
});

test('tether bridge package --arch arm64 packages it without --bridge', () => {
  const dir = tempDir('tether-arm64-package-');
  const zip = path.join(dir, 'layer.zip');
  const r = spawnSync(TETHER_BIN, ['bridge', 'package', '--arch', 'aarch64', '-o', zip], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  const binary = fs.readFileSync(ARM64_BIN);
  assert.match(r.stdout, new RegExp(`^${zip}: bootstrap \\(arm64, ${binary.length} bytes, sha256 ${sha256(binary)}\\) from ${ARM64_BIN}\n`));
  // Read back by Python's zipfile: one entry, bootstrap, a regular 0755 file
  // holding the binary byte for byte.
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import hashlib, sys, zipfile\n' +
        'z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n' +
        'for i in z.infolist(): print(i.filename, oct(i.external_attr >> 16), hashlib.sha256(z.read(i)).hexdigest())',
      zip,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  assert.equal(py.stdout, `bootstrap 0o100755 ${sha256(binary)}\n`);
  // The x86_64 bridge is not taken for arm64.
  const wrong = spawnSync(TETHER_BIN, ['bridge', 'package', '--arch', 'arm64', '--bridge', path.join(REPO_DIR, 'build', 'tether-bridge'), '-o', zip], {
    encoding: 'utf8',
    timeout: 20000,
  });
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /is built for x86_64, not arm64/);
});

describe('under QEMU as the bootstrap of a tether lambda function, served by tether dev', () => {
  const API_KEY = 'da2-arm64bridgetestkey000000001';
  const APP = 'arm';
  const STAGE = 'qemu';
  let broker;
  let lambda;
  let dev;
  let bridge;

  before(async () => {
    broker = await startBroker(['--api-key', API_KEY]);
    const { dir, bridgeKey } = remoteProject(broker, { apiKey: API_KEY, app: APP, stage: STAGE });
    // A copy, so a rebuild of build/ during the run cannot pull it away.
    bridge = path.join(tempDir('tether-arm64-bin-'), 'tether-bridge-arm64');
    fs.copyFileSync(ARM64_BIN, bridge);
    fs.chmodSync(bridge, 0o755);
    const fn = bridgeFunction('Api', {
      broker: { httpUrl: broker.info.http, apiKey: API_KEY },
      app: APP,
      stage: STAGE,
      key: bridgeKey,
      bridge,
      runner: [QEMU],
      environment: { GREETING: 'hello from arm64', TETHER_FUNCTION_ID: 'Api' },
      url: true,
    });
    lambda = await startLambda(tempDir('tether-arm64-cloud-'), { functions: [fn] });
    dev = await startDev(dir);
  });

  after(async () => {
    // Each stop also fails on sanitizer reports in that process's output.
    await dev?.stop();
    await lambda?.stop();
    await broker?.stop();
  });

  test('an invocation goes through the arm64 bridge to the local handler and back', async () => {
    const r = await invokeApi(lambda.endpoint, 'Api', { queryStringParameters: { name: 'graviton' } }, { ms: 30000 });
    assert.equal(r.status, 200, `${r.text}\n${lambda.stdout.slice(-3000)}\n${dev.dump().slice(-3000)}`);
    assert.equal(r.headers.get('x-amz-function-error'), null, r.text);
    const body = JSON.parse(r.json.body);
    assert.equal(body.message, 'hello from arm64, graviton!');
    assert.equal(body.runningLocally, true);
    assert.equal(body.requestId, r.headers.get('x-amzn-requestid'));
    assert.ok(dev.recordsOf('invocation').length >= 1, dev.dump());
  });

  test('a function URL call takes the same way, and the sandbox ran the bridge under QEMU', async () => {
    const r = await httpRequest(`${lambda.endpoint}/url/Api/arm?name=url`, { ms: 30000 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.message, 'hello from arm64, url!');
    assert.equal(r.json.path, '/arm');
    // One sandbox served both calls: the bridge stayed up between them, and
    // it is QEMU running the arm64 binary.
    assert.equal((lambda.stderr.match(/sandbox [0-9a-f]{32} started/g) ?? []).length, 1, lambda.stderr);
    const running = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        } catch {
          return [];
        }
      })
      .filter((argv) => argv.includes(bridge));
    assert.equal(running.length, 1, JSON.stringify(running));
    assert.equal(path.basename(running[0][0]), path.basename(QEMU));
  });
});
