// A small but real Lambda Runtime API (2018-06-01), written from
// the Lambda Runtime API (docs/lambda.md), to be the peer of the runtime shims in tests:
//
//   GET  /2018-06-01/runtime/invocation/next           long poll; 200 + event and headers
//   POST /2018-06-01/runtime/invocation/{id}/response  202; 400 bad id / mode; 403 state; 413 size
//   POST /2018-06-01/runtime/invocation/{id}/error     202; 400; 403; 413
//   POST /2018-06-01/runtime/init/error                202 before the first /next, else 403
//
// Buffered responses are limited to 6291556 bytes, streamed ones to 200 MB;
// a streamed response carries a mid-stream error in its trailers.
// Only 127.0.0.1 is used.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';

export const MAX_PAYLOAD = 6291556;
export const MAX_STREAM = 200 * 1024 * 1024;
export const ERROR_TYPE_HEADER = 'lambda-runtime-function-error-type';
export const ERROR_BODY_TRAILER = 'lambda-runtime-function-error-body';
export const DEFAULT_ARN = 'arn:aws:lambda:us-east-1:012345678912:function:test-fn';

const PREFIX = '/2018-06-01/runtime/';

function sendJson(res, status, body, headers = {}) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers });
  res.end(data);
}

function sendError(res, status, errorType, errorMessage) {
  sendJson(res, status, { errorMessage, errorType });
}

const invalidState = (res) => sendError(res, 403, 'InvalidStateTransition',
  'State transition is not allowed in the current state of the invocation');
const tooLarge = (res) => sendError(res, 413, 'RequestEntityTooLarge',
  `Exceeded maximum allowed payload size (${MAX_PAYLOAD} bytes).`);

function parseJson(buf) {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
}

// Reads a request body up to `limit` bytes (the rest is drained and counted).
function readBody(req, limit, onChunk) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (onChunk) onChunk(c);
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), size, tooLarge: size > limit }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/**
 * Starts the server. Returns the API object:
 *   address            "127.0.0.1:PORT" for AWS_LAMBDA_RUNTIME_API
 *   invoke(event, o)   queues an invocation; resolves with its outcome:
 *                        {kind: 'response'|'error'|'timeout', requestId, body (Buffer), text,
 *                         json, errorType, streamed, contentType, trailers, chunks, headers}
 *   initError          a promise of the posted init error {errorType, body, json, headers}
 *   waitForNext()      resolves when the runtime is parked on /next
 *   log                [{method, path, socket, status}] of every request
 *   close()
 */
export async function startRuntimeApi(options = {}) {
  const events = new EventEmitter();
  const queue = [];
  const invocations = new Map(); // id -> invocation
  let current = null; // handed out, not answered
  let parked = null; // {req, res} of a waiting /next
  let nextSeen = false; // a /next was ever received (init is over)
  let resolveInitError;
  const initError = new Promise((resolve) => {
    resolveInitError = resolve;
  });
  const log = [];
  let socketCount = 0;
  const sockets = new Set();

  function finish(inv, outcome) {
    if (inv.done) return;
    inv.done = true;
    clearTimeout(inv.timer);
    if (current === inv) current = null;
    const text = outcome.body ? outcome.body.toString('utf8') : '';
    inv.resolve({ requestId: inv.id, text, json: outcome.body ? parseJson(outcome.body) : undefined, ...outcome });
    dispatch();
  }

  function dispatch() {
    if (!parked || current || queue.length === 0) return;
    const inv = queue.shift();
    const { res } = parked;
    parked = null;
    current = inv;
    inv.state = 'running';
    const headers = {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': inv.id,
      'Lambda-Runtime-Deadline-Ms': String(inv.deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': inv.arn,
      'Lambda-Runtime-Trace-Id': inv.traceId,
      'Lambda-Runtime-Client-Context': inv.clientContext,
      'Lambda-Runtime-Cognito-Identity': inv.cognitoIdentity,
    };
    for (const k of Object.keys(headers)) if (!headers[k]) delete headers[k]; // only non-empty ones
    headers['Content-Length'] = inv.payload.length;
    res.writeHead(200, headers);
    res.end(inv.payload);
    inv.timer = setTimeout(() => {
      const seconds = (inv.timeoutMs / 1000).toFixed(2);
      finish(inv, { kind: 'timeout', errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${seconds} seconds` });
    }, Math.min(2 ** 31 - 1, Math.max(0, inv.deadlineMs - Date.now())));
    events.emit('dispatched', inv.id);
  }

  function invoke(event, o = {}) {
    const id = o.requestId || crypto.randomUUID();
    const payload = Buffer.isBuffer(event) ? event
      : typeof event === 'string' && o.raw ? Buffer.from(event) : Buffer.from(JSON.stringify(event));
    const timeoutMs = o.timeoutMs ?? 30000;
    const inv = {
      id,
      payload,
      timeoutMs,
      deadlineMs: o.deadlineMs ?? Date.now() + timeoutMs,
      arn: o.functionArn || options.functionArn || DEFAULT_ARN,
      traceId: o.traceId ?? `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString('hex')};Parent=${crypto.randomBytes(8).toString('hex')};Sampled=0`,
      clientContext: o.clientContext === undefined ? '' : typeof o.clientContext === 'string' ? o.clientContext : JSON.stringify(o.clientContext),
      cognitoIdentity: o.cognitoIdentity === undefined ? '' : typeof o.cognitoIdentity === 'string' ? o.cognitoIdentity : JSON.stringify(o.cognitoIdentity),
      state: 'queued',
      responding: false,
      done: false,
    };
    const promise = new Promise((resolve) => {
      inv.resolve = resolve;
    });
    invocations.set(id, inv);
    queue.push(inv);
    dispatch();
    return promise;
  }

  // The invocation a /response or /error names, or null after answering why not.
  function invocationFor(res, id) {
    const inv = invocations.get(id);
    if (!inv || inv.state === 'queued') {
      sendError(res, 400, 'InvalidRequestID', 'Invalid request ID');
      return null;
    }
    if (inv.done || inv.responding || inv !== current) {
      invalidState(res);
      return null;
    }
    return inv;
  }

  async function onResponse(req, res, id) {
    const mode = req.headers['lambda-runtime-function-response-mode'];
    if (mode && !['streaming', 'buffered'].includes(mode.toLowerCase())) {
      sendError(res, 400, 'InvalidFunctionResponseMode', 'Invalid function response mode');
      req.resume();
      return;
    }
    const inv = invocationFor(res, id);
    if (!inv) {
      req.resume();
      return;
    }
    inv.responding = true;
    const streamed = mode && mode.toLowerCase() === 'streaming';
    const started = Date.now();
    const chunks = [];
    let read;
    try {
      read = await readBody(req, streamed ? MAX_STREAM : MAX_PAYLOAD, (c) => {
        chunks.push({ at: Date.now() - started, length: c.length });
        events.emit('chunk', id, c);
      });
    } catch (e) {
      inv.responding = false; // cut off: the invocation stays open
      return;
    }
    const common = {
      streamed: Boolean(streamed),
      contentType: req.headers['content-type'],
      headers: req.headers,
      trailers: req.trailers,
      chunks,
      body: read.body,
    };
    if (read.tooLarge) {
      tooLarge(res);
      finish(inv, { ...common, kind: 'error', errorType: 'Function.ResponseSizeTooLarge',
        body: Buffer.from(JSON.stringify({ errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD} bytes).`, errorType: 'Function.ResponseSizeTooLarge' })),
        responseSize: read.size });
      return;
    }
    if (inv.done) { // timed out while the body was coming
      invalidState(res);
      return;
    }
    sendJson(res, 202, { status: 'OK' });
    const trailerType = streamed ? req.trailers[ERROR_TYPE_HEADER] : undefined;
    if (trailerType) {
      const encoded = req.trailers[ERROR_BODY_TRAILER];
      const errorBody = encoded ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
      finish(inv, { ...common, kind: 'error', errorType: trailerType, streamBody: read.body, body: errorBody });
      return;
    }
    finish(inv, { ...common, kind: 'response' });
  }

  async function onError(req, res, id) {
    const inv = invocationFor(res, id);
    if (!inv) {
      req.resume();
      return;
    }
    inv.responding = true;
    let read;
    try {
      read = await readBody(req, MAX_PAYLOAD);
    } catch {
      inv.responding = false;
      return;
    }
    if (read.tooLarge) {
      inv.responding = false;
      tooLarge(res);
      return;
    }
    if (inv.done) {
      invalidState(res);
      return;
    }
    sendJson(res, 202, { status: 'OK' });
    finish(inv, {
      kind: 'error',
      errorType: req.headers[ERROR_TYPE_HEADER],
      contentType: req.headers['content-type'],
      headers: req.headers,
      body: read.body,
      streamed: false,
    });
  }

  async function onInitError(req, res) {
    if (nextSeen) {
      invalidState(res);
      req.resume();
      return;
    }
    let read;
    try {
      read = await readBody(req, MAX_PAYLOAD);
    } catch {
      return;
    }
    if (read.tooLarge) {
      tooLarge(res);
      return;
    }
    sendJson(res, 202, { status: 'OK' });
    resolveInitError({
      errorType: req.headers[ERROR_TYPE_HEADER],
      contentType: req.headers['content-type'],
      headers: req.headers,
      body: read.body,
      text: read.body.toString('utf8'),
      json: parseJson(read.body),
    });
  }

  function onNext(req, res) {
    nextSeen = true;
    if (parked || current) {
      invalidState(res);
      return;
    }
    parked = { req, res };
    res.on('close', () => {
      if (parked && parked.res === res) parked = null; // the runtime gave up its poll
    });
    events.emit('next');
    dispatch();
  }

  const server = http.createServer((req, res) => {
    const entry = { method: req.method, path: req.url, socket: req.socket.tetherId };
    log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    const url = req.url.split('?')[0];
    if (!url.startsWith(PREFIX)) {
      sendError(res, 404, 'NotFound', 'Unknown Runtime API endpoint');
      req.resume();
      return;
    }
    const rest = url.slice(PREFIX.length);
    let m;
    if (rest === 'invocation/next') {
      if (req.method !== 'GET') return sendError(res, 405, 'MethodNotAllowed', 'Method not allowed');
      onNext(req, res);
    } else if (rest === 'init/error') {
      if (req.method !== 'POST') return sendError(res, 405, 'MethodNotAllowed', 'Method not allowed');
      onInitError(req, res);
    } else if ((m = /^invocation\/([^/]+)\/(response|error)$/.exec(rest))) {
      if (req.method !== 'POST') return sendError(res, 405, 'MethodNotAllowed', 'Method not allowed');
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        return sendError(res, 400, 'InvalidRequestID', 'Invalid request ID');
      }
      if (m[2] === 'response') onResponse(req, res, id);
      else onError(req, res, id);
    } else {
      sendError(res, 404, 'NotFound', 'Unknown Runtime API endpoint');
      req.resume();
    }
    return undefined;
  });
  // A runtime holds its connection open across long handlers and long polls.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 60000;
  server.on('connection', (socket) => {
    socket.tetherId = ++socketCount;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  return {
    address: `127.0.0.1:${port}`,
    port,
    invoke,
    initError,
    log,
    events,
    get connections() {
      return socketCount;
    },
    waitForNext() {
      if (parked) return Promise.resolve();
      return new Promise((resolve) => events.once('next', resolve));
    },
    close() {
      for (const inv of invocations.values()) clearTimeout(inv.timer);
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
