// tether dev's esbuild build server (docs/dev.md "TypeScript and builds").
//
// One long-lived process per `tether dev`, started by src/dev/build.c. It
// speaks line-delimited JSON: requests on stdin, one answer object per line
// on stdout (stderr is for esbuild's own complaints, shown as they are).
//
//   {"op":"add","function":ID,"root":DIR,"entry":FILE,"outbase":FILE,
//    "runtime":"nodejs20.x"}                      registers one function: its
//                                                  bundle is OUTBASE.mjs (ESM) or
//                                                  OUTBASE.cjs (CommonJS)
//   {"op":"build","function":ID}                  builds it (now)
//   {"op":"changed","paths":[REL,...],"all":BOOL} rebuilds the functions
//                                                  whose inputs changed (all:
//                                                  every one, the watcher's
//                                                  batch was full)
//
//   {"type":"ready","esbuild":VERSION,"from":PATH} at the first build
//   {"type":"built","function":ID,"ok":true,"ms":N,"path":REL,"rebuilds":N,"rss":BYTES}
//                                                  (path: the changed input, if any)
//   {"type":"built","function":ID,"ok":false,"error":TEXT,...}
//   {"type":"fatal","error":TEXT}                 a "changed" that failed
//
// Each function has its own esbuild context (incremental), whose metafile
// says which files it was built from; a change to any other file rebuilds
// nothing. After a failed build every change rebuilds the function, since
// the file that fixes it (a new module, say) is not yet one of its inputs.
//
// A failed build writes an output module that throws, when loaded, the error
// a broken deployment gives: a SyntaxError with Node's location lines (the
// runtime shim reports it as Runtime.UserCodeSyntaxError) or, for an import
// that cannot be resolved, a module-not-found error
// (Runtime.ImportModuleError), as it does when no esbuild can be found. So
// an invocation fails the way it would in AWS until the next save fixes the
// code.
//
// Memory: contexts are disposed and made anew every RECYCLE_EVERY rebuilds
// of a function (bench/esbuild-memory measures why), and all are disposed
// when stdin closes.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const RECYCLE_EVERY = Number(process.env.TETHER_BUILD_RECYCLE || 100);
const MAX_LINE = 8 << 20; // a request longer than this is refused
const toolsDir = process.argv[2] || ''; // tether's own tools/ (esbuild installed by setup)

const functions = new Map(); // id -> { spec, ctx, inputs: Set(abs), failed, rebuilds }
let esbuild = null;

function send(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// The project's esbuild first (its version is the one the project tested
// with), else the one tether's setup installed in its tools/ directory.
function loadEsbuild(root) {
  const places = [path.join(root, 'noop.js'), path.join(toolsDir, 'noop.js')];
  const tried = [];
  for (const from of places) {
    try {
      const req = createRequire(from);
      const resolved = req.resolve('esbuild');
      return { mod: req('esbuild'), resolved };
    } catch (err) {
      tried.push(`${path.dirname(from)} (${err.code || err.message})`);
    }
  }
  const err = new Error(`Cannot find package 'esbuild' to build TypeScript (looked in ${tried.join(' and ')}): run tether's scripts/install-deps, or npm install --save-dev esbuild in the project`);
  err.missingEsbuild = true;
  throw err;
}

// The handler's module format, as Node decides it for the source: .mts is
// ESM, .cts CommonJS, .ts follows the nearest package.json's "type".
function formatOf(entry) {
  if (entry.endsWith('.mts')) return 'esm';
  if (entry.endsWith('.cts')) return 'cjs';
  for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).type === 'module' ? 'esm' : 'cjs';
    } catch (err) {
      if (err.code !== 'ENOENT' || path.dirname(dir) === dir) return 'cjs';
    }
  }
}

// The declared runtime's Node version ("nodejs20.x": node20), else ours.
function targetOf(runtime) {
  const m = /^nodejs(\d+)/.exec(runtime || '');
  return `node${m ? m[1] : process.versions.node.split('.')[0]}`;
}

function describe(req) {
  const format = formatOf(req.entry);
  const ext = format === 'esm' ? '.mjs' : '.cjs';
  return { ...req, format, target: targetOf(req.runtime), outfile: req.outbase + ext, other: req.outbase + (ext === '.mjs' ? '.cjs' : '.mjs') };
}

function options(spec) {
  return {
    absWorkingDir: spec.root,
    entryPoints: [spec.entry],
    outfile: spec.outfile,
    bundle: true,
    // Packages stay in node_modules: they are resolved from the project at
    // run time, as tether's shim does for plain JavaScript, and a rebuild
    // touches only the project's own code.
    packages: 'external',
    platform: 'node',
    format: spec.format,
    target: spec.target,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    write: true,
  };
}

function quote(text) {
  return JSON.stringify(String(text));
}

// The module written in place of a failed build (see the top of the file).
function failureModule(spec, error) {
  const loc = error.location;
  const text = error.text || String(error);
  const unresolved = /^Could not resolve "([^"]+)"/.exec(text);
  let body;
  if (unresolved || error.missingEsbuild) {
    const from = loc ? loc.file : path.relative(spec.root, spec.entry);
    const message = unresolved ? `Cannot find module '${unresolved[1]}' imported from ${from}` : text;
    body = `const e = new Error(${quote(message)});\ne.code = 'ERR_MODULE_NOT_FOUND';\nthrow e;\n`;
  } else {
    const file = loc ? path.resolve(spec.root, loc.file) : spec.entry;
    const line = loc ? loc.line : 1;
    const caret = loc ? `${' '.repeat(loc.column)}^` : '^';
    // Node's own stack for a syntax error: file:line, the line, a caret.
    const stack = `${file}:${line}\n${loc ? loc.lineText : ''}\n${caret}\n\nSyntaxError: ${text}`;
    body = `const e = new SyntaxError(${quote(text)});\ne.stack = ${quote(stack)};\nthrow e;\n`;
  }
  return `// tether: the last build of this function failed.\n${body}`;
}

function describeError(spec, error) {
  const loc = error.location;
  return loc ? `${loc.file}:${loc.line}:${loc.column}: ${error.text}` : String(error.text || error);
}

async function build(id, changed) {
  const f = functions.get(id);
  // The shim tries .mjs before .cjs: a bundle of the other format (the
  // package's "type" changed) must not be found first. And every output is
  // removed before it is written, so a link planted in its place (a project
  // may come with one) is replaced, never written through.
  for (const file of [f.spec.other, f.spec.outfile, `${f.spec.outfile}.map`]) fs.rmSync(file, { force: true });
  const started = performance.now();
  if (f.ctx && f.rebuilds > 0 && f.rebuilds % RECYCLE_EVERY === 0) {
    await f.ctx.dispose();
    f.ctx = null;
  }
  let result;
  try {
    if (!esbuild) {
      const found = loadEsbuild(f.spec.root);
      esbuild = found.mod;
      send({ type: 'ready', esbuild: esbuild.version, from: found.resolved });
    }
    if (!f.ctx) f.ctx = await esbuild.context(options(f.spec));
    result = await f.ctx.rebuild();
  } catch (err) {
    const errors = err.errors && err.errors.length ? err.errors : [{ text: err.message, missingEsbuild: err.missingEsbuild }];
    f.failed = true;
    f.rebuilds++;
    fs.rmSync(f.spec.outfile, { force: true });
    fs.writeFileSync(f.spec.outfile, failureModule(f.spec, errors[0]), { flag: 'wx' });
    send({ type: 'built', function: id, ok: false, error: describeError(f.spec, errors[0]), path: changed, ms: performance.now() - started, rebuilds: f.rebuilds, rss: process.memoryUsage().rss });
    return;
  }
  f.failed = false;
  f.rebuilds++;
  f.inputs = new Set(Object.keys(result.metafile.inputs).map((p) => path.resolve(f.spec.root, p)));
  send({ type: 'built', function: id, ok: true, path: changed, ms: performance.now() - started, rebuilds: f.rebuilds, rss: process.memoryUsage().rss });
}

async function handle(req) {
  if (req.op === 'add') {
    functions.set(req.function, { spec: describe(req), ctx: null, inputs: new Set(), failed: true, rebuilds: 0 });
  } else if (req.op === 'build') {
    if (functions.has(req.function)) await build(req.function);
  } else if (req.op === 'changed') {
    for (const [id, f] of functions) {
      const hit = req.paths.find((p) => f.inputs.has(path.resolve(f.spec.root, p)));
      if (hit || f.failed || req.all) await build(id, hit || req.paths[0]);
    }
  }
}

async function shutdown() {
  for (const f of functions.values()) if (f.ctx) await f.ctx.dispose();
  process.exit(0);
}

// Requests are handled one at a time, in order: a rebuild never races the
// next change of the same function.
let chain = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.length > MAX_LINE) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  // A request for one function that cannot be served (esbuild missing, an
  // output that cannot be written) fails that function's build.
  chain = chain.then(() => handle(req)).catch((err) => {
    send(typeof req.function === 'string'
      ? { type: 'built', function: req.function, ok: false, error: err.message }
      : { type: 'fatal', error: err.message });
  });
});
lines.on('close', () => {
  chain = chain.then(shutdown, shutdown);
});
