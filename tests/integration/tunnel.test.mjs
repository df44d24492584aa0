// `tether tunnel` end to end in a throwaway test VPC (tests/vpc/up): real
// OpenSSH sshd on the bastion, real PostgreSQL, curl, psql through
// proxychains4, and a SOCKS5 client of our own for checksummed streams.
// Needs root (network namespaces); skipped otherwise.
//
// The large transfers move 100 MB each way here to keep the suite quick;
// bench/tunnel/run moves 1 GB.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tetherBin = process.env.TETHER_BIN || path.join(root, 'build/tether');
const vpcScripts = path.join(root, 'tests/vpc');
const socksClient = path.join(vpcScripts, 'tools/socks-client.mjs');
const LARGE = 100 * 1000 * 1000;

function missingTools() {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/proxychains4', '/usr/bin/psql', '/usr/bin/curl'])
    if (!fs.existsSync(tool)) return `${tool} is not installed (scripts/install-deps --tests)`;
  return false;
}
const skip = missingTools();

let vpc; // the VPC_* variables of tests/vpc/up's env file
let work; // scratch directory for keys, known_hosts files, configs

async function loadEnv(dir) {
  const { stdout } = await run('bash', ['-c', 'set -a; . "$1/env"; env -0', '_', dir]);
  return Object.fromEntries(
    stdout.split('\0').filter((l) => l.startsWith('VPC_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const inClient = (cmd, args, options = {}) => run('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, cmd, ...args], { maxBuffer: 1 << 24, ...options });

async function socks(command, args, options = {}) {
  try {
    const { stdout } = await inClient('node', [socksClient, command, ...args], { timeout: 120000, ...options });
    return JSON.parse(stdout.trim().split('\n').pop());
  } catch (e) {
    if (e.stdout) return JSON.parse(e.stdout.trim().split('\n').pop());
    throw e;
  }
}

// Starts `tether tunnel` in the client namespace; events are its --json lines.
function startTether(extraArgs, { env = {}, home = work } = {}) {
  const args = ['netns', 'exec', vpc.VPC_NS_CLIENT, tetherBin, '--log-level', 'debug', 'tunnel', '--json',
    '--host', vpc.VPC_BASTION_ADDR, '--user', vpc.VPC_SSH_USER, '--socks', '127.0.0.1:0', ...extraArgs];
  const child = spawn('ip', args, {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '', TETHER_SSH_PRIVATE_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: env.CWD || work,
  });
  const t = { child, events: [], stderr: '', exited: null };
  let pending = '';
  const waiters = new Set();
  const check = () => { for (const w of waiters) w(); };
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try { t.events.push(JSON.parse(line)); } catch { /* not an event */ }
    }
    check();
  });
  child.stderr.on('data', (chunk) => { t.stderr += chunk; check(); });
  t.exit = new Promise((resolve) => child.on('exit', (code, signal) => { t.exited = { code, signal }; check(); resolve(t.exited); }));
  t.waitFor = (predicate, what, ms = 20000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(poll); reject(new Error(`timed out waiting for ${what}\n${t.stderr.slice(-3000)}`)); }, ms);
      const poll = () => {
        const found = t.events.find(predicate);
        if (found) { clearTimeout(timer); waiters.delete(poll); resolve(found); }
        else if (t.exited) { clearTimeout(timer); waiters.delete(poll); reject(new Error(`tether exited (${JSON.stringify(t.exited)}) before ${what}\n${t.stderr.slice(-3000)}`)); }
      };
      waiters.add(poll);
      poll();
    });
  t.ready = async () => {
    const listening = await t.waitFor((e) => e.type === 'listening', 'listening');
    t.socks = listening.socks;
    await t.waitFor((e) => e.type === 'state' && e.state === 'ready', 'the bastion connection');
    return t;
  };
  t.stop = async () => {
    if (!t.exited) child.kill('SIGTERM');
    return t.exit;
  };
  return t;
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

const keyArgs = () => ['--key', vpc.VPC_SSH_KEY, '--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP];

describe('tether tunnel in a test VPC', { skip, timeout: 240000 }, () => {
  before(async () => {
    const { stdout } = await run(path.join(vpcScripts, 'up'), ['--owner-pid', String(process.pid)], { timeout: 60000 });
    vpc = await loadEnv(stdout.trim().split('\n').pop());
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-tunnel-test-'));
  });

  after(async () => {
    if (vpc) await run(path.join(vpcScripts, 'down'), [vpc.VPC_DIR]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

describe('data path', () => {
  let tunnel; // one tunnel shared by the data-path tests

  before(async () => {
    tunnel = await startTether(keyArgs()).ready();
  });

  after(async () => {
    if (tunnel) {
      const exit = await tunnel.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `tether did not exit cleanly:\n${tunnel.stderr.slice(-3000)}`);
    }
  });

  const target = (port = vpc.VPC_ECHO_PORT) => `${vpc.VPC_SERVICE_ADDR}:${port}`;

  test('the client namespace has no route to the VPC except the tunnel', async () => {
    await assert.rejects(inClient('curl', ['-sS', '--max-time', '3', `http://${target(vpc.VPC_HTTP_PORT)}/hello.txt`]));
  });

  test('curl --socks5-hostname reaches the HTTP server by IPv4, IPv6 and a name only the bastion resolves', async () => {
    for (const host of [vpc.VPC_SERVICE_ADDR, `[${vpc.VPC_SERVICE_ADDR6}]`, vpc.VPC_SERVICE_NAME]) {
      const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', '--socks5-hostname', tunnel.socks, `http://${host}:${vpc.VPC_HTTP_PORT}/hello.txt`]);
      assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT, `through ${host}`);
    }
  });

  test('psql through proxychains4 runs a query, by address and by VPC name', async () => {
    const [host, port] = [tunnel.socks.slice(0, tunnel.socks.lastIndexOf(':')), tunnel.socks.slice(tunnel.socks.lastIndexOf(':') + 1)];
    const conf = path.join(work, 'proxychains.conf');
    fs.writeFileSync(conf, `strict_chain\nquiet_mode\nproxy_dns\nremote_dns_subnet 224\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 ${host} ${port}\n`);
    for (const dbHost of [vpc.VPC_SERVICE_ADDR, vpc.VPC_SERVICE_NAME]) {
      const { stdout } = await inClient('proxychains4', ['-q', '-f', conf, 'psql',
        `host=${dbHost} port=${vpc.VPC_PG_PORT} user=${vpc.VPC_PG_USER} dbname=${vpc.VPC_PG_DB} sslmode=disable connect_timeout=10`,
        '-Atc', 'SELECT string_agg(name, \',\' ORDER BY id) FROM lambdas'], { env: { ...process.env, PGPASSWORD: vpc.VPC_PG_PASSWORD } });
      assert.equal(stdout.trim(), 'api,worker,cron', `through ${dbHost}`);
    }
  });

  test('200 concurrent streams with checksummed payloads arrive intact both ways (client half-closes, echo finishes)', async () => {
    const result = await socks('streams', ['--socks', tunnel.socks, '--target', target(), '--count', '200', '--min', '1', '--max', '1048576']);
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.equal(result.ok, 200);
  });

  test('100 MB each way (1 GB in bench/tunnel/run) with matching SHA-256', async () => {
    const up = await socks('upload', ['--socks', tunnel.socks, '--target', target(), '--size', String(LARGE)]);
    assert.ok(up.ok, JSON.stringify(up));
    const down = await socks('download', ['--socks', tunnel.socks, '--target', target(), '--size', String(LARGE)]);
    assert.ok(down.ok, JSON.stringify(down));
    console.log(`# 100 MB up ${up.mbps.toFixed(0)} Mbit/s, down ${down.mbps.toFixed(0)} Mbit/s (sanitizer build)`);
  });

  // Unbounded buffering would show as hundreds of MB: 300 MB are offered while
  // the reader stalls for 3 s. Bounded, tether holds a few MB per stream.
  for (const direction of ['down', 'up']) {
    test(`a stalled reader (${direction}) holds tether's memory to a few MB`, async () => {
      const child = spawn('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, 'node', socksClient, 'stall', '--socks', tunnel.socks,
        '--target', target(), '--size', '300000000', '--pause-ms', '3000', '--direction', direction]);
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const done = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve, reject) => {
        const t = setInterval(() => { if (out.includes('"paused"')) { clearInterval(t); resolve(); } }, 20);
        done.then(() => { clearInterval(t); reject(new Error(`stall client ended early: ${out}`)); });
      });
      await new Promise((r) => setTimeout(r, 500));
      const before = rssKiB(tunnel.child.pid);
      await new Promise((r) => setTimeout(r, 2000));
      const during = rssKiB(tunnel.child.pid);
      await done;
      const result = JSON.parse(out.trim().split('\n').pop());
      assert.ok(result.ok, JSON.stringify(result));
      console.log(`# stalled ${direction}: tether RSS ${before} KiB -> ${during} KiB`);
      assert.ok(during - before < 32 * 1024, `tether grew by ${during - before} KiB while the reader stalled`);
    });
  }

  test('failed dials get the SOCKS reply that matches what the bastion saw', async () => {
    const cases = [
      [`${vpc.VPC_SERVICE_ADDR}:1`, 5, 'connection refused'],
      ['nothing.vpc.internal:80', 4, 'name the bastion cannot resolve'],
      ['198.19.255.1:80', 4, 'no route at the bastion'],
    ];
    for (const [to, reply, what] of cases) {
      const result = await socks('connect', ['--socks', tunnel.socks, '--target', to]);
      assert.equal(result.reply, reply, `${what}: ${JSON.stringify(result)}`);
    }
  });

  test('BIND, UDP ASSOCIATE and malformed requests are refused; the proxy stays up', async () => {
    const cases = [
      ['050100' + '05020001' + '00000000' + '0000', '0500' + '05070001000000000000', 'BIND: command not supported'],
      ['050100' + '05030001' + '00000000' + '0000', '0500' + '05070001000000000000', 'UDP ASSOCIATE: command not supported'],
      ['050100' + '05010002' + '0102030400', '0500' + '05080001000000000000', 'unknown address type'],
      ['050100' + '05010101' + 'c6120202' + '0050', '0500' + '05010001000000000000', 'reserved byte set'],
      ['050100' + '0501000300' + '0050', '0500' + '05010001000000000000', 'empty domain'],
      ['050100' + '05090001' + 'c6120202' + '0050', '0500' + '05070001000000000000', 'unknown command'],
      ['050102', '05ff', 'no acceptable method'],
      ['0500', '', 'zero methods'],
      ['04010050c6120202' + '00', '', 'SOCKS4'],
      ['474554202f20485454502f312e310d0a0d0a', '', 'HTTP instead of SOCKS'],
      ['050100' + '0501', '0500', 'truncated request, then close'],
    ];
    for (const [hex, expected, what] of cases) {
      const result = await socks('raw', ['--socks', tunnel.socks, '--hex', hex, '--wait-ms', '3000']);
      assert.equal(result.response, expected, `${what}: ${JSON.stringify(result)}`);
      if (what !== 'truncated request, then close') assert.ok(result.closed, `${what}: the proxy should close: ${JSON.stringify(result)}`);
    }
    const junk = Buffer.alloc(4096, 0x05).toString('hex');
    await socks('raw', ['--socks', tunnel.socks, '--hex', junk, '--wait-ms', '2000']);
    const ok = await socks('streams', ['--socks', tunnel.socks, '--target', target(), '--count', '3', '--min', '10', '--max', '1000']);
    assert.equal(ok.ok, 3);
    assert.equal(tunnel.exited, null);
  });

  test('the bastion killed and restarted: open streams reset, new ones work, tether stays up', async () => {
    const hold = spawn('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, 'node', socksClient, 'hold', '--socks', tunnel.socks, '--target', target(), '--count', '8', '--timeout-ms', '15000']);
    let out = '';
    hold.stdout.on('data', (c) => (out += c));
    const holdDone = new Promise((resolve) => hold.on('exit', resolve));
    await new Promise((resolve, reject) => {
      const t = setInterval(() => { if (out.includes('"open"')) { clearInterval(t); resolve(); } }, 50);
      holdDone.then(() => { clearInterval(t); reject(new Error(`hold failed: ${out}`)); });
    });
    const readyBefore = tunnel.events.filter((e) => e.state === 'ready').length;
    await run(path.join(vpcScripts, 'sshd'), ['stop', vpc.VPC_DIR]);
    await holdDone;
    const ways = JSON.parse(out.trim().split('\n').pop()).ways;
    assert.equal(ways.length, 8);
    assert.ok(ways.every((w) => w !== 'timeout'), `streams should fail promptly: ${ways}`);
    await tunnel.waitFor((e) => e.state === 'backoff', 'backoff after the bastion died');
    // A stream asked for while the bastion is down waits for the reconnect.
    const waiting = socks('streams', ['--socks', tunnel.socks, '--target', target(), '--count', '5', '--min', '1000', '--max', '100000']);
    await new Promise((r) => setTimeout(r, 500));
    await run(path.join(vpcScripts, 'sshd'), ['start', vpc.VPC_DIR]);
    await tunnel.waitFor((e) => e.state === 'ready' && tunnel.events.filter((x) => x.state === 'ready').length > readyBefore, 'the reconnect', 30000);
    const queued = await waiting;
    assert.equal(queued.ok, 5, JSON.stringify(queued));
    const fresh = await socks('streams', ['--socks', tunnel.socks, '--target', target(), '--count', '20', '--min', '1000', '--max', '100000']);
    assert.equal(fresh.ok, 20, JSON.stringify(fresh));
    assert.equal(tunnel.exited, null);
  });

  test('a frozen bastion is noticed by keep-alives and the link comes back', async () => {
    const t = await startTether([...keyArgs(), '--keepalive', '1', '--keepalive-count', '2']).ready();
    try {
      await run(path.join(vpcScripts, 'sshd'), ['freeze', vpc.VPC_DIR]);
      const backoff = await t.waitFor((e) => e.state === 'backoff', 'keep-alive timeout', 10000);
      assert.match(backoff.cause, /no answer from root@198\.18\.1\.1:22 for \d+ s \(keep-alive\)/);
    } finally {
      await run(path.join(vpcScripts, 'sshd'), ['thaw', vpc.VPC_DIR]);
    }
    await t.waitFor((e) => e.state === 'ready' && t.events.filter((x) => x.state === 'ready').length > 1, 'the reconnect', 30000);
    assert.equal((await t.stop()).code, 0);
  });
});

describe('refusals', () => {

  const fresh = () => fs.mkdtempSync(path.join(work, 'home-'));

  test('an unknown host key is refused, naming its fingerprint', async () => {
    const t = startTether(['--key', vpc.VPC_SSH_KEY], { home: fresh() });
    const exit = await t.exit;
    assert.equal(exit.code, 1);
    assert.match(t.stderr, /host key of 198\.18\.1\.1 is not known/);
    assert.ok(t.stderr.includes(vpc.VPC_SSH_HOST_KEY_FP), t.stderr);
  });

  test('a changed host key is refused with the file and line', async () => {
    const home = fresh();
    fs.mkdirSync(path.join(home, '.ssh'));
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(home, 'impostor')]);
    const impostor = fs.readFileSync(path.join(home, 'impostor.pub'), 'utf8').split(' ');
    const knownHosts = path.join(home, '.ssh/known_hosts');
    fs.writeFileSync(knownHosts, `# a comment\n${vpc.VPC_BASTION_ADDR} ${impostor[0]} ${impostor[1]}\n`);
    const t = startTether(keyArgs(), { home });
    const exit = await t.exit;
    assert.equal(exit.code, 1);
    assert.match(t.stderr, /HOST KEY MISMATCH for 198\.18\.1\.1/);
    assert.ok(t.stderr.includes(`${knownHosts} line 2`), t.stderr);
  });

  test('a wrong --host-key-fingerprint is refused', async () => {
    const t = startTether(['--key', vpc.VPC_SSH_KEY, '--host-key-fingerprint', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], { home: fresh() });
    assert.equal((await t.exit).code, 1);
    assert.match(t.stderr, /not the SHA256:AAAA\S* given with --host-key-fingerprint/);
  });

  test('--accept-new-host-key records the key; the next run trusts it without flags', async () => {
    const home = fresh();
    const first = await startTether(['--key', vpc.VPC_SSH_KEY, '--accept-new-host-key'], { home }).ready();
    await first.stop();
    const recorded = fs.readFileSync(path.join(home, '.config/tether/known_hosts'), 'utf8');
    assert.match(recorded, /^198\.18\.1\.1 ssh-ed25519 AAAA/);
    const second = await startTether(['--key', vpc.VPC_SSH_KEY], { home }).ready();
    assert.equal((await second.stop()).code, 0);
  });

  test('a key the bastion does not accept is refused', async () => {
    const t = startTether(['--key', vpc.VPC_SSH_OTHER_KEY, '--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP], { home: fresh() });
    assert.equal((await t.exit).code, 1);
    assert.match(t.stderr, /authentication refused: .* did not accept key file .*other_key for user root/);
  });

  test('the key can come from TETHER_SSH_PRIVATE_KEY; an encrypted key fails clearly', async () => {
    const text = fs.readFileSync(vpc.VPC_SSH_KEY, 'utf8');
    const t = await startTether(['--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP], { home: fresh(), env: { TETHER_SSH_PRIVATE_KEY: text } }).ready();
    assert.equal((await t.stop()).code, 0);
    const home = fresh();
    const encrypted = path.join(home, 'encrypted');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', encrypted]);
    const e = startTether(['--key', encrypted, '--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP], { home });
    assert.equal((await e.exit).code, 1);
    assert.match(e.stderr, /encrypted with a passphrase/);
  });

  test('without a key option, the keys of ssh-agent are used', async () => {
    const home = fresh();
    const socket = path.join(home, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      await run('ssh-add', ['-q', vpc.VPC_SSH_KEY], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const t = await startTether(['--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP], { home, env: { SSH_AUTH_SOCK: socket } }).ready();
      assert.match(t.stderr, /logged in to root@198\.18\.1\.1:22 with ssh-agent/);
      assert.equal((await t.stop()).code, 0);
    } finally {
      agent.kill();
    }
  });

  test('an unreachable bastion fails with a clear error', async () => {
    const refused = startTether([...keyArgs(), '--port', '2222'], { home: fresh() });
    assert.equal((await refused.exit).code, 1);
    assert.match(refused.stderr, /cannot connect to root@198\.18\.1\.1:2222: Connection refused/);
    const unreachable = spawn('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, tetherBin, 'tunnel', '--host', '198.18.1.99', '--user', 'root', ...keyArgs(), '--socks', '127.0.0.1:0', '--connect-timeout', '2'], { env: { ...process.env, HOME: fresh() } });
    let stderr = '';
    unreachable.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((r) => unreachable.on('exit', r));
    assert.equal(code, 1);
    assert.match(stderr, /198\.18\.1\.99/);
  });

  test('tether.json supplies the settings; unknown keys are named with the file', async () => {
    const dir = fresh();
    fs.writeFileSync(path.join(dir, 'tether.json'), JSON.stringify({ tunnel: { host: vpc.VPC_BASTION_ADDR, user: 'root', key: vpc.VPC_SSH_KEY, hostKeyFingerprint: vpc.VPC_SSH_HOST_KEY_FP, socks: '127.0.0.1:0' } }));
    const ok = spawn('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, tetherBin, 'tunnel', '--json'], { cwd: dir, env: { ...process.env, HOME: dir } });
    let out = '';
    ok.stdout.on('data', (c) => (out += c));
    await new Promise((resolve, reject) => {
      const t = setInterval(() => { if (out.includes('"ready"')) { clearInterval(t); resolve(); } }, 50);
      ok.on('exit', (c) => { clearInterval(t); reject(new Error(`exited ${c}: ${out}`)); });
    });
    ok.kill('SIGTERM');
    fs.writeFileSync(path.join(dir, 'tether.json'), JSON.stringify({ tunnel: { host: 'x', user: 'y', hots: 'z' } }));
    const bad = await run(tetherBin, ['tunnel'], { cwd: dir }).catch((e) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /tether\.json: unknown key "tunnel\.hots"/);
  });

  test('SOCKS username/password: right ones pass, wrong ones and no-auth clients are refused', async () => {
    const t = await startTether([...keyArgs(), '--socks-user', 'dev'], { home: fresh(), env: { TETHER_SOCKS_PASSWORD: 's3cret' } }).ready();
    const url = `http://${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_HTTP_PORT}/hello.txt`;
    const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', '-x', `socks5h://dev:s3cret@${t.socks}`, url]);
    assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
    await assert.rejects(inClient('curl', ['-sS', '--max-time', '10', '-x', `socks5h://dev:wrong@${t.socks}`, url]));
    const noAuth = await socks('raw', ['--socks', t.socks, '--hex', '050100', '--wait-ms', '2000']);
    assert.equal(noAuth.response, '05ff');
    assert.equal((await t.stop()).code, 0);
  });
});
});
