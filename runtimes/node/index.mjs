// tether's local Node.js runtime: runs a developer's Lambda handler against a
// Lambda Runtime API (AWS_LAMBDA_RUNTIME_API), the way the managed nodejs
// runtimes do. No npm dependencies; Node.js 20 or later.
//
//   node [--inspect=PORT] runtimes/node/index.mjs
//
// Environment: AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER (dir/module.fn),
// LAMBDA_TASK_ROOT (where the handler is resolved), AWS_LAMBDA_FUNCTION_* and
// AWS_LAMBDA_LOG_* as Lambda sets them. See runtimes/README.md.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import util from 'node:util';

const API_PATH = '/2018-06-01/runtime';
const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';
const HTTP_INTEGRATION_TYPE = 'application/vnd.awslambda.http-integration-response';
const STREAMING = Symbol('tether.streaming-handler');
const EXTENSIONS = ['', '.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);
// Exit statuses after a process-level failure ("Runtime exited with error:
// exit status 129" is what Lambda shows for a Node runtime killed by an
// uncaught error; 128 for unhandled rejections is this shim's choice).
const EXIT_UNCAUGHT = 129;
const EXIT_REJECTION = 128;

const env = process.env;
const nodeVersion = process.versions.node.split('.').map(Number);

// ---------------------------------------------------------------- logging

const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const jsonLogs = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const minLevel = LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
let currentRequestId; // the request id log lines carry ("undefined" outside an invocation, as on AWS)

function writeLine(level, text) {
  const stream = LEVELS[level] >= LEVELS.WARN ? process.stderr : process.stdout;
  stream.write(text.endsWith('\n') ? text : text + '\n');
}

function logJson(level, args) {
  const record = { timestamp: new Date().toISOString(), level };
  if (currentRequestId) record.requestId = currentRequestId;
  if (args.length === 1 && args[0] instanceof Error) {
    const e = args[0];
    record.message = util.format(e);
    record.errorType = e.name;
    record.errorMessage = e.message;
    record.stackTrace = String(e.stack || '').split('\n');
  } else if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') {
    record.message = args[0];
  } else {
    record.message = util.format(...args);
  }
  let line;
  try {
    line = JSON.stringify(record);
  } catch {
    record.message = util.format(...args); // circular objects: fall back to text
    line = JSON.stringify(record);
  }
  writeLine(level, line);
}

function log(level, ...args) {
  if (jsonLogs) {
    if (LEVELS[level] >= minLevel) logJson(level, args);
    return;
  }
  writeLine(level, `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`);
}

function installConsole() {
  console.log = (...a) => log('INFO', ...a);
  console.info = (...a) => log('INFO', ...a);
  console.warn = (...a) => log('WARN', ...a);
  console.error = (...a) => log('ERROR', ...a);
  console.debug = (...a) => log('DEBUG', ...a);
  console.trace = (...a) => log('TRACE', ...a);
  console.fatal = (...a) => log('FATAL', ...a);
}

// ---------------------------------------------------------------- Runtime API client

function parseApiAddress(value) {
  if (!value) throw new Error('AWS_LAMBDA_RUNTIME_API is not set');
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) || /^([^:]+):(\d+)$/.exec(value);
  if (!m) throw new Error(`AWS_LAMBDA_RUNTIME_API is not host:port: ${value}`);
  return { host: m[1], port: Number(m[2]) };
}

let api; // {host, port}
const agent = new http.Agent({ keepAlive: true });

function request(method, urlPath, headers = {}, body, retried = false) {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...api, agent, method, path: API_PATH + urlPath, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', (e) => {
      // A kept-alive connection the server had closed meanwhile: once more on a new one.
      if (!retried && req.reusedSocket && e.code === 'ECONNRESET') {
        resolve(request(method, urlPath, headers, body, true));
      } else {
        reject(e);
      }
    });
    req.end(body);
  });
}

// What a non-2xx answer from the Runtime API means for us.
function checkAnswer(what, res) {
  if (res.status >= 200 && res.status < 300) return;
  const detail = res.body.toString('utf8').slice(0, 500);
  log('ERROR', `Runtime API answered ${res.status} to ${what}: ${detail}`);
  if (res.status >= 500) exitNow(1, 'the Runtime API reported a non-recoverable error');
}

async function nextInvocation() {
  let res;
  try {
    res = await request('GET', '/invocation/next');
  } catch (e) {
    exitNow(1, `cannot reach the Runtime API at ${env.AWS_LAMBDA_RUNTIME_API}: ${e.message}`);
  }
  if (res.status !== 200) {
    checkAnswer('GET /invocation/next', res);
    exitNow(1, `GET /invocation/next answered ${res.status}`);
  }
  return res;
}

async function postResponse(id, payload) {
  const body = Buffer.from(payload, 'utf8');
  const res = await request('POST', `/invocation/${encodeURIComponent(id)}/response`, {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
  }, body);
  checkAnswer(`the response of ${id}`, res);
}

// The Node runtime sends no error-type header on invocation errors, only the body.
async function postError(id, errorBody) {
  const body = Buffer.from(JSON.stringify(errorBody), 'utf8');
  const res = await request('POST', `/invocation/${encodeURIComponent(id)}/error`, {
    'Content-Type': ERROR_CONTENT_TYPE,
    'Content-Length': body.length,
  }, body);
  checkAnswer(`the error of ${id}`, res);
}

async function postInitError(errorType, errorBody) {
  const body = Buffer.from(JSON.stringify(errorBody), 'utf8');
  const res = await request('POST', '/init/error', {
    'Content-Type': ERROR_CONTENT_TYPE,
    'Content-Length': body.length,
    [ERROR_TYPE_HEADER]: errorType,
  }, body);
  checkAnswer('the init error', res);
}

let exiting = false;
function exitNow(code, why) {
  if (why) process.stderr.write(`tether node runtime: ${why}\n`);
  exiting = true;
  process.exit(code);
}

// ---------------------------------------------------------------- errors

function stackLines(stack) {
  return String(stack || '').split('\n').filter((l) => l !== '');
}

// The body the Node runtime posts for an invocation error.
function invokeErrorBody(err) {
  if (err instanceof Error || (err && typeof err === 'object' && typeof err.message === 'string')) {
    const name = typeof err.name === 'string' && err.name ? err.name : err.constructor?.name || 'Error';
    return { errorType: name, errorMessage: err.message, trace: stackLines(err.stack) };
  }
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { errorType: typeof err, errorMessage: message, trace: [] };
}

class InitError extends Error {
  constructor(errorType, message, trace) {
    super(message);
    this.name = errorType;
    this.errorType = errorType;
    this.trace = trace;
  }
}

// ---------------------------------------------------------------- handler loading

function parseHandlerName(spec) {
  const slash = spec.lastIndexOf('/');
  const dir = spec.slice(0, slash + 1);
  const rest = spec.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (!spec || dot <= 0 || dot === rest.length - 1) {
    throw new InitError('Runtime.MalformedHandlerName',
      `Bad handler ${JSON.stringify(spec)}: expected [dir/]module.function, e.g. index.handler or src/api.handler`);
  }
  return { dir, moduleName: rest.slice(0, dot), handlerPath: rest.slice(dot + 1) };
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

// The "type" of the nearest package.json above a file, as Node decides .js.
function packageType(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (isFile(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return 'commonjs';
    dir = up;
  }
}

function isEsm(file) {
  const ext = path.extname(file);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  if (ext === '.js' || ext === '.ts') return packageType(file) === 'module';
  return false; // extensionless: CommonJS
}

function relativeToRoot(taskRoot, file) {
  const rel = path.relative(taskRoot, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

// TypeScript: Node's own type stripping when this process has it, else
// esbuild from the project's node_modules, else a clear init error.
function nativeTypeScript() {
  if (process.features && 'typescript' in process.features) return Boolean(process.features.typescript);
  const flags = [...process.execArgv, ...(env.NODE_OPTIONS || '').split(/\s+/)];
  const [major, minor] = nodeVersion;
  if (flags.includes('--no-experimental-strip-types')) return false;
  if (major > 23 || (major === 23 && minor >= 6)) return true;
  if ((major === 22 && minor >= 6) || major === 23) {
    return flags.includes('--experimental-strip-types') || flags.includes('--experimental-transform-types');
  }
  return false;
}

function findEsbuild(file) {
  try {
    const req = createRequire(file);
    const resolved = req.resolve('esbuild');
    return { esbuild: req('esbuild'), resolved };
  } catch {
    return null;
  }
}

// Where transpiled handlers go: in the node_modules the project's esbuild
// was found in (node_modules/.cache/tether/), so that the transpiled file's
// bare imports still resolve through the project's packages.
function cacheDirFor(file) {
  let dir = path.dirname(file);
  let nodeModules = path.join(path.dirname(file), 'node_modules');
  for (;;) {
    if (fs.existsSync(path.join(dir, 'node_modules', 'esbuild'))) {
      nodeModules = path.join(dir, 'node_modules');
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const hash = crypto.createHash('sha256').update(file).digest('hex').slice(0, 16);
  return path.join(nodeModules, '.cache', 'tether', hash);
}

function transpileWithEsbuild(found, file, taskRoot) {
  const esm = isEsm(file);
  const outfile = path.join(cacheDirFor(file), path.basename(file).replace(/\.[cm]?ts$/, esm ? '.mjs' : '.cjs'));
  const options = {
    entryPoints: [file],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: esm ? 'esm' : 'cjs',
    target: `node${nodeVersion[0]}`,
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'silent',
    absWorkingDir: taskRoot,
  };
  try {
    found.esbuild.buildSync(options);
  } catch (e) {
    const first = Array.isArray(e.errors) && e.errors[0];
    if (!first) throw e;
    const loc = first.location;
    const where = loc ? `${loc.file}:${loc.line}:${loc.column + 1}` : relativeToRoot(taskRoot, file);
    const trace = (e.errors || []).map((x) => (x.location
      ? `${x.location.file}:${x.location.line}:${x.location.column + 1}: ${x.text}\n    ${x.location.lineText}`
      : x.text));
    const type = /^Could not resolve/.test(first.text) ? 'Runtime.ImportModuleError' : 'Runtime.UserCodeSyntaxError';
    throw new InitError(type, `${where}: ${first.text} (esbuild)`, trace);
  }
  process.setSourceMapsEnabled?.(true);
  return outfile;
}

async function loadTypeScript(file, taskRoot) {
  const mode = (env.TETHER_NODE_TYPESCRIPT || '').toLowerCase(); // "", "native" or "esbuild"
  if (mode !== 'esbuild' && nativeTypeScript()) {
    const ns = await import(pathToFileURL(file).href);
    return ns;
  }
  const found = mode === 'native' ? null : findEsbuild(file);
  if (found) {
    const out = transpileWithEsbuild(found, file, taskRoot);
    return isEsm(file) ? import(pathToFileURL(out).href) : createRequire(out)(out);
  }
  const rel = relativeToRoot(taskRoot, file);
  const [major, minor] = nodeVersion;
  const hint = (major === 22 && minor >= 6) || (major === 23 && minor < 6)
    ? `Node.js v${process.versions.node} strips TypeScript types only when started with --experimental-strip-types`
    : `Node.js v${process.versions.node} cannot run TypeScript (Node.js >= 22.6 can, with --experimental-strip-types; >= 23.6 by default)`;
  throw new InitError('Runtime.ImportModuleError',
    `Cannot load TypeScript handler ${rel}: ${hint}. Use a newer Node.js, ` +
    'install esbuild in the project (npm install --save-dev esbuild) so the handler is transpiled, ' +
    'or point the handler at compiled JavaScript.');
}

// A file:line for a SyntaxError, from its stack or, for ES modules (whose
// errors carry no location), from `node --check` on the handler and the
// files it imports statically. Never runs the developer's code.
function syntaxLocation(err, file) {
  const fromStack = /^((?:file:\/\/)?\/[^\n]*?):(\d+)\n([^\n]*)\n([^\n]*)\n/.exec(String(err.stack || ''));
  if (fromStack) {
    const f = fromStack[1].startsWith('file://') ? fileURLToPath(fromStack[1]) : fromStack[1];
    return { file: f, line: Number(fromStack[2]), excerpt: [fromStack[3], fromStack[4]] };
  }
  if (!isEsm(file)) return null;
  const seen = new Set();
  const queue = [file];
  while (queue.length && seen.size < 40) {
    const f = queue.shift();
    if (seen.has(f) || !isFile(f)) continue;
    seen.add(f);
    const loc = checkSyntax(f);
    if (loc) return loc;
    let source = '';
    try {
      source = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const re = /(?:\bimport|\bexport)\s*(?:[\w*${}\s,]*?\bfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;
    for (let m; (m = re.exec(source));) {
      const dep = path.resolve(path.dirname(f), m[1]);
      if (!dep.includes(`${path.sep}node_modules${path.sep}`)) queue.push(dep);
    }
  }
  return null;
}

function checkSyntax(file) {
  const flags = process.execArgv.filter((a) => /^--(experimental-(strip|transform)-types|no-experimental-strip-types)$/.test(a));
  const childEnv = { ...env };
  delete childEnv.NODE_OPTIONS; // no --inspect or --require in the checker
  const r = spawnSync(process.execPath, [...flags, '--check', file], { encoding: 'utf8', timeout: 10000, env: childEnv });
  if (r.status === 0 || !r.stderr) return null;
  const m = /^((?:file:\/\/)?\/[^\n]*?):(\d+)\n([^\n]*)\n([^\n]*)\n/m.exec(r.stderr);
  if (!m) return null;
  const f = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
  return { file: f, line: Number(m[2]), excerpt: [m[3], m[4]] };
}

function classifyLoadError(err, file, taskRoot) {
  if (err instanceof InitError) return err;
  const code = err && err.code;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    return new InitError('Runtime.ImportModuleError', `${err.name}: ${err.message}`, stackLines(err.stack));
  }
  if (err && (err.name === 'SyntaxError' || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX' || code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX')) {
    const loc = syntaxLocation(err, file);
    const where = loc ? `${relativeToRoot(taskRoot, loc.file)}:${loc.line}` : relativeToRoot(taskRoot, file);
    const frames = stackLines(err.stack).filter((l) => /^\s+at /.test(l) && !/\(node:internal\//.test(l));
    const trace = [`${where}`, ...(loc ? loc.excerpt : []), ...frames];
    return new InitError('Runtime.UserCodeSyntaxError', `${where}: ${err.name}: ${err.message}`, trace);
  }
  if (err instanceof Error) {
    return new InitError(err.name || 'Error', err.message, stackLines(err.stack));
  }
  const body = invokeErrorBody(err);
  return new InitError(body.errorType, body.errorMessage, []);
}

function resolveModuleFile(taskRoot, dir, moduleName) {
  const base = path.resolve(taskRoot, dir, moduleName);
  for (const ext of EXTENSIONS) {
    if (isFile(base + ext)) return base + ext;
  }
  // Last, Node's own resolution from the task root: a directory with an
  // index file or a package.json "main", then a package in node_modules.
  const req = createRequire(path.join(taskRoot, 'noop.js'));
  for (const request of [`./${dir}${moduleName}`, `${dir}${moduleName}`]) {
    try {
      return req.resolve(request);
    } catch {
      // next
    }
  }
  return null;
}

async function loadModule(file, taskRoot) {
  const ext = path.extname(file);
  if (TS_EXTENSIONS.has(ext)) return loadTypeScript(file, taskRoot);
  if (isEsm(file)) return import(pathToFileURL(file).href);
  return createRequire(file)(file);
}

async function loadHandler() {
  const spec = env._HANDLER || '';
  const taskRoot = path.resolve(env.LAMBDA_TASK_ROOT || process.cwd());
  const { dir, moduleName, handlerPath } = parseHandlerName(spec);
  const file = resolveModuleFile(taskRoot, dir, moduleName);
  if (!file) {
    const tried = EXTENSIONS.map((e) => `${dir}${moduleName}${e}`).join(', ');
    throw new InitError('Runtime.ImportModuleError',
      `Error: Cannot find module '${dir}${moduleName}' (tried ${tried} in ${taskRoot})`, []);
  }
  let mod;
  try {
    mod = await loadModule(file, taskRoot);
  } catch (e) {
    throw classifyLoadError(e, file, taskRoot);
  }
  let fn = mod;
  for (const key of handlerPath.split('.')) fn = fn == null ? undefined : fn[key];
  // A CommonJS module reached through import(): its exports are the default.
  if (fn === undefined && mod && mod.default && typeof mod.default === 'object' && mod[Symbol.toStringTag] === 'Module') {
    fn = mod.default;
    for (const key of handlerPath.split('.')) fn = fn == null ? undefined : fn[key];
  }
  const name = `${dir}${moduleName}.${handlerPath}`;
  if (fn === undefined) throw new InitError('Runtime.HandlerNotFound', `${name} is undefined or not exported`, []);
  if (typeof fn !== 'function') throw new InitError('Runtime.HandlerNotFound', `${name} is not a function`, []);
  return fn;
}

// ---------------------------------------------------------------- awslambda global (streaming)

class HttpResponseStream {
  // Makes `stream` an HTTP-integration response: the JSON prelude
  // {statusCode, headers, cookies}, 8 NUL bytes, then the body.
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    stream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude ?? {}), 'utf8'), Buffer.alloc(8)]));
    return stream;
  }
}

function streamifyResponse(handler, options) {
  if (typeof handler !== 'function') throw new TypeError('awslambda.streamifyResponse expects a function');
  handler[STREAMING] = { ...(options || {}) };
  return handler;
}

function installGlobals() {
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}

// The stream a streaming handler writes to: a chunked POST to /response,
// opened at the first write (so the content type can still be chosen).
// Its fields are private: Node's stream.pipeline aborts a destination's
// public `req`.
class ResponseStream extends Writable {
  #id;
  #request = null;
  #contentType = 'application/octet-stream';
  #failed = false;

  constructor(requestId, options) {
    super({ highWaterMark: options.highWaterMark });
    this.#id = requestId;
    this.answered = null; // a promise of the Runtime API's answer, once opened
  }

  get started() {
    return this.#request !== null;
  }

  setContentType(type) {
    if (this.#request) throw new Error('setContentType must be called before the first write');
    this.#contentType = String(type);
  }

  #open() {
    if (this.#request) return;
    const req = http.request({
      ...api,
      agent,
      method: 'POST',
      path: `${API_PATH}/invocation/${encodeURIComponent(this.#id)}/response`,
      headers: {
        'Content-Type': this.#contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
      },
    });
    this.#request = req;
    // While the handler may still write, this connection must not keep the
    // event loop alive: an empty loop is how an unfinished stream is noticed.
    req.on('socket', (socket) => {
      if (!req.writableEnded) socket.unref();
    });
    this.answered = new Promise((resolve) => {
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', (e) => resolve({ status: 0, body: Buffer.from(e.message) }));
    });
  }

  #end() {
    const req = this.#request;
    req.end();
    // Waiting for the answer keeps the process alive again.
    if (req.socket) req.socket.ref();
    else req.once('socket', (socket) => socket.ref());
  }

  _write(chunk, encoding, callback) {
    this.#open();
    if (this.#request.write(chunk)) callback();
    else this.#request.once('drain', () => callback());
  }

  _final(callback) {
    this.#open();
    this.#end();
    callback();
  }

  _destroy(err, callback) {
    if (err && this.#request) this.fail(invokeErrorBody(err));
    else if (this.#request && !this.#request.writableEnded) this.#end();
    callback(err);
  }

  // A failure after the response began: the error travels in the trailers.
  fail(errorBody) {
    if (this.#failed) return;
    this.#failed = true;
    this.#open();
    if (this.#request.writableEnded) return;
    this.#request.addTrailers({
      [ERROR_TYPE_HEADER]: errorBody.errorType,
      [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(errorBody), 'utf8').toString('base64'),
    });
    this.#end();
  }
}

// ---------------------------------------------------------------- invocations

let current = null; // the invocation in progress

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    try {
      return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
    } catch {
      return undefined;
    }
  }
}

function makeContext(inv, headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: inv.id,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis() {
      return Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) : 0;
    },
    // Legacy completion: answer at once, without waiting for the event loop.
    done(err, result) {
      inv.complete(err, result);
    },
    succeed(result) {
      inv.complete(null, result);
    },
    fail(err) {
      inv.complete(err ?? 'handled', undefined);
    },
  };
  return context;
}

class Invocation {
  constructor(res) {
    this.headers = res.headers;
    this.id = String(res.headers['lambda-runtime-aws-request-id'] || '');
    this.rawEvent = res.body;
    this.settled = false;
    this.deferred = null; // a callback answer waiting for the event loop to drain
    this.stream = null;
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  // The answer, once: a result or an error (err != null).
  complete(err, result) {
    if (this.settled) return;
    this.settled = true;
    this.deferred = null;
    this.send(err, result).catch((e) => log('ERROR', `could not send the answer of ${this.id}: ${e.message}`))
      .finally(() => this.resolveFinished());
  }

  async send(err, result) {
    if (err != null) {
      const body = invokeErrorBody(err);
      log('ERROR', `Invoke Error \t${JSON.stringify(body)}`);
      await postError(this.id, body);
      return;
    }
    let payload;
    try {
      payload = JSON.stringify(result);
    } catch (e) {
      const body = { errorType: 'Runtime.SerializationError', errorMessage: `Unable to stringify the response: ${e.message}`, trace: stackLines(e.stack) };
      log('ERROR', `Invoke Error \t${JSON.stringify(body)}`);
      await postError(this.id, body);
      return;
    }
    await postResponse(this.id, payload === undefined ? 'null' : payload);
  }
}

async function runInvocation(handler, res) {
  const inv = new Invocation(res);
  current = inv;
  currentRequestId = inv.id;
  const trace = res.headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else delete env._X_AMZN_TRACE_ID;

  let event;
  try {
    event = JSON.parse(inv.rawEvent.toString('utf8'));
  } catch (e) {
    inv.complete({ name: 'Runtime.UnmarshalError', message: `Unable to parse the event as JSON: ${e.message}`, stack: '' });
    await inv.finished;
    current = null;
    return;
  }
  const context = makeContext(inv, res.headers);
  if (handler[STREAMING]) runStreaming(handler, inv, event, context);
  else runBuffered(handler, inv, event, context);
  await inv.finished;
  current = null;
}

function runBuffered(handler, inv, event, context) {
  const callback = (err, result) => {
    if (inv.settled || inv.deferred) return;
    if (context.callbackWaitsForEmptyEventLoop) inv.deferred = () => inv.complete(err, result);
    else inv.complete(err, result);
  };
  let returned;
  try {
    returned = handler(event, context, callback);
  } catch (e) {
    inv.complete(e);
    return;
  }
  if (returned && typeof returned.then === 'function') {
    returned.then((r) => inv.complete(null, r), (e) => inv.complete(e ?? new Error('the handler rejected with ' + e)));
  } else if (returned !== undefined && !inv.settled && !inv.deferred) {
    log('WARN', 'The handler returned a value without a Promise; Lambda ignores it and waits for the callback ' +
      '(or responds null once the event loop is empty). Make the handler async, or call the callback.');
  }
}

function runStreaming(handler, inv, event, context) {
  const stream = new ResponseStream(inv.id, handler[STREAMING]);
  inv.stream = stream;
  let handlerDone = false;
  // The answer, once: an error (in the trailers if the body had begun, else
  // posted to /error), or success when the handler has settled and the stream
  // has finished.
  const conclude = async (err) => {
    if (inv.settled) return;
    inv.settled = true;
    inv.deferred = null;
    try {
      if (err != null) {
        const body = invokeErrorBody(err);
        log('ERROR', `Invoke Error \t${JSON.stringify(body)}`);
        if (stream.started) {
          stream.fail(body);
          checkAnswer(`the streamed response of ${inv.id}`, await stream.answered);
        } else {
          await postError(inv.id, body);
        }
      } else {
        checkAnswer(`the streamed response of ${inv.id}`, await stream.answered);
      }
    } catch (e) {
      log('ERROR', `could not send the answer of ${inv.id}: ${e.message}`);
    } finally {
      inv.resolveFinished();
    }
  };
  const handlerSettled = () => {
    if (handlerDone) return;
    handlerDone = true;
    if (stream.writableFinished) conclude(null);
    // Not ended yet: a pipeline may still be writing. Whatever is left is
    // ended when the event loop empties.
    else if (!stream.writableEnded) inv.deferred = () => stream.end();
  };
  stream.on('error', (e) => conclude(e));
  stream.on('finish', () => {
    if (handlerDone) conclude(null);
  });
  inv.complete = (err) => (err != null ? conclude(err) : handlerSettled());
  let returned;
  try {
    returned = handler(event, stream, context);
  } catch (e) {
    conclude(e);
    return;
  }
  Promise.resolve(returned).then(handlerSettled, (e) => conclude(e ?? new Error('the handler rejected')));
}

// When the event loop empties during an invocation: a callback answer held for
// callbackWaitsForEmptyEventLoop goes out (or an unfinished response stream
// is ended); a handler that never answered gets null, as on Lambda.
function onBeforeExit() {
  if (exiting) return;
  if (phase === 'init') {
    // The loop emptied while the module was still loading: a top-level
    // await that can never settle. Nothing else would ever end the init.
    const body = {
      errorType: 'Runtime.UnsettledTopLevelAwait',
      errorMessage: `${env._HANDLER}: the handler module never finished loading (a top-level await that never settles)`,
      stackTrace: [],
    };
    log('ERROR', `Init Error \t${body.errorType}: ${body.errorMessage}`);
    postInitError(body.errorType, body).catch(() => {}).finally(() => exitNow(1));
    phase = 'failed';
    return;
  }
  const inv = current;
  if (!inv || inv.settled) return;
  if (!inv.deferred) {
    log('WARN', 'The event loop is empty but the handler has not answered: ending the invocation (a null result), as Lambda does.');
    inv.complete(null, null);
  }
  const deferred = inv.deferred;
  inv.deferred = null;
  if (deferred) deferred();
}

// ---------------------------------------------------------------- process-level failures

let dying = false;
let phase = 'init';

async function die(kind, reason) {
  if (dying) return;
  dying = true;
  setTimeout(() => exitNow(kind === 'rejection' ? EXIT_REJECTION : EXIT_UNCAUGHT), 3000);
  let body;
  if (kind === 'rejection') {
    body = {
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: reason instanceof Error ? `${reason.name}: ${reason.message}` : invokeErrorBody(reason).errorMessage,
      trace: reason instanceof Error ? stackLines(reason.stack) : [],
    };
  } else {
    body = invokeErrorBody(reason);
  }
  log('ERROR', `${kind === 'rejection' ? 'Unhandled Promise Rejection' : 'Uncaught Exception'} \t${JSON.stringify(body)}`);
  try {
    const inv = current;
    if (phase === 'init') {
      await postInitError(body.errorType, { errorType: body.errorType, errorMessage: body.errorMessage, stackTrace: body.trace });
    } else if (inv && !inv.settled) {
      inv.settled = true;
      if (inv.stream && inv.stream.started) {
        inv.stream.fail(body);
        await inv.stream.answered;
      } else {
        await postError(inv.id, body);
      }
    }
  } catch (e) {
    process.stderr.write(`tether node runtime: could not report the failure: ${e.message}\n`);
  }
  exitNow(kind === 'rejection' ? EXIT_REJECTION : EXIT_UNCAUGHT);
}

// ---------------------------------------------------------------- main

// A warm standby (tether dev, TETHER_STANDBY=1): everything up to here is
// loaded, the handler is not; it is loaded when tether writes a byte to our
// standard input (or closes it), after a change has stopped the function's
// other workers, so it loads the new code. Blocking is right: until then
// there is nothing else to do. The variable goes, so the handler never sees
// it. src/lambda/standby.h.
// The first HTTP request of a Node process costs 10-20 ms (the client's
// code paths are set up lazily); a standby pays that ahead, against a
// throwaway server of its own on loopback, so the first /next after the
// wake-up does not. Only an optimisation: a failure changes nothing.
async function warmHttpClient() {
  const server = http.createServer((req, res) => res.end());
  try {
    await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    await new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.address().port, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
    });
  } catch {
    // The handler's first request will pay it instead.
  } finally {
    server.close();
  }
}

async function waitIfStandby() {
  const standby = env.TETHER_STANDBY === '1';
  delete env.TETHER_STANDBY;
  if (!standby) return;
  await warmHttpClient();
  try {
    fs.readSync(0, Buffer.alloc(1), 0, 1, null);
  } catch {
    // No usable standard input: load at once, like a cold start.
  }
}

async function main() {
  installConsole();
  installGlobals();
  try {
    api = parseApiAddress(env.AWS_LAMBDA_RUNTIME_API);
  } catch (e) {
    exitNow(2, e.message);
  }
  process.on('uncaughtException', (e) => die('exception', e));
  process.on('unhandledRejection', (r) => die('rejection', r));
  process.on('beforeExit', onBeforeExit);
  // Before the signal listeners: a standby stopped while it waits must end
  // at SIGTERM, and their callbacks cannot run while it blocks.
  await waitIfStandby();
  for (const sig of ['SIGTERM', 'SIGINT']) {
    // Other listeners get their synchronous turn, then the worker goes.
    process.on(sig, () => setImmediate(() => exitNow(0)));
  }

  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    const err = e instanceof InitError ? e : classifyLoadError(e, '', process.cwd());
    const body = { errorType: err.errorType, errorMessage: err.message, stackTrace: err.trace || [] };
    // Readable in the developer's terminal: the message, then the location.
    log('ERROR', [`Init Error \t${body.errorType}: ${body.errorMessage}`, ...body.stackTrace].join('\n'));
    try {
      await postInitError(err.errorType, body);
    } catch (postErr) {
      process.stderr.write(`tether node runtime: could not post the init error: ${postErr.message}\n`);
    }
    exitNow(1);
  }
  phase = 'invoke';
  for (;;) {
    const res = await nextInvocation();
    await runInvocation(handler, res);
    currentRequestId = undefined;
  }
}

main();
