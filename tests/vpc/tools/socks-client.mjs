// A SOCKS5 client for the tunnel tests and the benchmark; runs in the test
// VPC's client namespace and prints one JSON line with the result.
//
//   socks-client.mjs streams  --socks H:P --target H:P --count N --min B --max B
//   socks-client.mjs upload   --socks H:P --target H:P --size B
//   socks-client.mjs download --socks H:P --target H:P --size B
//   socks-client.mjs connect  --socks H:P --target H:P          (reply code)
//   socks-client.mjs raw      --socks H:P --hex BYTES [--wait-ms MS]
//   socks-client.mjs hold     --socks H:P --target H:P --count N --timeout-ms MS
//   socks-client.mjs stall    --socks H:P --target H:P --size B --pause-ms MS --direction up|down
//                     (a reader that stops for a while: prints {"type":"paused"} when
//                     the pause starts, then checks every byte)
//   socks-client.mjs latency  (--socks H:P --target H:P | --direct H:P) --count N
//
// --user/--password add RFC 1929 authentication. The target is the echo
// server of tests/vpc/tools/echo-server.mjs.
import crypto from 'node:crypto';
import net from 'node:net';

const args = Object.fromEntries(
  process.argv.slice(3).reduce((pairs, word, i, all) => {
    if (word.startsWith('--')) pairs.push([word.slice(2), all[i + 1]?.startsWith('--') ? true : all[i + 1] ?? true]);
    return pairs;
  }, []),
);
const hostPort = (text) => {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
};

function keystream(seed) {
  const key = crypto.createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

// Reads exactly n bytes from a paused-then-flowing socket; leftovers are put back.
function readExactly(socket, n) {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        done();
        socket.pause();
        if (got.length > n) socket.unshift(got.subarray(n));
        resolve(got.subarray(0, n));
      }
    };
    const onEnd = () => { done(); reject(new Error(`closed after ${got.length} of ${n} bytes`)); };
    const onError = (e) => { done(); reject(e); };
    const done = () => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onError);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}

function addressBytes(host) {
  if (net.isIPv4(host)) return Buffer.from([1, ...host.split('.').map(Number)]);
  if (net.isIPv6(host)) {
    const sock = new net.SocketAddress({ address: host, family: 'ipv6' });
    const parts = sock.address.includes('::') ? expand6(sock.address) : sock.address.split(':');
    const bytes = Buffer.alloc(16);
    parts.forEach((p, i) => bytes.writeUInt16BE(parseInt(p || '0', 16), i * 2));
    return Buffer.concat([Buffer.from([4]), bytes]);
  }
  const name = Buffer.from(host);
  return Buffer.concat([Buffer.from([3, name.length]), name]);
}
function expand6(address) {
  const [head, tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
}

// Resolves {socket, reply}; the socket is paused and ready for data when reply is 0.
export async function socksConnect(socks, target, { user, password, timeoutMs = 20000 } = {}) {
  const { host, port } = hostPort(socks);
  const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
  socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(new Error('SOCKS handshake timed out')), timeoutMs);
  try {
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.write(Buffer.from([5, 1, user ? 2 : 0]));
    const method = await readExactly(socket, 2);
    if (method[0] !== 5 || method[1] !== (user ? 2 : 0)) throw new Error(`method refused: ${method.toString('hex')}`);
    if (user) {
      socket.write(Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([password.length]), Buffer.from(password)]));
      const status = await readExactly(socket, 2);
      if (status[1] !== 0) return { socket, reply: 'auth-failed' };
    }
    const t = hostPort(target);
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16BE(t.port);
    socket.write(Buffer.concat([Buffer.from([5, 1, 0]), addressBytes(t.host), portBytes]));
    const head = await readExactly(socket, 4);
    const addrLen = head[3] === 1 ? 4 : head[3] === 4 ? 16 : (await readExactly(socket, 1))[0];
    await readExactly(socket, addrLen + 2);
    return { socket, reply: head[1] };
  } finally {
    clearTimeout(timer);
  }
}

// Direct TCP (for `ssh -L` baselines), same shape as socksConnect.
async function directConnect(address) {
  const { host, port } = hostPort(address);
  const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.pause();
  return { socket, reply: 0 };
}

function collect(socket) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    socket.on('data', (c) => { hash.update(c); bytes += c.length; });
    socket.on('end', () => resolve({ sha: hash.digest('hex'), bytes }));
    socket.on('error', reject);
    socket.resume();
  });
}

async function oneEchoStream(i, size) {
  const payload = crypto.randomBytes(size);
  const { socket, reply } = await socksConnect(args.socks, args.target);
  if (reply !== 0) throw new Error(`stream ${i}: SOCKS reply ${reply}`);
  const result = collect(socket);
  socket.write('ECHO\n');
  socket.end(payload);
  const { sha, bytes } = await result;
  const expected = crypto.createHash('sha256').update(payload).digest('hex');
  if (sha !== expected) throw new Error(`stream ${i}: ${bytes} of ${size} bytes came back, checksum ${sha === expected ? 'ok' : 'differs'}`);
  return size;
}

async function streams() {
  const count = Number(args.count), min = Number(args.min), max = Number(args.max);
  const started = Date.now();
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => oneEchoStream(i, min + crypto.randomInt(max - min + 1))),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  return {
    ok: results.length - failed.length,
    failed: failed.length,
    errors: failed.slice(0, 5).map((r) => r.reason.message),
    bytes: results.reduce((n, r) => n + (r.value || 0), 0),
    ms: Date.now() - started,
  };
}

async function upload(pauseMs = 0) {
  const size = Number(args.size);
  const { socket, reply } = await socksConnect(args.socks, args.target);
  if (reply !== 0) return { ok: false, reply };
  const started = process.hrtime.bigint();
  const answer = new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (c) => (text += c));
    socket.on('end', () => resolve(text.trim()));
    socket.on('error', reject);
    socket.resume();
  });
  const hash = crypto.createHash('sha256');
  const cipher = keystream('upload');
  const zeros = Buffer.alloc(256 * 1024);
  socket.write(`SINK ${size} ${pauseMs}\n`);
  if (pauseMs) setTimeout(() => console.log(JSON.stringify({ type: 'paused' })), 200);
  for (let left = size; left > 0; ) {
    const n = Math.min(left, zeros.length);
    const chunk = cipher.update(zeros.subarray(0, n));
    hash.update(chunk);
    left -= n;
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  const got = await answer;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { ok: got === hash.digest('hex'), bytes: size, seconds, mbps: (size * 8) / seconds / 1e6 };
}

async function download() {
  const size = Number(args.size);
  const { socket, reply } = await socksConnect(args.socks, args.target);
  if (reply !== 0) return { ok: false, reply };
  const started = process.hrtime.bigint();
  const result = collect(socket);
  socket.end(`SOURCE ${size} download\n`);
  const { sha, bytes } = await result;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const expected = crypto.createHash('sha256');
  const cipher = keystream('download');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= Math.min(left, zeros.length))
    expected.update(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
  return { ok: bytes === size && sha === expected.digest('hex'), bytes, seconds, mbps: (bytes * 8) / seconds / 1e6 };
}

async function stall() {
  const pauseMs = Number(args['pause-ms']);
  if (args.direction === 'up') return upload(pauseMs);
  const size = Number(args.size);
  const { socket, reply } = await socksConnect(args.socks, args.target);
  if (reply !== 0) return { ok: false, reply };
  socket.end(`SOURCE ${size} download\n`);
  await new Promise((r) => setTimeout(r, 200));
  console.log(JSON.stringify({ type: 'paused' }));
  await new Promise((r) => setTimeout(r, pauseMs));
  const { sha, bytes } = await collect(socket);
  const expected = crypto.createHash('sha256');
  const cipher = keystream('download');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= Math.min(left, zeros.length))
    expected.update(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
  return { ok: bytes === size && sha === expected.digest('hex'), bytes };
}

async function connectOnly() {
  try {
    const { socket, reply } = await socksConnect(args.socks, args.target);
    socket.destroy();
    return { reply };
  } catch (e) {
    return { reply: null, error: e.message };
  }
}

async function raw() {
  const { host, port } = hostPort(args.socks);
  const socket = net.connect({ host, port });
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  let response = Buffer.alloc(0);
  let closed = false;
  let error = null;
  socket.on('data', (c) => (response = Buffer.concat([response, c])));
  const ended = new Promise((resolve) => {
    socket.on('close', () => { closed = true; resolve(); });
    socket.on('error', (e) => { error = e.code || e.message; });
  });
  socket.write(Buffer.from(String(args.hex), 'hex'));
  await Promise.race([ended, new Promise((r) => setTimeout(r, Number(args['wait-ms'] || 1000)))]);
  socket.destroy();
  return { response: response.toString('hex'), closed, error };
}

async function hold() {
  const count = Number(args.count);
  const opened = await Promise.all(
    Array.from({ length: count }, async () => {
      const { socket, reply } = await socksConnect(args.socks, args.target);
      if (reply !== 0) throw new Error(`SOCKS reply ${reply}`);
      socket.write('ECHO\n');
      return socket;
    }),
  );
  const ends = opened.map(
    (socket) =>
      new Promise((resolve) => {
        socket.on('data', () => {});
        socket.on('error', (e) => resolve(e.code || e.message));
        socket.on('end', () => resolve('end'));
        socket.on('close', () => resolve('close'));
        socket.resume();
      }),
  );
  const pings = setInterval(() => opened.forEach((s) => s.writable && s.write('ping')), 100);
  console.log(JSON.stringify({ type: 'open', count }));
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), Number(args['timeout-ms'] || 30000)));
  const ways = await Promise.all(ends.map((e) => Promise.race([e, timeout])));
  clearInterval(pings);
  opened.forEach((s) => s.destroy());
  return { type: 'done', ways };
}

async function latency() {
  const count = Number(args.count || 200);
  const times = [];
  const message = Buffer.alloc(64, 7);
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const { socket, reply } = args.direct ? await directConnect(args.direct) : await socksConnect(args.socks, args.target);
    if (reply !== 0) throw new Error(`SOCKS reply ${reply}`);
    socket.write(Buffer.concat([Buffer.from(`SPLIT ${message.length}\n`), message]));
    await readExactly(socket, 'HTTP/1.1 200 OK\r\n'.length + message.length);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    socket.destroy();
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: times[times.length - 1], over40ms: times.filter((t) => t >= 40).length };
}

const commands = { streams, upload: () => upload(), download, connect: connectOnly, raw, hold, stall, latency };
const command = commands[process.argv[2]];
if (!command) {
  console.error('usage: socks-client.mjs streams|upload|download|connect|raw|hold|latency ...');
  process.exit(2);
}
command()
  .then((result) => { console.log(JSON.stringify(result)); process.exit(0); })
  .catch((e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
