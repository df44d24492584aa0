// TypeScript handlers in the Node.js shim: Node's own type stripping where
// this Node has it, esbuild from the project's node_modules otherwise, and a
// clear init error when neither is there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { invoke, makeProject, startShim, within } from './lib/harness.mjs';

const T = { timeout: 30000 };
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ESBUILD = path.join(HERE, 'node_modules', 'esbuild');
const hasEsbuild = fs.existsSync(path.join(ESBUILD, 'package.json'));
const [major, minor] = process.versions.node.split('.').map(Number);
const nativeCapable = major > 22 || (major === 22 && minor >= 6);
// Node 22.6 to 23.5 strip types only when asked to; this is what tether passes.
const nativeArgs = process.features?.typescript || major > 23 || (major === 23 && minor >= 6) ? [] : ['--experimental-strip-types'];

const TS_FILES = {
  'src/api.ts': `import { greet, type Greeting } from './util';
import { version } from 'fake-pkg';
interface Event { name: string }
export const handler = async (event: Event, context: { awsRequestId: string }): Promise<Greeting> => {
  return greet(event.name, version);
};
export const fails = async (): Promise<never> => {
  const detail: string = 'typed failure';
  throw new Error(detail);
};
`,
  'src/util.ts': `export type Greeting = { message: string; via: string; dirnameKind: string };
export function greet(name: string, via: string): Greeting {
  return { message: 'hello ' + name, via, dirnameKind: typeof __dirname };
}
`,
  'node_modules/fake-pkg/package.json': '{"name":"fake-pkg","main":"index.js"}',
  'node_modules/fake-pkg/index.js': 'exports.version = "fake-pkg@1";\n',
};

function linkEsbuild(root) {
  fs.mkdirSync(path.join(root, 'node_modules'), { recursive: true });
  fs.symlinkSync(ESBUILD, path.join(root, 'node_modules', 'esbuild'), 'dir');
}

async function initErrorOf(shim) {
  const e = await within(shim.api.initError, 15000, 'the init error');
  const done = await shim.finished();
  assert.notEqual(done.code, 0);
  return { ...e, ...done };
}

test(`without esbuild, Node ${process.versions.node} answers a .ts handler with a clear init error`, { ...T, skip: nativeCapable && 'this Node strips types itself' }, async (t) => {
  const root = makeProject(t, TS_FILES);
  const shim = await startShim(t, { handler: 'src/api.handler', root });
  const e = await initErrorOf(shim);
  assert.equal(e.errorType, 'Runtime.ImportModuleError');
  const m = e.json.errorMessage;
  assert.match(m, /^Cannot load TypeScript handler src\/api\.ts: /);
  assert.ok(m.includes(`Node.js v${process.versions.node} cannot run TypeScript`), m);
  assert.match(m, /Node\.js >= 22\.6/);
  assert.match(m, /npm install --save-dev esbuild/);
  assert.match(e.stderr, /Cannot load TypeScript handler/, 'the developer sees it too');
});

test('with esbuild in the project, .ts handlers are transpiled (CommonJS project)', { ...T, skip: (!hasEsbuild && 'esbuild is not installed in tests/runtimes (npm install there)') || (nativeCapable && 'this Node strips types itself') }, async (t) => {
  const root = makeProject(t, TS_FILES);
  linkEsbuild(root);
  const shim = await startShim(t, { handler: 'src/api.handler', root });
  const r = await invoke(shim, { name: 'ts' });
  assert.equal(r.kind, 'response');
  assert.deepEqual(r.json, { message: 'hello ts', via: 'fake-pkg@1', dirnameKind: 'string' });
  assert.ok(fs.existsSync(path.join(root, 'node_modules', '.cache', 'tether')), 'the output lives in node_modules/.cache/tether');

  // Stack traces point at the TypeScript source (inline source maps).
  const f = await startShim(t, { handler: 'src/api.fails', root });
  const e = await invoke(f, {});
  assert.equal(e.kind, 'error');
  assert.equal(e.json.errorMessage, 'typed failure');
  assert.ok(e.json.trace.some((l) => /src\/api\.ts:\d+/.test(l)), JSON.stringify(e.json.trace));
});

test('with esbuild: ESM .ts ("type":"module") and .mts handlers', { ...T, skip: (!hasEsbuild && 'esbuild is not installed in tests/runtimes') || (nativeCapable && 'this Node strips types itself') }, async (t) => {
  const root = makeProject(t, {
    'package.json': '{"type":"module"}',
    'index.ts': 'const n: number = 41;\nexport const handler = async () => ({ n: n + 1, esm: import.meta.url.endsWith(".mjs") });\n',
    'other.mts': 'export const handler = async (e: { x: number }) => e.x * 2;\n',
  });
  linkEsbuild(root);
  const shim = await startShim(t, { handler: 'index.handler', root });
  assert.deepEqual((await invoke(shim, {})).json, { n: 42, esm: true });
  const mts = await startShim(t, { handler: 'other.handler', root });
  assert.equal((await invoke(mts, { x: 21 })).json, 42);
});

test('with esbuild: a TypeScript syntax error names file:line:column', { ...T, skip: (!hasEsbuild && 'esbuild is not installed in tests/runtimes') || (nativeCapable && 'this Node strips types itself') }, async (t) => {
  const root = makeProject(t, {
    'handler.ts': 'export const handler = async (event: any) => {\n  const x: number = ;\n  return x;\n};\n',
    'missing.ts': 'import { nothing } from "./not-there";\nexport const handler = async () => nothing;\n',
  });
  linkEsbuild(root);
  const e = await initErrorOf(await startShim(t, { handler: 'handler.handler', root }));
  assert.equal(e.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(e.json.errorMessage, /^handler\.ts:2:21: /);
  const m = await initErrorOf(await startShim(t, { handler: 'missing.handler', root }));
  assert.equal(m.errorType, 'Runtime.ImportModuleError');
  assert.match(m.json.errorMessage, /missing\.ts:1:\d+: Could not resolve "\.\/not-there"/);
});

test('a .js handler wins over a .ts one of the same name', T, async (t) => {
  const root = makeProject(t, {
    'index.js': 'exports.handler = async () => "javascript";\n',
    'index.ts': 'export const handler = async (): Promise<string> => "typescript";\n',
  });
  const shim = await startShim(t, { handler: 'index.handler', root });
  assert.equal((await invoke(shim, {})).json, 'javascript');
});

test('TETHER_NODE_TYPESCRIPT=native refuses esbuild when this Node cannot strip types', { ...T, skip: (!hasEsbuild && 'esbuild is not installed in tests/runtimes') || (nativeCapable && 'this Node strips types itself') }, async (t) => {
  const root = makeProject(t, TS_FILES);
  linkEsbuild(root);
  const shim = await startShim(t, { handler: 'src/api.handler', root, env: { TETHER_NODE_TYPESCRIPT: 'native' } });
  const e = await initErrorOf(shim);
  assert.match(e.json.errorMessage, /cannot run TypeScript/);
});

test('Node >= 22.6 runs .ts handlers with its own type stripping', { ...T, skip: !nativeCapable && `Node ${process.versions.node} has no type stripping` }, async (t) => {
  const root = makeProject(t, {
    'package.json': '{"type":"module"}',
    'src/api.ts': 'import { twice } from "./util.ts";\nexport const handler = async (e: { n: number }): Promise<number> => twice(e.n);\n',
    'src/util.ts': 'export function twice(n: number): number { return n * 2; }\n',
  });
  const shim = await startShim(t, { handler: 'src/api.handler', root, args: nativeArgs });
  assert.equal((await invoke(shim, { n: 21 })).json, 42);
});
