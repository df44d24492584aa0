// tether dev's build step end to end (docs/dev.md "TypeScript and builds"):
// real tether dev, the esbuild build server with the esbuild tether's setup
// installs (tools/), Node 20 workers (no type stripping), `tether invoke` as
// the caller, and Go from Debian for a "build" command.
//
// 1. a .ts handler importing another .ts module answers; an exception in it
//    reports a stack with the .ts file and line (source maps);
// 2. a syntax error saved while dev runs: the build line says so, an
//    invocation fails as a broken deployment does
//    (Runtime.UserCodeSyntaxError), the fix rebuilds and answers again;
//    editing a module that is no input of a function rebuilds nothing;
// 3. without any esbuild, the build line and the invocation's error say
//    what to install;
// 4. a Go function rebuilt by its "build" command on save answers the new
//    value; a failing build keeps the last good one serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REPO_DIR, invokeJson, makeProject, startDev, tempDir } from './lib/dev.mjs';

/** The pid of dev's build server (a child running build-server.mjs), or 0. */
function buildServerPid(devPid) {
  const children = fs.readdirSync(`/proc/${devPid}/task`).flatMap((t) =>
    fs.readFileSync(`/proc/${devPid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  return children.find((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('build-server.mjs');
    } catch {
      return false;
    }
  }) || 0;
}

/** A project from files, with one tether dev for the whole suite. */
function projectWithDev(files, devOptions = () => ({})) {
  const ctx = {};
  before(async () => {
    ctx.dir = makeProject({ files });
    ctx.dev = await startDev(ctx.dir, devOptions(ctx.dir));
  });
  after(async () => {
    await ctx.dev?.stop();
  });
  return ctx;
}

const libTs = (n) => `export interface Answer { version: number; where: string }\nexport const VERSION: number = ${n};\n`;
const apiTs = `import { VERSION, type Answer } from './lib.ts';

type Event = { fail?: boolean };

export const handler = async (event: Event): Promise<Answer> => {
  if (event.fail) {
    throw new Error('failing on purpose');
  }
  return { version: VERSION, where: 'ts' };
};
`;
const FAIL_LINE = 7; // the throw above

describe('TypeScript handlers, bundled by esbuild', () => {
  const ctx = projectWithDev(
    {
      'tether.json': JSON.stringify({
        app: 'tsbuild',
        functions: {
          Ts: { handler: 'src/api.handler', runtime: 'nodejs20.x' },
          Other: { handler: 'src/other.handler', runtime: 'nodejs20.x' },
          // The same module from a function whose root is src/: the bundle
          // in the project's .tether/build/ is reached from there.
          Rooted: { root: 'src', handler: 'api.handler', runtime: 'nodejs20.x' },
        },
      }),
      'src/api.ts': apiTs,
      'src/lib.ts': libTs(1),
      'src/other.mts': 'export const handler = async (): Promise<string> => "other";\n',
      'src/unrelated.ts': 'export const x = 1;\n',
    },
    () => ({ timeoutMs: 60000 }),
  );

  test('a .ts handler with an import answers on Node 20', async () => {
    const { dir, dev } = ctx;
    const built = dev.records.filter((r) => r.type === 'build');
    assert.deepEqual(built.map((r) => [r.function, r.ok]).sort(), [['Other', true], ['Rooted', true], ['Ts', true]]);
    const r = await invokeJson('Ts', { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { version: 1, where: 'ts' });
    const rooted = await invokeJson('Rooted', { cwd: dir });
    assert.equal(rooted.code, 0, rooted.stderr);
    assert.deepEqual(rooted.json, { version: 1, where: 'ts' });
    const o = await invokeJson('Other', { cwd: dir });
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.json, 'other');
  });

  test('an exception reports the .ts file and line (source maps)', async () => {
    const { dir, dev } = ctx;
    const r = await invokeJson('Ts', { cwd: dir, args: ['--event', '-'], input: '{"fail":true}' });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.json.errorMessage, 'failing on purpose');
    const stack = (r.json.stackTrace || r.json.trace || []).join('\n');
    assert.match(stack, new RegExp(`src/api\\.ts:${FAIL_LINE}:\\d+`), stack);
  });

  test('a syntax error fails invocations as a broken deploy would; the fix recovers', async () => {
    const { dir, dev } = ctx;
    let from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'lib.ts'), 'export const VERSION: number = ;\n');
    const failed = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts', 10000, 'the failed build', from);
    assert.equal(failed.ok, false);
    assert.match(failed.error, /^src\/lib\.ts:1:\d+: /);
    const broken = await invokeJson('Ts', { cwd: dir });
    assert.equal(broken.code, 1, broken.stderr);
    assert.equal(broken.json.errorType, 'Runtime.UserCodeSyntaxError');
    assert.match(broken.json.errorMessage, /^src\/lib\.ts:1: SyntaxError: /);
    // Other's inputs did not change: it was neither rebuilt nor broken.
    assert.equal(dev.records.slice(from).some((x) => x.type === 'build' && x.function === 'Other'), false);
    const other = await invokeJson('Other', { cwd: dir });
    assert.equal(other.code, 0, other.stderr);

    from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'lib.ts'), libTs(2));
    const fixed = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts', 10000, 'the fixed build', from);
    assert.equal(fixed.ok, true, fixed.error);
    await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Ts', 10000, 'the reload', from);
    const r = await invokeJson('Ts', { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { version: 2, where: 'ts' });
  });

  test('an import that cannot be resolved: Runtime.ImportModuleError', async () => {
    const { dir, dev } = ctx;
    let from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'api.ts'), apiTs.replace("'./lib.ts'", "'./missing.ts'"));
    const failed = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts', 10000, 'the failed build', from);
    assert.equal(failed.ok, false);
    const broken = await invokeJson('Ts', { cwd: dir });
    assert.equal(broken.json?.errorType, 'Runtime.ImportModuleError', broken.stderr);
    assert.match(broken.json.errorMessage, /Cannot find module '\.\/missing\.ts'/);
    from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'api.ts'), apiTs);
    const fixed = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts' && x.ok, 10000, 'the fixed build', from);
    assert.equal(fixed.ok, true);
  });

  test('a change to a file no function imports rebuilds nothing', async () => {
    const { dir, dev } = ctx;
    const from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'unrelated.ts'), 'export const x = 2;\n');
    // A marker change after it: once Ts has rebuilt for the marker, the
    // unrelated write has certainly been seen.
    await new Promise((r) => setTimeout(r, 300));
    fs.writeFileSync(path.join(dir, 'src', 'lib.ts'), libTs(3));
    // Both functions that import lib.ts (Ts, and Rooted from src/) rebuild.
    await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts', 10000, 'the marker build', from);
    await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Rooted', 10000, 'the marker build from src/', from);
    const builds = dev.records.slice(from).filter((x) => x.type === 'build');
    assert.deepEqual(builds.map((b) => b.function).sort(), ['Rooted', 'Ts']);
  });

  test('a build server that dies is started again at the next save', async () => {
    const { dir, dev } = ctx;
    const server = buildServerPid(dev.pid);
    assert.ok(server, 'no build server among dev\'s children');
    let from = dev.records.length;
    process.kill(server, 'SIGKILL');
    const lost = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts', 10000, 'the lost server', from);
    assert.equal(lost.ok, false);
    assert.match(lost.error, /the build server exited \(status 0, signal 9\)/);
    // The workers keep the last bundle meanwhile.
    const still = await invokeJson('Ts', { cwd: dir });
    assert.equal(still.code, 0, still.stderr);
    from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'src', 'lib.ts'), libTs(4));
    const built = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Ts' && x.ok, 15000, 'the rebuild', from);
    assert.equal(built.ok, true);
    await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Ts', 10000, 'the reload', from);
    const r = await invokeJson('Ts', { cwd: dir });
    assert.deepEqual(r.json, { version: 4, where: 'ts' });
    assert.notEqual(buildServerPid(dev.pid), server);
  });
});

describe('without any esbuild', () => {
  // tether's own files without its tools/ (where setup installs esbuild),
  // and a project without node_modules.
  const home = tempDir('tether-home-');
  fs.symlinkSync(path.join(REPO_DIR, 'runtimes'), path.join(home, 'runtimes'), 'dir');
  const ctx = projectWithDev(
    {
      'tether.json': JSON.stringify({ app: 'noesbuild', functions: { Ts: { handler: 'src/api.handler', runtime: 'nodejs20.x' } } }),
      'src/api.ts': 'export const handler = async (): Promise<number> => 1;\n',
    },
    () => ({ env: { TETHER_HOME: home } }),
  );

  test('the build line says what to install; invocations fail with Runtime.ImportModuleError', async () => {
    const { dir, dev } = ctx;
    const built = dev.records.find((x) => x.type === 'build' && x.function === 'Ts');
    assert.equal(built?.ok, false);
    assert.match(built.error, /Cannot find package 'esbuild'.*scripts\/install-deps/);
    const r = await invokeJson('Ts', { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.json.errorType, 'Runtime.ImportModuleError');
    assert.match(r.json.errorMessage, /^Error: Cannot find package 'esbuild'/);
  });
});

const goSource = (v) => `package main

import (
\t"bufio"
\t"fmt"
\t"net/http"
\t"os"
\t"strings"
)

// A minimal Lambda custom runtime: takes each invocation and answers ${v}.
func main() {
\tapi := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
\tfor {
\t\tres, err := http.Get(api + "next")
\t\tif err != nil {
\t\t\tos.Exit(1)
\t\t}
\t\tid := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
\t\tbufio.NewReader(res.Body).WriteTo(os.Stderr)
\t\tres.Body.Close()
\t\tout, err := http.Post(api+id+"/response", "application/json", strings.NewReader(fmt.Sprint(${v})))
\t\tif err == nil {
\t\t\tout.Body.Close()
\t\t}
\t}
}
`;

const haveGo = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;

describe('a "build" command (Go)', { skip: haveGo ? false : 'go is not installed (scripts/install-deps --tests installs golang-go)' }, () => {
  const ctx = projectWithDev(
    {
      'tether.json': JSON.stringify({
        app: 'gobuild',
        functions: {
          Go: {
            runtime: 'provided.al2023',
            bootstrap: 'bin/bootstrap',
            build: 'go build -o bin/bootstrap ./cmd/api',
            watch: ['*.go', 'go.mod'],
          },
        },
      }),
      'go.mod': 'module example.com/api\n\ngo 1.19\n',
      'cmd/api/main.go': goSource(1),
    },
    (dir) => ({ timeoutMs: 180000, env: { GOCACHE: path.join(dir, '.gocache'), GOFLAGS: '-mod=mod', HOME: dir } }),
  );

  test('built at start, rebuilt on save, the new binary answers', async () => {
    const { dir, dev } = ctx;
    const first = dev.records.find((x) => x.type === 'build' && x.function === 'Go');
    assert.equal(first?.ok, true, first?.error);
    const r1 = await invokeJson('Go', { cwd: dir });
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.json, 1);
    const from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'cmd', 'api', 'main.go'), goSource(2));
    const built = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Go', 120000, 'the rebuild', from);
    assert.equal(built.ok, true, built.error);
    await dev.waitForRecord((x) => x.type === 'reload' && x.function === 'Go', 10000, 'the restart', from);
    const r2 = await invokeJson('Go', { cwd: dir });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.json, 2);
  });

  test('a failing build shows its output and keeps the last good build serving', async () => {
    const { dir, dev } = ctx;
    const from = dev.records.length;
    fs.writeFileSync(path.join(dir, 'cmd', 'api', 'main.go'), 'package main\nfunc main() { undefinedThing() }\n');
    const built = await dev.waitForRecord((x) => x.type === 'build' && x.function === 'Go', 120000, 'the failed build', from);
    assert.equal(built.ok, false);
    assert.match(built.error, /undefined: undefinedThing/);
    assert.match(built.error, /\(exit status [1-9]\d*\)$/);
    const r = await invokeJson('Go', { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json, 2);
  });
});
