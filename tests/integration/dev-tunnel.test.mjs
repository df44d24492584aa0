// The VPC tunnel inside `tether dev` (docs/dev.md, "The tunnel inside dev")
// end to end in a throwaway test VPC (tests/vpc/up): a real OpenSSH sshd as
// the bastion and real PostgreSQL in the VPC namespace. `tether dev` runs in
// the client namespace, whose only way into the VPC is the tunnel; a local
// Node handler queries PostgreSQL with psql, through the TUN device (no
// settings) or through the SOCKS5 proxy dev gives it as ALL_PROXY.
// Needs root (network namespaces, the TUN device); skipped otherwise.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Dev, TETHER_BIN, makeProject, waitFor } from './lib/dev.mjs';
import { vpcDown, vpcSshd, vpcUp } from './lib/vpc.mjs';

const run = promisify(execFile);

function missingTools() {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/proxychains4', '/usr/bin/psql', '/usr/bin/curl'])
    if (!fs.existsSync(tool)) return `${tool} is not installed (scripts/install-deps --tests)`;
  if (!fs.existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return false;
}
const skip = missingTools();

let vpc; // the VPC_* variables of tests/vpc/up's env file
let work; // HOME of the dev runs: the SSH key, tether's known_hosts

const inClient = (cmd, args, options = {}) =>
  run('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, cmd, ...args], { maxBuffer: 1 << 24, timeout: 60000, ...options });

// The handler under test: psql to the VPC's database, straight (the TUN
// device routes the subnet) or, when dev gave it ALL_PROXY, through
// proxychains4 pointed at that proxy; and with ALL_PROXY, curl (which reads
// ALL_PROXY itself) to the VPC's web server.
const dbHandler = `
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
const run = promisify(execFile);
export const handler = async () => {
  const db = JSON.parse(process.env.TEST_DB);
  const proxy = process.env.ALL_PROXY ?? null;
  let cmd = 'psql';
  let args = [db.conninfo, '-Atc', "SELECT string_agg(name, ',' ORDER BY id) FROM lambdas"];
  let web = null;
  if (proxy) {
    const url = new URL(proxy);
    const conf = '/tmp/tether-dev-tunnel-' + process.pid + '.conf';
    fs.writeFileSync(conf, 'strict_chain\\nquiet_mode\\n[ProxyList]\\nsocks5 ' + url.hostname + ' ' + url.port + '\\n');
    args = ['-q', '-f', conf, cmd, ...args];
    cmd = 'proxychains4';
    web = (await run('curl', ['-sS', '--max-time', '15', db.web])).stdout.trim();
  }
  const { stdout } = await run(cmd, args, { env: { ...process.env, PGPASSWORD: db.password }, timeout: 30000 });
  return { statusCode: 200, body: JSON.stringify({ rows: stdout.trim(), proxy, web }) };
};
`;

const helloHandler = `export const handler = async () => ({ statusCode: 200, body: 'hello' });\n`;

function project(tunnel, keyFile = path.join(work, 'key')) {
  const testDb = JSON.stringify({
    conninfo: `host=${vpc.VPC_SERVICE_ADDR} port=${vpc.VPC_PG_PORT} user=${vpc.VPC_PG_USER} dbname=${vpc.VPC_PG_DB} sslmode=disable connect_timeout=10`,
    password: vpc.VPC_PG_PASSWORD,
    web: `http://${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_HTTP_PORT}/hello.txt`,
  });
  return makeProject({
    prefix: 'tether-dev-tunnel-',
    files: {
      'tether.json': {
        app: 'devtunnel',
        stage: 'test',
        functions: {
          Db: { runtime: 'nodejs20.x', handler: 'db.handler', url: true, timeout: 60, environment: { TEST_DB: testDb } },
          Hello: { runtime: 'nodejs20.x', handler: 'hello.handler', url: true },
        },
        tunnel: {
          host: vpc.VPC_BASTION_ADDR,
          user: vpc.VPC_SSH_USER,
          key: keyFile,
          hostKeyFingerprint: vpc.VPC_SSH_HOST_KEY_FP,
          socks: '127.0.0.1:0',
          ...tunnel,
        },
      },
      'db.mjs': dbHandler,
      'hello.mjs': helloHandler,
    },
  });
}

// `tether dev --json` in the client namespace, as root or as `user`
// (`ip netns exec` and setpriv exec: the child is dev itself, so Dev.stop
// signals dev).
async function startDev(dir, { user, home = work, env = {} } = {}) {
  const command = [TETHER_BIN, 'dev', '--json', '--port', '0'];
  const args = ['netns', 'exec', vpc.VPC_NS_CLIENT,
    ...(user ? ['setpriv', `--reuid=${user}`, '--regid=nogroup', '--clear-groups', '--'] : []), ...command];
  const child = spawn('ip', args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', HOME: home, USER: user || 'root', XDG_CONFIG_HOME: '', TETHER_SSH_PRIVATE_KEY: '', ...env },
  });
  const dev = new Dev(child, dir, args);
  try {
    await waitFor(() => dev.records.some((r) => r.type === 'ready') || !dev.alive, 30000, 'tether dev to be ready');
    assert.ok(dev.alive, `tether dev exited before it was ready\n${dev.dump()}`);
  } catch (err) {
    await dev.stop('SIGKILL').catch(() => {});
    throw new Error(`${err.message}\n${dev.dump()}`);
  }
  return dev;
}

// Through the function URL; a failure carries dev's output, which says where
// the invocation stopped.
async function invoke(dev, fn) {
  try {
    const { stdout } = await inClient('curl', ['-sS', '--fail-with-body', '--max-time', '60', dev.urls[fn]]);
    return stdout;
  } catch (err) {
    throw new Error(`invoking ${fn}: ${err.message}\n${err.stdout ?? ''}\n${dev.dump().slice(-6000)}`);
  }
}

const tunnelRecords = (dev) => dev.recordsOf('tunnel');
const connected = (dev) => tunnelRecords(dev).filter((r) => r.state === 'connected');

describe('tether dev with a "tunnel" section, in a test VPC', { skip, timeout: 300000 }, () => {
  before(async () => {
    vpc = await vpcUp();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-dev-tunnel-home-'));
    fs.copyFileSync(vpc.VPC_SSH_KEY, path.join(work, 'key'));
    fs.chmodSync(path.join(work, 'key'), 0o600);
  });

  after(async () => {
    if (vpc) await vpcDown(vpc);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('through the TUN device: a handler queries PostgreSQL; the bastion dies and comes back, dev keeps serving', async () => {
    const dev = await startDev(project({ subnets: [`${vpc.VPC_SERVICE_ADDR.split('.').slice(0, 3).join('.')}.0/24`] }));
    try {
      await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'connected', 30000, 'the tunnel connected');
      const first = connected(dev)[0];
      assert.equal(first.bastion, `${vpc.VPC_SSH_USER}@${vpc.VPC_BASTION_ADDR}`);
      assert.equal(first.tun, 'tether');
      assert.match(first.socks, /^127\.0\.0\.1:\d+$/);

      const answer = JSON.parse(await invoke(dev, 'Db'));
      assert.deepEqual(answer, { rows: 'api,worker,cron', proxy: null, web: null }, dev.dump());
      // The counters move: the query went through the tunnel.
      await dev.waitForRecord((r) => r.type === 'tunnel' && r.bytesUp > 0 && r.bytesDown > 0, 10000, 'tunnel bytes');

      const before = dev.records.length;
      await vpcSshd(vpc, 'stop');
      const lost = await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'reconnecting', 30000, 'the tunnel reconnecting', before);
      assert.ok(lost.cause, JSON.stringify(lost));
      // Functions keep running while the bastion is gone.
      assert.equal(await invoke(dev, 'Hello'), 'hello');
      await vpcSshd(vpc, 'start');
      await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'connected', 60000, 'the tunnel connected again', before);
      assert.deepEqual(JSON.parse(await invoke(dev, 'Db')).rows, 'api,worker,cron');
      assert.ok(dev.alive, dev.dump());
      assert.equal(dev.recordsOf('error').length, 0, dev.dump());
    } finally {
      const end = await dev.stop();
      assert.equal(end.code, 0, dev.dump());
    }
    // The device went with dev.
    await assert.rejects(inClient('ip', ['link', 'show', 'tether']));
  });

  test('SOCKS5 only: the handler gets ALL_PROXY, and curl and psql (via proxychains4) reach the VPC', async () => {
    const dev = await startDev(project({}));
    try {
      const up = await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'connected', 30000, 'the tunnel connected');
      assert.equal(up.tun, null);
      const answer = JSON.parse(await invoke(dev, 'Db'));
      assert.equal(answer.proxy, `socks5h://${up.socks}`);
      assert.equal(answer.rows, 'api,worker,cron');
      assert.equal(answer.web, vpc.VPC_HTTP_CONTENT);
      // Loopback stays direct (NO_PROXY): the Hello function needs nothing of the VPC.
      assert.equal(await invoke(dev, 'Hello'), 'hello');
    } finally {
      const end = await dev.stop();
      assert.equal(end.code, 0, dev.dump());
    }
  });

  test('subnets asked for but no TUN device (unprivileged, no helper): one note says what to run, SOCKS5 serves', async () => {
    const home = path.join(work, 'nobody');
    fs.mkdirSync(home);
    fs.copyFileSync(vpc.VPC_SSH_KEY, path.join(home, 'key'));
    fs.chmodSync(path.join(home, 'key'), 0o600);
    const dir = project({ subnets: ['198.18.2.0/24'] }, path.join(home, 'key'));
    fs.chmodSync(work, 0o755);
    await run('chown', ['-R', 'nobody', home, dir]);
    const dev = await startDev(dir, { user: 'nobody', home, env: { TETHER_TUN_PREFIX: '/nonexistent/tether' } });
    try {
      const up = await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'connected', 30000, 'the tunnel connected');
      assert.equal(up.tun, null);
      const notes = dev.recordsOf('info').filter((r) => /TUN/.test(r.message));
      assert.equal(notes.length, 1, dev.dump());
      assert.match(notes[0].message, /sudo tether tunnel install/);
      const answer = JSON.parse(await invoke(dev, 'Db'));
      assert.equal(answer.proxy, `socks5h://${up.socks}`);
      assert.equal(answer.rows, 'api,worker,cron');
      await assert.rejects(inClient('ip', ['link', 'show', 'tether']));
    } finally {
      const end = await dev.stop();
      assert.equal(end.code, 0, dev.dump());
    }
  });

  test('a bastion that refuses the host key fails the tunnel, not dev', async () => {
    const dir = project({ hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    // The known_hosts of the earlier runs would vouch for the real key.
    fs.rmSync(path.join(work, '.config'), { recursive: true, force: true });
    const dev = await startDev(dir);
    try {
      const failed = await dev.waitForRecord((r) => r.type === 'tunnel' && r.state === 'failed', 30000, 'the tunnel failed');
      assert.ok(failed.cause, JSON.stringify(failed));
      assert.equal(await invoke(dev, 'Hello'), 'hello');
      assert.ok(dev.alive);
    } finally {
      const end = await dev.stop();
      assert.equal(end.code, 0, dev.dump());
    }
  });
});
