// The test VPC's data service (runs on the VPC host). A client's first line
// picks the mode:
//   ECHO\n            every byte comes back; the client's EOF ends the reply
//   SINK <n> [<ms>]\n n bytes are read and hashed (after not reading for ms);
//                     the reply is the SHA-256 hex
//   SOURCE <n> <seed>\n  n bytes of the AES-128-CTR keystream of sha256(seed)
//   SPLIT <n>\n       reads n bytes, answers like an HTTP server: a short header
//                     write, then the n bytes 1 ms later (two small segments:
//                     what makes a Nagle-mode sshd stall for a delayed ACK)
// Listens on every address of the host (IPv4 and IPv6).
import crypto from 'node:crypto';
import net from 'node:net';

const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 7000);
const LINE_MAX = 128;

export function keystream(seed) {
  const key = crypto.createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

function source(socket, total, seed) {
  const cipher = keystream(seed);
  const zeros = Buffer.alloc(256 * 1024);
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      left -= n;
      const more = socket.write(cipher.update(zeros.subarray(0, n)));
      if (!more) return socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

function sink(socket, total, rest, pauseMs) {
  if (pauseMs > 0) {
    // A slow reader: the bytes pile up in the tunnel, which must stop taking more.
    socket.pause();
    setTimeout(() => { socket.resume(); sink(socket, total, rest, 0); }, pauseMs);
    return;
  }
  const hash = crypto.createHash('sha256');
  let left = total;
  const take = (chunk) => {
    const part = chunk.subarray(0, Math.min(left, chunk.length));
    hash.update(part);
    left -= part.length;
    if (left === 0) {
      socket.removeListener('data', take);
      socket.end(hash.digest('hex') + '\n');
    }
  };
  socket.on('data', take);
  if (rest.length) take(rest);
  if (total === 0) socket.end(hash.digest('hex') + '\n');
}

function split(socket, size, rest) {
  let got = rest;
  const take = (chunk) => {
    got = Buffer.concat([got, chunk]);
    if (got.length < size) return;
    socket.removeListener('data', take);
    socket.write('HTTP/1.1 200 OK\r\n');
    setTimeout(() => socket.end(got.subarray(0, size)), 1);
  };
  socket.on('data', take);
  take(Buffer.alloc(0));
}

function echo(socket, rest) {
  if (rest.length) socket.write(rest);
  socket.pipe(socket);
}

net
  .createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onHead = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > LINE_MAX) socket.destroy();
        return;
      }
      socket.removeListener('data', onHead);
      const [mode, a, b] = head.subarray(0, nl).toString().trim().split(/\s+/);
      const rest = head.subarray(nl + 1);
      if (mode === 'ECHO') echo(socket, rest);
      else if (mode === 'SINK') sink(socket, Number(a), rest, Number(b || 0));
      else if (mode === 'SOURCE') source(socket, Number(a), b);
      else if (mode === 'SPLIT') split(socket, Number(a), rest);
      else socket.destroy();
    };
    socket.on('data', onHead);
  })
  .listen(port, '::', () => console.log(`echo server on ${port}`));
