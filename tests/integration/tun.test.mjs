// The TUN path (`tether tunnel --subnet ...`, docs/tun.md) end to end in a
// throwaway test VPC (tests/vpc/up): real OpenSSH sshd on the
// bastion, PostgreSQL, curl and psql with no proxy settings, dnsmasq serving
// a private zone in the VPC, the privileged helper through real sudo.
// Needs root (network namespaces); skipped otherwise.
//
// The large transfers move 100 MB each way here to keep the suite quick;
// bench/tunnel-tun/run moves 1 GB.
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
const client = path.join(vpcScripts, 'tun-client.mjs');
const probe = path.join(vpcScripts, 'tun-probe.py');
const LARGE = 100 * 1000 * 1000;
const TUN_ADDR = '198.19.255.1';
const TUN_ADDR6 = '2001:2:0:ff::1';
const HELPER_TUN_ADDR = '100.100.255.1';
const HELPER_TUN_ADDR6 = 'fd00:2:0:ff::1';
const DEVICE = 'tether';

function missingTools() {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/psql', '/usr/bin/curl', '/usr/sbin/dnsmasq', '/usr/bin/python3'])
    if (!fs.existsSync(tool)) return `${tool} is not installed (scripts/install-deps --tests)`;
  if (!fs.existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return false;
}
const skip = missingTools();

let vpc; // the VPC_* variables of tests/vpc/up's env file
let work; // scratch directory
let netnsEtc; // /etc/netns/<client ns>: resolv.conf for the client namespace
let nobodyHome; // HOME of the unprivileged runs

async function loadEnv(dir) {
  const { stdout } = await run('bash', ['-c', 'set -a; . "$1/env"; env -0', '_', dir]);
  return Object.fromEntries(
    stdout.split('\0').filter((l) => l.startsWith('VPC_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const inClient = (cmd, args, options = {}) =>
  run('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, cmd, ...args], { maxBuffer: 1 << 24, timeout: 120000, ...options });

async function clientJson(args, options = {}) {
  try {
    const { stdout } = await inClient('node', [client, ...args], options);
    return JSON.parse(stdout.trim().split('\n').pop());
  } catch (e) {
    if (e.stdout) return JSON.parse(e.stdout.trim().split('\n').pop());
    throw e;
  }
}

async function probeJson(args) {
  const { stdout } = await inClient('python3', [probe, ...args]);
  return JSON.parse(stdout.trim());
}

const tunArgs = (device = DEVICE) => ['--subnet', '198.18.2.0/24', '--subnet', '2001:2:0:2::/64',
  '--tun-address', TUN_ADDR, '--tun-address', TUN_ADDR6, '--tun-name', device, '--dns-domain', 'vpc.internal'];

// Starts `tether tunnel` in the client namespace; events are its --json
// lines. `bare` leaves the connection settings out (tether.json has them).
function startTether(extraArgs, { user, env = {}, bin = tetherBin, home = work, cwd = home, bare = false } = {}) {
  const connection = bare ? [] : ['--host', vpc.VPC_BASTION_ADDR, '--user', vpc.VPC_SSH_USER,
    '--socks', '127.0.0.1:0', '--host-key-fingerprint', vpc.VPC_SSH_HOST_KEY_FP];
  const command = [bin, '--log-level', 'debug', 'tunnel', '--json', ...connection, ...extraArgs];
  // setpriv execs (no fork), so the child's pid is tether's.
  const argv = user ? ['netns', 'exec', vpc.VPC_NS_CLIENT, 'setpriv', `--reuid=${user}`, '--regid=nogroup', '--clear-groups', '--', ...command]
    : ['netns', 'exec', vpc.VPC_NS_CLIENT, ...command];
  const child = spawn('ip', argv, {
    env: { ...process.env, HOME: home, USER: user || 'root', XDG_CONFIG_HOME: '', TETHER_SSH_PRIVATE_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
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
    await t.waitFor((e) => e.type === 'tun', 'the TUN device');
    await t.waitFor((e) => e.type === 'state' && e.state === 'ready', 'the bastion connection');
    return t;
  };
  t.stop = async () => {
    if (!t.exited) child.kill('SIGTERM');
    return t.exit;
  };
  return t;
}

const deviceExists = async (name = DEVICE) => {
  try {
    await inClient('ip', ['link', 'show', name]);
    return true;
  } catch {
    return false;
  }
};

async function routesTo(name = DEVICE) {
  const { stdout } = await inClient('ip', ['route', 'show', 'dev', name]).catch(() => ({ stdout: '' }));
  return stdout;
}

const psqlArgs = (host) => [`host=${host} port=${vpc.VPC_PG_PORT} user=${vpc.VPC_PG_USER} dbname=${vpc.VPC_PG_DB} sslmode=disable connect_timeout=10`,
  '-Atc', "SELECT string_agg(name, ',' ORDER BY id) FROM lambdas"];

const httpUrl = (host) => `http://${host}:${vpc.VPC_HTTP_PORT}/hello.txt`;

describe('tether tunnel --subnet (TUN path) in a test VPC', { skip, timeout: 300000 }, () => {
  let tether; // shared by the data-path tests
  let idle; // a connection left idle across the data tests

  before(async () => {
    const { stdout } = await run(path.join(vpcScripts, 'up'), ['--owner-pid', String(process.pid)], { timeout: 90000 });
    vpc = await loadEnv(stdout.trim().split('\n').pop());
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-tun-test-'));
    fs.chmodSync(work, 0o755);
    fs.copyFileSync(vpc.VPC_SSH_KEY, path.join(work, 'key'));
    fs.chmodSync(path.join(work, 'key'), 0o600);
    // The unprivileged runs are user nobody, with a home and key of its own.
    nobodyHome = path.join(work, 'nobody');
    fs.mkdirSync(nobodyHome);
    fs.copyFileSync(vpc.VPC_SSH_KEY, path.join(nobodyHome, 'key'));
    fs.chmodSync(path.join(nobodyHome, 'key'), 0o600);
    await run('chown', ['-R', 'nobody', nobodyHome]);
    // The VPC's private zone, served where AWS puts a VPC's resolver (base + 2).
    spawn('ip', ['netns', 'exec', vpc.VPC_NS_VPC, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts',
      `--listen-address=${vpc.VPC_SERVICE_ADDR}`, '--bind-interfaces', `--host-record=db.vpc.internal,${vpc.VPC_SERVICE_ADDR}`,
      `--host-record=web.vpc.internal,${vpc.VPC_SERVICE_ADDR},${vpc.VPC_SERVICE_ADDR6}`, `--pid-file=${work}/dnsmasq.pid`],
    { stdio: 'ignore', detached: false });
    // Programs in the client namespace resolve through tether's forwarder.
    netnsEtc = `/etc/netns/${vpc.VPC_NS_CLIENT}`;
    fs.mkdirSync(netnsEtc, { recursive: true });
    fs.writeFileSync(path.join(netnsEtc, 'resolv.conf'), `nameserver ${TUN_ADDR}\noptions timeout:2 attempts:2\n`);
    tether = await startTether(['--key', path.join(work, 'key'), ...tunArgs()]).ready();
    idle = spawn('ip', ['netns', 'exec', vpc.VPC_NS_CLIENT, 'node', client, 'idle', '--target', `${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_ECHO_PORT}`, '--seconds', '25']);
    idle.out = '';
    idle.stdout.on('data', (c) => (idle.out += c));
    idle.done = new Promise((resolve) => idle.on('exit', resolve));
  });

  after(async () => {
    if (tether) await tether.stop();
    if (netnsEtc) fs.rmSync(netnsEtc, { recursive: true, force: true });
    if (vpc) await run(path.join(vpcScripts, 'down'), [vpc.VPC_DIR]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the device has its addresses and one route per subnet', async () => {
    const routes = await routesTo();
    assert.match(routes, /198\.18\.2\.0\/24/);
    const { stdout } = await inClient('ip', ['-6', 'route', 'show', 'dev', DEVICE]);
    assert.match(stdout, /2001:2:0:2::\/64/);
  });

  test('curl reaches the HTTP server by IPv4 and IPv6 address with no proxy settings', async () => {
    for (const host of [vpc.VPC_SERVICE_ADDR, `[${vpc.VPC_SERVICE_ADDR6}]`]) {
      const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(host)]);
      assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT, `through ${host}`);
    }
  });

  test('psql runs a query by address and by a private DNS name', async () => {
    for (const host of [vpc.VPC_SERVICE_ADDR, 'db.vpc.internal']) {
      const { stdout } = await inClient('psql', psqlArgs(host), { env: { ...process.env, PGPASSWORD: vpc.VPC_PG_PASSWORD } });
      assert.equal(stdout.trim(), 'api,worker,cron', `through ${host}`);
    }
  });

  test('DNS: VPC names resolve (A and AAAA), other names are refused', async () => {
    const { stdout } = await inClient('getent', ['ahosts', 'web.vpc.internal']);
    assert.match(stdout, new RegExp(vpc.VPC_SERVICE_ADDR.replace(/\./g, '\\.')));
    assert.match(stdout, /2001:2:0:2::2/);
    const { stdout: body } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl('web.vpc.internal')]);
    assert.equal(body.trim(), vpc.VPC_HTTP_CONTENT);
    await assert.rejects(inClient('getent', ['hosts', 'example.com']));
  });

  test('a closed port is reset at once (refused with --tun-hold-syn, below); ping is answered; other UDP gets port unreachable', async () => {
    const started = Date.now();
    const closed = await clientJson(['probe', '--target', `${vpc.VPC_SERVICE_ADDR}:9`]);
    assert.equal(closed.code, 'ECONNRESET', JSON.stringify(closed));
    assert.ok(Date.now() - started < 5000);
    for (const addr of [vpc.VPC_SERVICE_ADDR, vpc.VPC_SERVICE_ADDR6]) {
      assert.deepEqual(await probeJson(['ping', addr]), { reply: 'echo-reply' });
      assert.deepEqual(await probeJson(['udp', addr, '9999']), { result: 'refused' });
    }
  });

  test('1000 concurrent connections with checksummed payloads arrive intact', async () => {
    const result = await clientJson(['streams', '--target', `${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_ECHO_PORT}`,
      '--count', '1000', '--min', '1', '--max', '262144']);
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.equal(result.ok, 1000);
  });

  test('100 MB each way (1 GB in bench/tunnel-tun/run) with matching SHA-256', async () => {
    const target = `${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_ECHO_PORT}`;
    const up = await clientJson(['upload', '--target', target, '--size', String(LARGE)]);
    assert.ok(up.ok, JSON.stringify(up));
    const down = await clientJson(['download', '--target', `[${vpc.VPC_SERVICE_ADDR6}]:${vpc.VPC_ECHO_PORT}`, '--size', String(LARGE)]);
    assert.ok(down.ok, JSON.stringify(down));
    console.log(`# 100 MB up ${up.gbps.toFixed(2)} Gbit/s, down ${down.gbps.toFixed(2)} Gbit/s (this build)`);
  });

  test('malformed and truncated packets written into the device are dropped; traffic goes on', async () => {
    for (const addr of [vpc.VPC_SERVICE_ADDR, vpc.VPC_SERVICE_ADDR6]) {
      const { sent } = await probeJson(['inject', DEVICE, addr]);
      assert.ok(sent > 200);
    }
    assert.equal(tether.exited, null);
    const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(vpc.VPC_SERVICE_ADDR)]);
    assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
  });

  test('a long-lived idle connection is kept', async () => {
    await idle.done;
    const result = JSON.parse(idle.out.trim().split('\n').pop());
    assert.ok(result.ok, JSON.stringify(result));
  });

  test('the bastion restarts mid-run: tether survives and new connections work', async () => {
    await run(path.join(vpcScripts, 'sshd'), ['stop', vpc.VPC_DIR]);
    // While the bastion is down, connections fail (reset) instead of hanging.
    const during = await clientJson(['probe', '--target', `${vpc.VPC_SERVICE_ADDR}:${vpc.VPC_ECHO_PORT}`, '--wait-ms', '20000']);
    assert.ok(['ECONNRESET', 'ECONNREFUSED', 'EHOSTUNREACH', 'CLOSED'].includes(during.code), JSON.stringify(during));
    await run(path.join(vpcScripts, 'sshd'), ['start', vpc.VPC_DIR]);
    const readyEvents = () => tether.events.filter((e) => e.type === 'state' && e.state === 'ready').length;
    const before = readyEvents();
    await tether.waitFor(() => readyEvents() > before, 'the reconnection', 40000);
    assert.equal(tether.exited, null);
    const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(vpc.VPC_SERVICE_ADDR)]);
    assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
  });

  test('SIGTERM removes the device and its routes and reports what the engine dropped', async () => {
    const exit = await tether.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, tether.stderr.slice(-3000));
    assert.match(tether.stderr, /malformed [1-9]/);
    assert.equal(await deviceExists(), false);
    tether = null;
  });

  test('SIGKILL: the device and routes go with the process; the next start works', async () => {
    let t = await startTether(['--key', path.join(work, 'key'), ...tunArgs()]).ready();
    t.child.kill('SIGKILL');
    await t.exit;
    assert.equal(await deviceExists(), false, 'the device outlived SIGKILL');
    assert.doesNotMatch((await inClient('ip', ['route'])).stdout, /198\.18\.2\.0\/24/);
    // The restart also runs with --tun-hold-syn: a closed port is then refused.
    t = await startTether(['--key', path.join(work, 'key'), '--tun-hold-syn', ...tunArgs()]).ready();
    const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(vpc.VPC_SERVICE_ADDR)]);
    assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
    const refused = await clientJson(['probe', '--target', `${vpc.VPC_SERVICE_ADDR}:9`]);
    assert.deepEqual(refused, { connected: false, code: 'ECONNREFUSED' });
    // A second tether on the same device name is refused, naming the first.
    const second = startTether(['--key', path.join(work, 'key'), ...tunArgs()]);
    const exit = await second.exit;
    assert.equal(exit.code, 1);
    assert.match(second.stderr, new RegExp(`in use by process ${t.child.pid}`));
    await t.stop();
  });

  test('a stale persistent device left behind (with its routes) is deleted at start', async () => {
    const name = 'tthstale';
    await inClient('ip', ['tuntap', 'add', 'mode', 'tun', 'name', name]);
    await inClient('ip', ['link', 'set', name, 'alias', 'tether VPC tunnel', 'up']);
    await inClient('ip', ['route', 'add', '198.18.2.0/24', 'dev', name]);
    const t = await startTether(['--key', path.join(work, 'key'), ...tunArgs(name)]).ready();
    assert.match(t.stderr, /deleted the stale TUN device tthstale/);
    const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(vpc.VPC_SERVICE_ADDR)]);
    assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
    await t.stop();
    assert.equal(await deviceExists(name), false);
    // Someone else's interfaces of that name are left alone: another kind of
    // link, or a TUN device tether did not make.
    await inClient('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    let refused = startTether(['--key', path.join(work, 'key'), ...tunArgs(name)]);
    assert.equal((await refused.exit).code, 1);
    assert.match(refused.stderr, /is not a TUN device/);
    await inClient('ip', ['link', 'del', name]);
    await inClient('ip', ['tuntap', 'add', 'mode', 'tun', 'name', name]);
    refused = startTether(['--key', path.join(work, 'key'), ...tunArgs(name)]);
    assert.equal((await refused.exit).code, 1);
    assert.match(refused.stderr, /was not made by tether/);
    await inClient('ip', ['link', 'del', name]);
  });

  test('host, user, key and subnets come from tether.json; --socks [::1]:PORT listens on ::1', async () => {
    const dir = path.join(work, 'project');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tether.json'), JSON.stringify({ tunnel: {
      host: vpc.VPC_BASTION_ADDR, user: vpc.VPC_SSH_USER, key: path.join(work, 'key'),
      hostKeyFingerprint: vpc.VPC_SSH_HOST_KEY_FP, subnets: ['198.18.2.0/24', '2001:2:0:2::/64'],
      dnsDomains: ['vpc.internal'] } }));
    const t = await startTether(['--socks', '[::1]:0', '--tun-address', TUN_ADDR, '--tun-address', TUN_ADDR6],
      { bare: true, cwd: dir }).ready();
    try {
      const listening = t.events.find((e) => e.type === 'listening');
      assert.match(listening.socks, /^\[::1\]:[1-9][0-9]*$/);
      const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl('db.vpc.internal')]);
      assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT, 'through the TUN device');
      const { stdout: proxied } = await inClient('curl', ['-sS', '--max-time', '10', '--socks5-hostname',
        listening.socks, httpUrl(vpc.VPC_SERVICE_ADDR)]);
      assert.equal(proxied.trim(), vpc.VPC_HTTP_CONTENT, 'through the SOCKS5 proxy on ::1');
    } finally {
      assert.deepEqual(await t.stop(), { code: 0, signal: null });
    }
  });

  test('--port 70000 is refused with a clear error, before anything starts', async () => {
    const t = startTether(['--key', path.join(work, 'key'), '--port', '70000', ...tunArgs()]);
    assert.equal((await t.exit).code, 2);
    assert.match(t.stderr, /--port wants a number from 1 to 65535, not "70000"/);
    assert.equal(await deviceExists(), false);
  });

  test('`tether tun` is another name for `tether tunnel`', async () => {
    const [tun, tunnel] = await Promise.all([run(tetherBin, ['tun', '--help']), run(tetherBin, ['tunnel', '--help'])]);
    assert.equal(tun.stdout, tunnel.stdout);
    assert.match(tunnel.stdout, /--subnet CIDR/);
    assert.match(tunnel.stdout, /sudo tether tunnel install\|uninstall/);
    const install = await run(tetherBin, ['tunnel', 'install', '--help']);
    assert.match(install.stdout, /usage: tether tunnel install .*\n\s+tether tunnel uninstall /);
    assert.match(install.stdout, /--prefix DIR/);
  });

  test('install and uninstall round trip in a scratch root', async () => {
    const scratch = path.join(work, 'root');
    fs.mkdirSync(scratch);
    const { stdout } = await run(tetherBin, ['tunnel', 'install', '--user', 'nobody', '--root', scratch,
      '--subnet', '198.18.2.0/24', '--subnet', '2001:2:0:2::/64']);
    assert.match(stdout, /installed/);
    const rule = fs.readFileSync(path.join(scratch, 'etc/sudoers.d/tether-nobody'), 'utf8');
    assert.match(rule, /^nobody ALL=\(root\) NOPASSWD: \/opt\/tether\/tether tun-helper \*$/m);
    assert.equal(fs.statSync(path.join(scratch, 'etc/sudoers.d/tether-nobody')).mode & 0o777, 0o440);
    assert.equal(fs.statSync(path.join(scratch, 'opt/tether/tether')).mode & 0o777, 0o755);
    // The policy holds exactly the subnets given.
    const policy = fs.readFileSync(path.join(scratch, 'opt/tether/tun-policy'), 'utf8');
    assert.deepEqual(policy.split('\n').filter((l) => l && !l.startsWith('#')),
      ['allow nobody subnet 198.18.2.0/24', 'allow nobody subnet 2001:2:0:2::/64']);
    assert.equal(fs.statSync(path.join(scratch, 'opt/tether/tun-policy')).mode & 0o777, 0o644);
    await run(tetherBin, ['tunnel', 'uninstall', '--user', 'nobody', '--root', scratch]);
    assert.equal(fs.existsSync(path.join(scratch, 'opt/tether')), false);
    assert.equal(fs.existsSync(path.join(scratch, 'etc/sudoers.d/tether-nobody')), false);
    await assert.rejects(run(tetherBin, ['tunnel', 'install', '--user', 'no body', '--root', scratch]), /not a user name/);
  });

  test('unprivileged without the helper: says exactly what to run', async () => {
    const t = startTether(['--key', path.join(nobodyHome, 'key'), ...tunArgs()],
      { user: 'nobody', home: nobodyHome, env: { TETHER_TUN_PREFIX: '/nonexistent/tether' } });
    const exit = await t.exit;
    assert.equal(exit.code, 2);
    assert.match(t.stderr, /Run once:\n\s+sudo tether tunnel install/);
    assert.equal(await deviceExists(), false);
  });

  test('unprivileged through the installed helper and real sudo', { skip: !fs.existsSync('/usr/bin/sudo') && 'sudo is not installed' }, async () => {
    const prefix = `/opt/tether-tt${process.pid}`;
    const home = nobodyHome;
    await run(tetherBin, ['tunnel', 'install', '--user', 'nobody', '--prefix', prefix,
      '--subnet', '198.18.2.0/24', '--subnet', '2001:2:0:2::/64']);
    // The helper gives a device only addresses in 100.64.0.0/10 and fd00::/8;
    // the namespace's resolver follows the device's address for this run.
    const resolv = path.join(netnsEtc, 'resolv.conf');
    const resolvBefore = fs.readFileSync(resolv, 'utf8');
    fs.writeFileSync(resolv, resolvBefore.replace(TUN_ADDR, HELPER_TUN_ADDR));
    try {
      const args = tunArgs().map((a) => (a === TUN_ADDR ? HELPER_TUN_ADDR : a === TUN_ADDR6 ? HELPER_TUN_ADDR6 : a));
      const t = startTether(['--key', path.join(home, 'key'), ...args], { user: 'nobody', home, env: { TETHER_TUN_PREFIX: prefix } });
      await t.ready();
      const { stdout: ps } = await run('ps', ['-o', 'user=', '-p', String(t.child.pid)]);
      assert.equal(ps.trim(), 'nobody');
      const { stdout } = await inClient('curl', ['-sS', '--max-time', '10', httpUrl(vpc.VPC_SERVICE_ADDR)]);
      assert.equal(stdout.trim(), vpc.VPC_HTTP_CONTENT);
      const names = await inClient('getent', ['hosts', 'db.vpc.internal']);
      assert.match(names.stdout, /198\.18\.2\.2/);
      assert.deepEqual(await t.stop(), { code: 0, signal: null });
      assert.equal(await deviceExists(), false);
    } finally {
      fs.writeFileSync(resolv, resolvBefore);
      await run(tetherBin, ['tunnel', 'uninstall', '--user', 'nobody', '--prefix', prefix]);
    }
    assert.equal(fs.existsSync(prefix), false);
  });
});
