// Helpers for the cloud-mode tests: a test CA and certificates (openssl CLI),
// a real HTTP proxy (Debian's tinyproxy, on a free loopback port with its
// own config), a stand-in for the STS query API that checks SigV4 with the
// official signer, scratch HOMEs with ~/.aws files, and running tether
// commands. Run as `node lib/cloud.mjs amplify JSON` it is the official
// aws-amplify events client (a child process, so NODE_EXTRA_CA_CERTS applies).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { verifySigV4 } from './aws-capture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const integrationDir = path.resolve(here, '..');
export const TETHER_BIN = path.resolve(integrationDir, process.env.TETHER_BIN || path.join('..', '..', 'build', 'tether'));
export const CLOUD_LIB = fileURLToPath(import.meta.url);
/** The bridge beside the tether under test (build/tether-bridge, or the
 * sanitizer build's build/san/tether-bridge). */
export const BRIDGE_BIN = path.join(path.dirname(TETHER_BIN), 'tether-bridge');

const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function waitFor(check, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function assertNoSanitizer(text, who) {
  const findings = text.split('\n').filter((l) => SANITIZER_PATTERNS.some((p) => l.includes(p)));
  assert.deepEqual(findings, [], `sanitizer report from ${who}:\n${text}`);
}

/* ------------------------------------------------------------ certificates */

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `openssl ${args[0]} failed: ${r.stderr}`);
}

/** A CA (ca.pem) and a server certificate it signed for `names` (IP:/DNS:). */
export function makeCa(dir) {
  const ca = { key: path.join(dir, 'ca-key.pem'), cert: path.join(dir, 'ca.pem') };
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', '/CN=tether test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return ca;
}

export function makeServerCert(dir, ca, name, sans) {
  const key = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', cert, '-days', '2', '-extfile', ext]);
  return { key, cert };
}

/* ------------------------------------------------------------- the proxy */

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts tinyproxy in the foreground with its own config on a free port;
 * `auth` ({user, password}) turns on BasicAuth. .url carries the
 * credentials (userinfo); .connects() lists the CONNECT targets in its log.
 */
export async function startTinyproxy(dir, { auth } = {}) {
  const port = await freePort();
  const name = auth ? 'tinyproxy-auth' : 'tinyproxy';
  const conf = path.join(dir, `${name}.conf`);
  const log = path.join(dir, `${name}.log`);
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 120',
      `LogFile "${log}"`,
      'LogLevel Connect',
      'MaxClients 100',
      'Allow 127.0.0.1',
      auth ? `BasicAuth ${auth.user} ${auth.password}` : '',
      '',
    ].join('\n'),
  );
  const child = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.on('data', (c) => {
    stderr += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  await waitFor(() => canConnect(port), 10000, `tinyproxy on port ${port} (${stderr})`);
  const userinfo = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : '';
  return {
    port,
    url: `http://${userinfo}127.0.0.1:${port}`,
    logText: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''),
    connects() {
      return [...this.logText().matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map((m) => m[1]);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await withTimeout(new Promise((r) => child.once('exit', r)), 5000, 'tinyproxy to exit').catch(() => child.kill('SIGKILL'));
      }
    },
  };
}

/* ------------------------------------------------------- STS stand-in */

/**
 * A stand-in for the STS query API (POST / with Action=AssumeRole): it
 * re-signs each request with the official signer (@smithy/signature-v4,
 * service sts) using the caller's known credentials and answers the role's
 * credentials as STS's XML. A bad signature gets STS's SignatureDoesNotMatch.
 */
export async function startStsStandIn({ caller, role, region = 'us-east-1' }) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const record = { headers: req.headers, body, params: Object.fromEntries(new URLSearchParams(body)) };
      requests.push(record);
      record.signatureValid = await verifySigV4(
        { method: req.method, path: req.url.split('?')[0], query: {}, headers: req.headers, body },
        { credentials: caller, region, service: 'sts', maxSkewMs: 5 * 60 * 1000 },
      );
      if (!record.signatureValid) {
        res.writeHead(403, { 'content-type': 'text/xml' });
        res.end('<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>' +
          '<Message>The request signature we calculated does not match the signature you provided.</Message></Error></ErrorResponse>');
        return;
      }
      const expiration = new Date(Date.now() + 3600 * 1000).toISOString();
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>${record.params.RoleArn}/${record.params.RoleSessionName}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${role.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${role.secretAccessKey}</SecretAccessKey>
      <SessionToken>${role.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`);
    });
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/* ---------------------------------------------------------- scratch HOMEs */

/** A scratch HOME with ~/.aws/config and ~/.aws/credentials (text). */
export function makeAwsHome(dir, { config = '', credentials = '', files = {} } = {}) {
  fs.mkdirSync(path.join(dir, '.aws'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.aws', 'config'), config);
  fs.writeFileSync(path.join(dir, '.aws', 'credentials'), credentials, { mode: 0o600 });
  for (const [name, { text, mode = 0o644 }] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), text, { mode });
  }
  return dir;
}

/** The environment of a tether process with nothing AWS- or proxy-related
 * inherited from ours. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^AWS_|^(https?|no)_proxy$/i.test(k)) delete env[k];
  }
  return { ...env, ...extra };
}

/** Runs tether ARGS to the end: {code, stdout, stderr}; checks for sanitizer reports. */
export function runTether(args, { env, ms = 30000 } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const child = spawn(TETHER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        assertNoSanitizer(stderr, `tether ${args[0]}`);
        resolve({ code, stdout, stderr });
      });
    }),
    ms,
    `tether ${args.join(' ')}`,
  );
}

/** Starts a long-running tether command; .lines() are its stdout lines. */
export function spawnTether(args, { env, cwd } = {}) {
  const child = spawn(TETHER_BIN, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (c) => {
    p.stdout += c;
  });
  child.stderr.on('data', (c) => {
    p.stderr += c;
  });
  p.lines = () => p.stdout.split('\n').filter(Boolean);
  p.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await withTimeout(new Promise((r) => child.once('exit', r)), 10000, 'tether to exit').catch(() => child.kill('SIGKILL'));
    }
    assertNoSanitizer(p.stderr, `tether ${args[0]}`);
  };
  return p;
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/* ------------------------------------------------- the aws-amplify client */

/**
 * Runs the official aws-amplify events client in a child Node process
 * (NODE_EXTRA_CA_CERTS = the test CA): connect, subscribe, publish over the
 * WebSocket and over HTTP with IAM auth, then wait for `expect` events on the
 * subscription. Resolves to its report: {events: [...], errors: [...]}.
 */
export function runAmplify(options, { ca, env = {}, ms = 60000 } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLOUD_LIB, 'amplify', JSON.stringify(options)], {
        env: cleanEnv({ NODE_EXTRA_CA_CERTS: ca, ...env }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      child.once('exit', (code) => {
        const last = stdout.trim().split('\n').pop();
        try {
          resolve({ code, ...JSON.parse(last), stderr });
        } catch {
          reject(new Error(`amplify client exited ${code}:\n${stdout}\n${stderr}`));
        }
      });
    }),
    ms,
    'the aws-amplify client',
  );
}

async function amplifyMain(options) {
  const { default: WebSocket } = await import('ws');
  globalThis.WebSocket ??= WebSocket; // Node 20 has no global WebSocket
  const { Amplify } = await import('aws-amplify');
  const { events } = await import('aws-amplify/data');
  const report = { events: [], errors: [], steps: [] };
  Amplify.configure(
    { API: { Events: { endpoint: options.endpoint, region: options.region, defaultAuthMode: 'iam' } } },
    {
      Auth: {
        credentialsProvider: {
          getCredentialsAndIdentityId: async () => ({ credentials: options.credentials, identityId: 'tether-test' }),
          clearCredentialsAndIdentityId: () => {},
        },
      },
    },
  );
  const done = new Promise((resolve) => {
    report.finish = resolve;
  });
  const channel = await events.connect(options.channel);
  report.steps.push('connected');
  const sub = channel.subscribe({
    next: (data) => {
      report.events.push(data.event ?? data);
      if (report.events.length >= options.expect) report.finish();
    },
    error: (err) => report.errors.push(String(err?.message ?? err)),
  });
  await sleep(500); // subscribe_success arrives asynchronously
  const ws = await channel.publish({ via: 'amplify websocket' });
  report.steps.push(`ws publish: ${JSON.stringify(ws)}`);
  const post = await events.post(options.channel, { via: 'amplify http' });
  report.steps.push(`http publish: ${JSON.stringify(post)}`);
  process.stdout.write(`${JSON.stringify({ type: 'published' })}\n`);
  await withTimeout(done, options.waitMs ?? 20000, 'events on the Amplify subscription').catch((e) => report.errors.push(e.message));
  sub.unsubscribe();
  channel.close();
  delete report.finish;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'amplify') {
  amplifyMain(JSON.parse(process.argv[3])).catch((err) => {
    process.stdout.write(`${JSON.stringify({ events: [], errors: [String(err?.stack ?? err)] })}\n`);
    process.exit(1);
  });
}
