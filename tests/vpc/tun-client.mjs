// Plain TCP clients for the TUN tests and benchmark: no proxy settings, the
// kernel routes the VPC address into tether's TUN device. Runs in the test
// VPC's client namespace against tests/vpc/tools/echo-server.mjs and prints
// one JSON line with the result.
//
//   tun-client.mjs streams  --target H:P --count N --min B --max B
//       N concurrent ECHO connections, each a random payload checked by SHA-256
//   tun-client.mjs upload   --target H:P --size B     (SINK: the server's hash)
//   tun-client.mjs download --target H:P --size B     (SOURCE: keystream check)
//   tun-client.mjs idle     --target H:P --seconds S  (one connection, idle, then used)
//   tun-client.mjs latency  --target H:P --count N    (connect + one exchange each)
//   tun-client.mjs connect  --target H:P              (the connect error code, if any)
//   tun-client.mjs probe    --target H:P [--wait-ms MS]
//       connects, sends a line, and reports how the connection ended:
//       {connected, code} with code ECONNREFUSED, ECONNRESET, CLOSED or TIMEOUT
//   tun-client.mjs hold     --target H:P --count N --seconds S
//       N idle ECHO connections held open; prints {"type":"held"} once all are up
import crypto from 'node:crypto';
import net from 'node:net';

const args = Object.fromEntries(
  process.argv.slice(3).reduce((pairs, word, i, all) => {
    if (word.startsWith('--')) pairs.push([word.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true]);
    return pairs;
  }, []),
);
const target = (() => {
  const text = String(args.target);
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
})();

function keystream(seed) {
  const key = crypto.createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ ...target, noDelay: true, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function collectHash(socket) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    let n = 0;
    socket.on('data', (c) => { hash.update(c); n += c.length; });
    socket.once('end', () => resolve({ n, hex: hash.digest('hex') }));
    socket.once('error', reject);
  });
}

async function oneEcho(size) {
  const payload = crypto.randomBytes(size);
  const s = await connect();
  const back = collectHash(s);
  s.write('ECHO\n');
  s.end(payload);
  const got = await back;
  s.destroy();
  return got.n === size && got.hex === crypto.createHash('sha256').update(payload).digest('hex');
}

async function streams() {
  const count = Number(args.count), min = Number(args.min), max = Number(args.max);
  const started = Date.now();
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => oneEcho(min + Math.floor(Math.random() * (max - min + 1)))),
  );
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value).length;
  const errors = [...new Set(results.filter((r) => r.status === 'rejected').map((r) => r.reason.code || r.reason.message))];
  return { ok, failed: count - ok, errors, ms: Date.now() - started };
}

async function upload() {
  const size = Number(args.size);
  const s = await connect();
  const started = process.hrtime.bigint();
  const answer = new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c) => { text += c; });
    s.once('end', () => resolve(text.trim()));
    s.once('error', reject);
  });
  s.write(`SINK ${size}\n`);
  const cipher = keystream('upload');
  const hash = crypto.createHash('sha256');
  const zeros = Buffer.alloc(256 * 1024);
  for (let left = size; left > 0;) {
    const n = Math.min(left, zeros.length);
    const chunk = cipher.update(zeros.subarray(0, n));
    hash.update(chunk);
    left -= n;
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  const remote = await answer;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { ok: remote === hash.digest('hex'), bytes: size, gbps: (size * 8) / seconds / 1e9 };
}

async function download() {
  const size = Number(args.size);
  const s = await connect();
  const started = process.hrtime.bigint();
  const got = collectHash(s);
  s.end(`SOURCE ${size} download\n`);
  const { n, hex } = await got;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const expect = crypto.createHash('sha256');
  const cipher = keystream('download');
  const zeros = Buffer.alloc(256 * 1024);
  for (let left = size; left > 0; left -= Math.min(left, zeros.length))
    expect.update(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
  return { ok: n === size && hex === expect.digest('hex'), bytes: n, gbps: (size * 8) / seconds / 1e9 };
}

async function idle() {
  const s = await connect();
  s.write('ECHO\n');
  let closed = false;
  s.on('close', () => { closed = true; });
  s.on('error', () => {});
  console.log(JSON.stringify({ type: 'idle' }));
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  if (closed) return { ok: false, why: 'closed while idle' };
  const reply = new Promise((resolve) => {
    let got = '';
    s.on('data', (c) => { got += c; if (got.includes('still here')) resolve(got); });
    setTimeout(() => resolve(got), 5000);
  });
  s.write('still here\n');
  const got = await reply;
  s.destroy();
  return { ok: got.includes('still here') };
}

async function latency() {
  const count = Number(args.count);
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const s = await connect();
    const done = new Promise((resolve) => {
      let got = 0;
      s.on('data', (c) => { got += c.length; if (got >= 6) resolve(); });
    });
    s.write('ECHO\nping!\n');
    await done;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    s.destroy();
  }
  times.sort((a, b) => a - b);
  const pick = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { count, p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: times[times.length - 1], over40: times.filter((t) => t >= 40).length };
}

async function connectOnly() {
  try {
    const s = await connect();
    s.destroy();
    return { ok: true };
  } catch (e) {
    return { ok: false, code: e.code };
  }
}

function probe() {
  const wait = Number(args['wait-ms'] || 3000);
  return new Promise((resolve) => {
    const s = net.connect({ ...target });
    let connected = false;
    const done = (code) => { clearTimeout(timer); s.destroy(); resolve({ connected, code }); };
    const timer = setTimeout(() => done('TIMEOUT'), wait);
    s.on('connect', () => { connected = true; s.write('ECHO\n'); });
    s.on('error', (e) => done(e.code));
    s.on('close', () => done('CLOSED'));
  });
}

async function hold() {
  const count = Number(args.count);
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const s = await connect();
    s.on('error', () => {});
    s.write('ECHO\n');
    sockets.push(s);
  }
  console.log(JSON.stringify({ type: 'held', count }));
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  const alive = sockets.filter((s) => !s.destroyed).length;
  for (const s of sockets) s.destroy();
  return { ok: alive === count, alive };
}

const commands = { probe, hold, streams, upload, download, idle, latency, connect: connectOnly };
const fn = commands[process.argv[2]];
if (!fn) {
  console.error('usage: tun-client.mjs streams|upload|download|idle|latency|connect|hold ...');
  process.exit(2);
}
fn().then(
  (result) => { console.log(JSON.stringify(result)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ ok: false, error: e.code || e.message })); process.exit(1); },
);
