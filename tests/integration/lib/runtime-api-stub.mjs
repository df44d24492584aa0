// A stand-in for Lambda's Runtime API as a deployed tether-bridge sees it:
// it hands out the invocations a test gives it, exactly as given (so a test
// can leave out a header Lambda would send), records what the bridge posts
// back, and never answers a /next once they are used up. Also starts the
// bridge against it. Loopback only; close() and stop() undo both.
import { spawn } from 'node:child_process';
import http from 'node:http';

import { BRIDGE_BIN } from './dev.mjs';

/**
 * Serves `invocations` ([{headers, body}]) on 127.0.0.1:0. Resolves to
 * {address (host:port), posted: [{url, body}], close()}.
 */
export async function serveInvocations(invocations) {
  const queue = [...invocations];
  const posted = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (!req.url.endsWith('/invocation/next')) {
        posted.push({ url: req.url, body: Buffer.concat(chunks).toString() });
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"OK"}');
        return;
      }
      const invocation = queue.shift();
      if (!invocation) return; // the long poll stays open, as Lambda's does
      res.writeHead(200, { 'Content-Type': 'application/json', ...invocation.headers });
      res.end(invocation.body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${server.address().port}`,
    posted,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Starts tether-bridge for function `name` of app/stage against a Runtime
 * API stand-in, reaching the events API at `eventsHttp` with `apiKey`.
 */
export function spawnBridge({ runtimeApi, name, eventsHttp, apiKey, app, stage, bridgeKey }) {
  const child = spawn(BRIDGE_BIN, [], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: runtimeApi,
      AWS_LAMBDA_FUNCTION_NAME: name,
      TETHER_EVENTS_HTTP: eventsHttp,
      TETHER_EVENTS_API_KEY: apiKey,
      TETHER_APP: app,
      TETHER_STAGE: stage,
      TETHER_FUNCTION_ID: name,
      TETHER_BRIDGE_KEY: bridgeKey,
    },
  });
  child.stderr.resume();
  return child;
}
