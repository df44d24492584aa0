// The sudo-run TUN helper attacked as a local user would (issue 11, item 3):
// `tether tunnel --subnet ...` runs as user nobody through the installed
// helper and REAL sudo, inside a network namespace made here (a veth
// interface with a network and a default gateway of its own) and deleted
// afterwards, also on failure. Every request the helper must refuse is
// refused, and the namespace's links, addresses and routes are exactly as
// before; a process racing for the helper's socket loses; the installer
// refuses untrusted prefixes and users it must not write a rule for.
// Needs root, sudo, setpriv and /dev/net/tun; skipped otherwise.
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

function missingTools() {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, sudo rules)';
  for (const tool of ['/usr/bin/sudo', '/usr/sbin/visudo', '/usr/bin/setpriv', '/usr/bin/python3', '/usr/bin/ssh-keygen'])
    if (!fs.existsSync(tool)) return `${tool} is not installed`;
  if (!fs.existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return false;
}
const skip = missingTools();

const ns = `tthh${process.pid}`;
const prefix = `/opt/tether-hh${process.pid}`;
const GATEWAY = '10.99.0.1'; // on-link default gateway outside any connected network
const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
let work; // scratch directory, readable by nobody

const inNs = (cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 30000 });

// Links, addresses and routes of every table, both families.
async function snapshot() {
  const parts = await Promise.all([
    inNs('ip', ['-j', 'link', 'show']),
    inNs('ip', ['-j', 'addr', 'show']),
    inNs('ip', ['-j', '-4', 'route', 'show', 'table', 'all']),
    inNs('ip', ['-j', '-6', 'route', 'show', 'table', 'all']),
  ]);
  return parts.map((p) => JSON.parse(p.stdout || '[]'));
}

// `tether tunnel` as nobody in the namespace, through the installed helper.
function startTether(extra, cwd = work) {
  const command = [tetherBin, '--log-level', 'debug', 'tunnel', '--json', '--host', '127.0.0.1', '--user', 'x',
    '--host-key-fingerprint', FINGERPRINT, '--key', path.join(work, 'key'), ...extra];
  const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', ...command], {
    env: { ...process.env, HOME: work, USER: 'nobody', XDG_CONFIG_HOME: '', TETHER_SSH_PRIVATE_KEY: '', TETHER_TUN_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  });
  const t = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (c) => (t.stdout += c));
  child.stderr.on('data', (c) => (t.stderr += c));
  t.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return t;
}

async function refused(extra, pattern, cwd) {
  const before = await snapshot();
  const t = startTether(extra, cwd);
  const timer = setTimeout(() => t.child.kill('SIGKILL'), 20000);
  const exit = await t.exit;
  clearTimeout(timer);
  assert.equal(exit.code, 2, `tether was not refused (${JSON.stringify(exit)}):\n${t.stderr.slice(-2000)}`);
  assert.match(t.stderr, pattern);
  assert.doesNotMatch(t.stdout, /"type":"tun"/);
  assert.deepEqual(await snapshot(), before, 'the namespace changed');
}

describe('the TUN helper refuses what a least-privilege helper must', { skip, timeout: 240000 }, () => {
  before(async () => {
    await run('ip', ['netns', 'add', ns]);
    await inNs('ip', ['link', 'set', 'lo', 'up']);
    await inNs('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    // No IPv6 link-local addresses: they would come at a moment of the
    // kernel's choosing and make the before/after comparisons flaky.
    await inNs('ip', ['link', 'set', 'eth0', 'addrgenmode', 'none']);
    await inNs('ip', ['link', 'set', 'eth0p', 'addrgenmode', 'none']);
    await inNs('ip', ['link', 'set', 'eth0p', 'up']);
    await inNs('ip', ['addr', 'add', '192.168.77.2/24', 'dev', 'eth0']);
    await inNs('ip', ['addr', 'add', 'fd77::2/64', 'dev', 'eth0', 'nodad']);
    await inNs('ip', ['link', 'set', 'eth0', 'up']);
    await inNs('ip', ['route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0', 'onlink']);
    await inNs('ip', ['route', 'add', '172.30.0.0/16', 'nexthop', 'via', '10.98.0.1', 'dev', 'eth0', 'onlink',
      'nexthop', 'via', '10.98.0.2', 'dev', 'eth0', 'onlink']);
    // Links come up a moment after they are set up: wait until nothing
    // changes, so the comparisons below see only tether's doing.
    let last = JSON.stringify(await snapshot());
    for (let stable = 0; stable < 5;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = JSON.stringify(await snapshot());
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-hostile-helper-'));
    fs.chmodSync(work, 0o755);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(work, 'key')]);
    await run('chown', ['-R', 'nobody', work]);
    // nobody may route 10/8, 172.16/12 and 192.168/16, and nothing else.
    await run(tetherBin, ['tunnel', 'install', '--user', 'nobody', '--prefix', prefix,
      '--subnet', '10.0.0.0/8', '--subnet', '172.16.0.0/12', '--subnet', '192.168.0.0/16']);
    // Rules no installer writes, as if the policy had been edited by hand:
    // the helper refuses these requests whatever the policy says.
    fs.appendFileSync(path.join(prefix, 'tun-policy'), ['0.0.0.0/1', '128.0.0.0/1', '127.0.0.0/8',
      '169.254.0.0/16', '224.0.0.0/4', '100.64.0.0/10'].map((s) => `allow nobody subnet ${s}\n`).join(''));
  });

  after(async () => {
    await run(tetherBin, ['tunnel', 'uninstall', '--user', 'nobody', '--prefix', prefix]).catch(() => {});
    fs.rmSync(prefix, { recursive: true, force: true });
    await run('ip', ['netns', 'del', ns]).catch(() => {});
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('0.0.0.0/1 + 128.0.0.0/1 (the host\'s traffic) is refused', async () => {
    // Together they hold every device address, which tether refuses first.
    await refused(['--subnet', '0.0.0.0/1', '--subnet', '128.0.0.0/1'], /0\.0\.0\.0\/1/);
    await refused(['--subnet', '128.0.0.0/1'], /never routes 128\.0\.0\.0\/1: prefixes shorter than \/8/);
    await refused(['--subnet', '0.0.0.0/1', '--tun-address', '128.0.0.1'], /never routes 0\.0\.0\.0\/1: prefixes shorter than \/8/);
  });

  test('a prefix shorter than /8 inside the policy is refused', () =>
    refused(['--subnet', '10.0.0.0/7'], /never routes 10\.0\.0\.0\/7/));

  test('instance metadata (169.254.169.254/32, link-local) is refused', () =>
    refused(['--subnet', '169.254.169.254/32'], /never routes 169\.254\.169\.254\/32: it overlaps 169\.254\.0\.0\/16/));

  test('loopback and multicast are refused', async () => {
    await refused(['--subnet', '127.0.0.0/8'], /never routes 127\.0\.0\.0\/8: it overlaps 127\.0\.0\.0\/8 \(loopback\)/);
    await refused(['--subnet', '239.1.0.0/16'], /never routes 239\.1\.0\.0\/16: it overlaps 224\.0\.0\.0\/4 \(multicast\)/);
    await refused(['--subnet', 'ff05::/32'], /never routes ff05::\/32: it overlaps ff00::\/8 \(multicast\)/);
  });

  test('a subnet overlapping the namespace\'s own network or its gateway is refused', async () => {
    await refused(['--subnet', '192.168.77.0/24'], /overlaps 192\.168\.77\.0\/24, a network or gateway of this host/);
    await refused(['--subnet', '10.99.0.0/16'], /overlaps 10\.99\.0\.1\/32, a network or gateway of this host/);
    await refused(['--subnet', '10.98.0.2/32'], /overlaps 10\.98\.0\.2\/32, a network or gateway of this host/);
    await refused(['--subnet', 'fd77::/48'], /overlaps fd77::\/64, a network or gateway of this host/);
  });

  test('a subnet outside the user\'s policy is refused', () =>
    refused(['--subnet', '2001:db8:5::/48'], /the TUN policy does not let nobody route 2001:db8:5::\/48/));

  test('a TUN address outside 100.64.0.0/10 is refused', () =>
    refused(['--subnet', '10.20.0.0/16', '--tun-address', '198.19.255.1'], /address 198\.19\.255\.1 .*outside 100\.64\.0\.0\/10/));

  test('a device named 2 (an interface index for resolvectl) is refused', () =>
    refused(['--subnet', '10.20.0.0/16', '--tun-name', '2'], /names its device "tether" plus at most 4/));

  test('--dns-all without the policy allowing it is refused', () =>
    refused(['--subnet', '10.20.0.0/16', '--dns-all'], /does not let nobody use --dns-all/));

  test('a project\'s tether.json cannot widen the policy', async () => {
    const project = path.join(work, 'project');
    fs.mkdirSync(project, { recursive: true });
    const write = (tunnel) => fs.writeFileSync(path.join(project, 'tether.json'), JSON.stringify({ tunnel }));
    write({ subnets: ['10.20.0.0/16'], dnsAll: true });
    await refused([], /does not let nobody use --dns-all/, project);
    write({ subnets: ['2001:db8:7::/48'] });
    await refused([], /the TUN policy does not let nobody route 2001:db8:7::\/48/, project);
  });

  test('a policy others can write, or none at all, allows nothing', async () => {
    const file = path.join(prefix, 'tun-policy');
    fs.chmodSync(file, 0o664);
    try {
      await refused(['--subnet', '10.20.0.0/16'], /tun-policy is not a regular file owned by root and writable only by it/);
    } finally {
      fs.chmodSync(file, 0o644);
    }
    const kept = fs.readFileSync(file);
    fs.rmSync(file);
    try {
      await refused(['--subnet', '10.20.0.0/16'], /cannot read the TUN policy .*tun-policy: No such file/);
    } finally {
      fs.writeFileSync(file, kept, { mode: 0o644 });
    }
  });

  test('the attacker loses the race for the helper\'s socket', async () => {
    // As another unprivileged user (daemon), connect to every tether-tun-*
    // abstract socket as soon as it appears and pass a fake descriptor.
    const attacker = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=daemon', '--regid=daemon', '--clear-groups', '--',
      '/usr/bin/python3', '-c', RACER], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errors = '';
    attacker.stdout.on('data', (c) => (out += c));
    attacker.stderr.on('data', (c) => (errors += c));
    const attackerDone = new Promise((resolve) => attacker.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t = startTether(['--subnet', '10.20.0.0/16']);
    try {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no TUN device:\n${t.stderr.slice(-2000)}`)), 20000);
        const check = () => { if (t.stdout.includes('"type":"tun"')) { clearTimeout(timer); resolve(); } };
        t.child.stdout.on('data', check);
        t.exit.then(() => { clearTimeout(timer); reject(new Error(`tether exited:\n${t.stderr.slice(-2000)}`)); });
        check();
      });
      await attackerDone;
      assert.match(out, /connected/, `the attacker never reached the socket: ${errors}`);
      assert.match(t.stderr, /ignored a connection to the TUN helper's socket from process \d+ \(uid 1\)/);
      // The device tether runs is the helper's, not the attacker's /dev/null
      // (tether then stops on its own: there is no bastion here).
      assert.match(t.stderr, /TUN device tether \(MTU \d+\) routes 10\.20\.0\.0\/16 through the tunnel/);
      assert.doesNotMatch(t.stderr, /the helper's TUN device/);
    } finally {
      attacker.kill('SIGKILL');
      t.child.kill('SIGTERM');
      await t.exit;
    }
  });
});

// The racing attacker: polls /proc/net/unix for the helper's socket name,
// connects and sends a helper answer that claims success with /dev/null as
// the "TUN device".
const RACER = `
import os, socket, struct, time
deadline = time.time() + 20
while time.time() < deadline:
    with open('/proc/net/unix') as f:
        names = [l.split()[-1] for l in f if '@tether-tun-' in l]
    if names:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect('\\0' + names[0][1:])
        except OSError:
            continue
        print('connected', flush=True)
        msg = struct.pack('=5i', 0, 1, 1, 0, 0) + bytes(1024)
        fd = os.open('/dev/null', os.O_RDWR)
        try:
            socket.send_fds(s, [msg], [fd])
        except OSError:
            pass
        time.sleep(1)
        break
    time.sleep(0.001)
`;

describe('tether tunnel install refuses what it must not trust', { skip, timeout: 60000 }, () => {
  let scratch;
  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-hostile-install-'));
  });
  after(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('a prefix under a directory another user can write is refused, nothing is written', async () => {
    const owned = `/opt/tether-hh${process.pid}-nobody`;
    fs.mkdirSync(owned, { mode: 0o755 });
    try {
      await run('chown', ['nobody', owned]);
      await assert.rejects(run(tetherBin, ['tunnel', 'install', '--user', 'nobody', '--prefix', `${owned}/tether`, '--subnet', '10.0.0.0/16']),
        (e) => /refusing to install the helper: .*not owned by root/.test(e.stderr));
      assert.deepEqual(fs.readdirSync(owned), []);
      assert.equal(fs.existsSync('/etc/sudoers.d/tether-nobody'), false);
      // A group/world-writable parent is refused as well (/tmp is one).
      await assert.rejects(run(tetherBin, ['tunnel', 'install', '--user', 'nobody', '--prefix', `${scratch}/tether`]),
        (e) => /refusing to install the helper: .*(writable by group or others|not owned by root)/.test(e.stderr));
    } finally {
      fs.rmSync(owned, { recursive: true, force: true });
    }
  });

  test('a user named ALL and a user that does not exist are refused', async () => {
    await assert.rejects(run(tetherBin, ['tunnel', 'install', '--user', 'ALL', '--root', scratch]),
      (e) => e.code === 2 && /"ALL" is not a user name/.test(e.stderr));
    await assert.rejects(run(tetherBin, ['tunnel', 'install', '--user', `nosuchuser${process.pid}`, '--root', scratch]),
      (e) => /there is no user "nosuchuser\d+"/.test(e.stderr));
    assert.deepEqual(fs.readdirSync(scratch), []);
  });
});
