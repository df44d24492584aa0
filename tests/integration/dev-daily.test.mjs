// The daily loop of `tether dev` (issue 15), end to end with real processes:
// runtimes as AWS lists them (and a newer one, warned), `--function` picking
// functions, and `--inspect` with two concurrent Node workers, each on its
// own port, each attached to by a real inspector client (Node's inspector
// protocol over WebSocket, the `ws` package) and held at a `debugger;`
// statement past the function's timeout; then `tether debug-config`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import WebSocket from 'ws';

import { TETHER_BIN, httpRequest, invokeApi, makeProject, sleep, spawnDev, startDev, waitFor } from './lib/dev.mjs';
import { freePort } from './lib/cloud.mjs';

const echo = `export const handler = async (event, context) => ({
  statusCode: 200,
  body: JSON.stringify({ fn: context.functionName, node: process.versions.node }),
});
`;

function project(functions, files = {}) {
  return makeProject({
    files: {
      'tether.json': JSON.stringify({ app: 'daily', functions }),
      'src/echo.mjs': echo,
      ...files,
    },
  });
}

/** Runs `tether dev ARGS` that is expected to refuse to start; its {status, stderr}. */
function devRefuses(dir, args) {
  const r = spawnSync(TETHER_BIN, ['dev', '--port', '0', ...args], { cwd: dir, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stderr: r.stderr };
}

describe('runtimes as AWS lists them', () => {
  test('nodejs24.x runs; an unknown nodejs26.x runs with a warning; the local Node version is named', async () => {
    const dir = project({
      Current: { handler: 'src/echo.handler', runtime: 'nodejs24.x', url: true },
      Future: { handler: 'src/echo.handler', runtime: 'nodejs26.x', url: true },
      Py: { handler: 'echo.handler', runtime: 'python3.14', url: true },
    }, { 'echo.py': 'def handler(event, context):\n    return {"statusCode": 200, "body": "py"}\n' });
    const dev = await startDev(dir);
    try {
      const warnings = dev.recordsOf('warning').map((r) => r.message);
      assert.ok(
        warnings.some((m) => m.includes('"nodejs26.x" is newer') && m.includes('nodejs24.x')),
        `no warning for nodejs26.x:\n${dev.dump()}`,
      );
      assert.ok(!warnings.some((m) => m.includes('"nodejs24.x" is newer')), dev.dump());
      const major = process.versions.node.split('.')[0];
      if (major !== '24') {
        assert.ok(
          warnings.some((m) => m.includes('Current declares nodejs24.x') && m.includes(`local node is version ${major}`)),
          `no interpreter warning:\n${dev.dump()}`,
        );
      }
      const python = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).stdout.trim();
      if (python !== '3.14') {
        assert.ok(
          warnings.some((m) => m.includes('Py declares python3.14') && m.includes(`local python3 is version ${python}`)),
          `no interpreter warning for Python:\n${dev.dump()}`,
        );
      }
      assert.equal((await httpRequest(dev.urls.Py)).text, 'py');
      for (const fn of ['Current', 'Future']) {
        const r = await httpRequest(dev.urls[fn]);
        assert.equal(r.status, 200, `${fn}: ${r.text}\n${dev.dump()}`);
        assert.equal(r.json.fn, fn);
      }
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });

  test('an unknown language is refused with the list; an old Node too', () => {
    for (const runtime of ['ruby3.4', 'nodejs16.x']) {
      const dir = project({ A: { handler: 'src/echo.handler', runtime } });
      const r = devRefuses(dir, []);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`functions\\.A\\.runtime: "${runtime.replace('.', '\\.')}" is not supported \\(use one of nodejs18\\.x, .*python3\\.14, .*provided\\.al2023\\)`));
    }
  });
});

describe('--function', () => {
  const three = {
    OrdersApi: { handler: 'src/echo.handler', runtime: 'nodejs20.x', url: true },
    UsersApi: { handler: 'src/echo.handler', runtime: 'nodejs20.x', url: true },
    Cron: { handler: 'src/echo.handler', runtime: 'nodejs20.x', url: true },
  };

  test('selects two of three; the third is not served', async () => {
    const dir = project(three);
    const dev = await startDev(dir, { args: ['-f', '*Api', '--function', 'Users?pi'] });
    try {
      assert.deepEqual(Object.keys(dev.urls).sort(), ['OrdersApi', 'UsersApi'], dev.dump());
      for (const fn of ['OrdersApi', 'UsersApi']) {
        const r = await httpRequest(dev.urls[fn]);
        assert.equal(r.status, 200, `${fn}: ${r.text}\n${dev.dump()}`);
        assert.equal(r.json.fn, fn);
      }
      // Not live: the embedded Lambda service has no such function.
      const r = await invokeApi(dev.lambda, 'Cron', {});
      assert.equal(r.status, 404, `${r.text}\n${dev.dump()}`);
      assert.match(dev.stderrText, /OrdersApi: sandbox [0-9a-f]{32} started/, dev.dump());
      assert.doesNotMatch(dev.stderrText, /Cron: sandbox [0-9a-f]{32} started/, dev.dump());
    } finally {
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });

  test('a pattern that matches nothing is an error listing the functions', () => {
    const dir = project(three);
    const r = devRefuses(dir, ['-f', '*Api', '-f', 'Jobs*']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--function Jobs\* matches no function in .*tether\.json \(it has OrdersApi, UsersApi, Cron\)/);
  });
});

/* ---------------------------------------------------------------- debugging */

/** A minimal inspector client: send(method, params) → result; events by name. */
async function inspectorClient(port) {
  const list = await httpRequest(`http://127.0.0.1:${port}/json/list`);
  assert.equal(list.status, 200, list.text);
  const target = JSON.parse(list.text)[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let next = 1;
  const pending = new Map();
  const events = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    } else if (m.method) {
      events.push(m);
    }
  });
  return {
    events,
    send(method, params = {}) {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close() {
      ws.close();
    },
  };
}

describe('--inspect', () => {
  test('two concurrent Node workers, each on its own port, paused past the timeout, still answer', async () => {
    // The handler waits for a client to attach (it sets globalThis.attached),
    // then stops at `debugger;` until the client resumes it.
    const slow = `export const handler = async (event, context) => {
  for (let i = 0; i < 600 && !globalThis.attached; i++) await new Promise((r) => setTimeout(r, 50));
  const before = Date.now();
  debugger;
  return { statusCode: 200, body: JSON.stringify({ paused: Date.now() - before, remaining: context.getRemainingTimeInMillis() }) };
};
`;
    const dir = project(
      { Slow: { handler: 'src/slow.handler', runtime: 'nodejs20.x', url: true, timeout: 2 } },
      { 'src/slow.mjs': slow },
    );
    const first = await freePort();
    const dev = await startDev(dir, { args: [`--inspect=${first}`, '--debug-timeout', '60'] });
    const clients = [];
    try {
      assert.ok(dev.recordsOf('info').some((r) => /debugger ports from \d+ up.*60 s/.test(r.message)), dev.dump());
      const calls = [httpRequest(dev.urls.Slow, { ms: 60000 }), httpRequest(dev.urls.Slow, { ms: 60000 })];
      const ports = await waitFor(() => {
        const found = dev.recordsOf('debugger').filter((r) => r.function === 'Slow' && /^[0-9a-f]{8}$/.test(r.worker));
        return found.length >= 2 ? found.map((r) => r.port) : null;
      }, 20000, 'two workers with debugger ports');
      assert.deepEqual(ports.sort((a, b) => a - b), [first, first + 1], dev.dump());
      for (const port of ports) {
        let client;
        await waitFor(async () => {
          try {
            client = await inspectorClient(port);
            return true;
          } catch {
            return false;
          }
        }, 10000, `the inspector on ${port}`);
        clients.push(client);
        await client.send('Runtime.enable');
        await client.send('Debugger.enable');
        await client.send('Runtime.evaluate', { expression: 'globalThis.attached = true' });
      }
      for (const c of clients) await waitFor(() => c.events.some((e) => e.method === 'Debugger.paused'), 20000, 'Debugger.paused');
      await sleep(3000); // past the function's 2 s timeout
      for (const c of clients) await c.send('Debugger.resume');
      for (const r of await Promise.all(calls)) {
        assert.equal(r.status, 200, `${r.text}\n${dev.dump()}`);
        assert.ok(r.json.paused >= 2500, r.text);
        assert.ok(r.json.remaining > 30000, `deadline not raised: ${r.text}`);
      }
    } finally {
      for (const c of clients) c.close();
      assert.equal((await dev.stop()).code, 0, dev.dump());
    }
  });
});

test('--inspect: a breakpoint at a module\'s top level holds the worker\'s init past the 10 s init timeout', async () => {
  const top = `for (let i = 0; i < 600 && !globalThis.attached; i++) await new Promise((r) => setTimeout(r, 50));
debugger;
export const handler = async () => ({ statusCode: 200, body: 'initialised' });
`;
  const dir = project({ Top: { handler: 'src/top.handler', runtime: 'nodejs20.x', url: true, timeout: 2 } }, { 'src/top.mjs': top });
  const first = await freePort();
  const dev = await startDev(dir, { args: [`--inspect=${first}`, '--debug-timeout', '60'] });
  let client;
  try {
    const call = httpRequest(dev.urls.Top, { ms: 60000 });
    const record = await dev.waitForRecord((r) => r.type === 'debugger' && r.function === 'Top', 20000);
    await waitFor(async () => {
      try {
        client = await inspectorClient(record.port);
        return true;
      } catch {
        return false;
      }
    }, 10000, 'the inspector');
    await client.send('Debugger.enable');
    await client.send('Runtime.evaluate', { expression: 'globalThis.attached = true' });
    await waitFor(() => client.events.some((e) => e.method === 'Debugger.paused'), 20000, 'Debugger.paused');
    await sleep(11000); // past the workers' 10 s init timeout
    await client.send('Debugger.resume');
    const r = await call;
    assert.equal(r.status, 200, `${r.text}\n${dev.dump()}`);
    assert.equal(r.text, 'initialised');
  } finally {
    client?.close();
    assert.equal((await dev.stop()).code, 0, dev.dump());
  }
});

test('--inspect: concurrent Python workers get a debugpy port each', async () => {
  // Whether or not debugpy is installed, the shim names the port it was
  // given: "debugpy listening on 127.0.0.1:P" or "TETHER_DEBUGPY_PORT=P is set".
  const dir = project(
    { Py: { handler: 'slow.handler', runtime: 'python3.12', url: true } },
    { 'slow.py': 'import time\n\ndef handler(event, context):\n    time.sleep(1.5)\n    return {"statusCode": 200, "body": "ok"}\n' },
  );
  const first = await freePort();
  const dev = await startDev(dir, { args: [`--inspect=${first}`] });
  try {
    const answers = await Promise.all([httpRequest(dev.urls.Py), httpRequest(dev.urls.Py)]);
    for (const r of answers) assert.equal(r.status, 200, `${r.text}\n${dev.dump()}`);
    const ports = dev.recordsOf('debugger').filter((r) => r.function === 'Py').map((r) => r.port);
    assert.deepEqual(ports.sort((a, b) => a - b), [first, first + 1], dev.dump());
    for (const port of ports) {
      assert.match(dev.stderrText, new RegExp(`(debugpy listening on 127\\.0\\.0\\.1:${port}|TETHER_DEBUGPY_PORT=${port} is set)`), dev.dump());
    }
  } finally {
    assert.equal((await dev.stop()).code, 0, dev.dump());
  }
});

describe('tether debug-config', () => {
  test('vscode: a launch.json naming the worker ports', () => {
    const r = spawnSync(TETHER_BIN, ['debug-config', 'vscode', '--port', '9300', '--workers', '3'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const launch = JSON.parse(r.stdout);
    assert.deepEqual(launch.configurations.map((c) => [c.type, c.request, c.address, c.port]), [
      ['node', 'attach', '127.0.0.1', 9300],
      ['node', 'attach', '127.0.0.1', 9301],
      ['node', 'attach', '127.0.0.1', 9302],
    ]);
    assert.deepEqual(launch.compounds[0].configurations, launch.configurations.map((c) => c.name));
    const py = JSON.parse(spawnSync(TETHER_BIN, ['debug-config', 'vscode', '--runtime', 'python', '--workers', '1'], { encoding: 'utf8' }).stdout);
    assert.deepEqual(py.configurations[0].connect, { host: '127.0.0.1', port: 9229 });
    assert.equal(py.configurations[0].type, 'debugpy');
  });

  test('jetbrains: run configurations per port; unknown IDE refused', () => {
    const r = spawnSync(TETHER_BIN, ['debug-config', 'jetbrains', '--workers', '2'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^<component name="ProjectRunConfigurationManager">/);
    assert.deepEqual([...r.stdout.matchAll(/port="(\d+)"/g)].map((m) => m[1]), ['9229', '9230']);
    const bad = spawnSync(TETHER_BIN, ['debug-config', 'emacs'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown IDE "emacs"/);
  });
});
