// The benchmark's echo dev side: tests/integration/lib/bridge.mjs's DevSide
// in this process, quiet (no report per invocation), always echoing.
//
//   node bench/live/dev.mjs REALTIME_URL HOST API_KEY APP STAGE BRIDGE_KEY
//
// Prints {"type":"ready"} once subscribed, then a stats line on SIGTERM.
import { DevSide } from '../../tests/integration/lib/bridge.mjs';

const [realtimeUrl, host, apiKey, app, stage, key] = process.argv.slice(2);
const dev = new DevSide({
  realtimeUrl,
  host,
  apiKey,
  app,
  stage,
  key,
  details: false,
  modes: false,
  onEvent: (e) => {
    if (e.type !== 'pinged' && e.type !== 'answered') process.stdout.write(`${JSON.stringify(e)}\n`);
  },
});
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ type: 'stats', ...dev.stats })}\n`);
  dev.stop();
  process.exit(0);
});
dev.start(10000).catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
