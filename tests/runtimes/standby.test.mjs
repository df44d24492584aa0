// Standby mode of both shims (TETHER_STANDBY=1, docs/dev.md "Reload"): the
// shim starts and waits on its standard input without importing the
// handler; one byte wakes it, and the handler, its import included, runs as
// in any start, without the variable in its environment.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invoke, makeProject, startShim } from './lib/harness.mjs';

const T = { timeout: 30000 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CASES = {
  node: {
    handler: 'app.handler',
    files: { 'app.mjs': "console.log('module loaded');\nexport const handler = async () => ({ standby: process.env.TETHER_STANDBY ?? null });\n" },
  },
  python: {
    handler: 'app.handler',
    files: { 'app.py': 'import os\nprint("module loaded", flush=True)\n\n\ndef handler(event, context):\n    return {"standby": os.environ.get("TETHER_STANDBY")}\n' },
  },
};

for (const [runtime, c] of Object.entries(CASES)) {
  test(`${runtime}: a standby imports the handler only once woken`, T, async (t) => {
    const root = makeProject(t, c.files);
    const shim = await startShim(t, { runtime, handler: c.handler, root, env: { TETHER_STANDBY: '1' }, stdin: 'pipe' });
    await sleep(1000); // long enough for either shim to reach the wait
    assert.doesNotMatch(shim.out(), /module loaded/, 'imported before the wake-up');
    assert.equal(shim.proc.exitCode, null, `the standby exited: ${shim.err()}`);
    shim.proc.stdin.write('1');
    const r = await invoke(shim, {});
    assert.deepEqual(r.json, { standby: null }, r.text);
    assert.match(shim.out(), /module loaded/);
  });

  test(`${runtime}: without TETHER_STANDBY standard input is not read`, T, async (t) => {
    const root = makeProject(t, c.files);
    const shim = await startShim(t, { runtime, handler: c.handler, root, stdin: 'pipe' });
    const r = await invoke(shim, {});
    assert.deepEqual(r.json, { standby: null }, r.text);
  });
}
