// The esbuild build server's memory over many rebuilds (issue 15: SST leaked
// 12 GiB+ with long-lived esbuild contexts). Starts runtimes/node/build-server.mjs
// on a small TypeScript project, edits one module and rebuilds N times (500
// by default), and prints the resident memory of the server and of esbuild's
// own service process every 50 rebuilds.
//
//   node bench/esbuild-memory/run.mjs [REBUILDS] [RECYCLE_EVERY]
//
// RECYCLE_EVERY (default: the server's own) disposes and remakes a
// function's context after that many rebuilds; 0 never does.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const rebuilds = Number(process.argv[2] || 500);
const recycle = process.argv[3];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-esbuild-bench-'));
fs.mkdirSync(path.join(dir, 'src'));
for (let i = 0; i < 20; i++) {
  fs.writeFileSync(path.join(dir, 'src', `m${i}.ts`),
    `export interface Shape${i} { n: number; s: string }\n` +
    `export function f${i}(x: Shape${i}): string { return x.s.repeat(x.n) + ${i}; }\n`.repeat(20).replace(/f(\d+)\(/g, (m, d, o) => `f${d}_${o}(`));
}
const imports = Array.from({ length: 20 }, (_, i) => `import * as m${i} from './m${i}';`).join('\n');
const handler = (v) => `${imports}\nexport const handler = async () => ({ v: ${v}, n: [${Array.from({ length: 20 }, (_, i) => `Object.keys(m${i}).length`).join(', ')}] });\n`;
fs.writeFileSync(path.join(dir, 'src', 'api.ts'), handler(0));

const env = { ...process.env };
if (recycle !== undefined) env.TETHER_BUILD_RECYCLE = recycle === '0' ? String(1e12) : recycle;
const server = spawn('node', [path.join(repo, 'runtimes', 'node', 'build-server.mjs'), path.join(repo, 'tools')], { env, stdio: ['pipe', 'pipe', 'inherit'] });
const answers = [];
let wake = null;
readline.createInterface({ input: server.stdout }).on('line', (l) => {
  answers.push(JSON.parse(l));
  if (wake) wake();
});
async function next() {
  while (!answers.length) await new Promise((r) => (wake = r));
  return answers.shift();
}
function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return 0;
  }
}
function children(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  } catch {
    return [];
  }
}
const send = (o) => server.stdin.write(`${JSON.stringify(o)}\n`);

send({ op: 'add', function: 'Api', root: dir, entry: path.join(dir, 'src', 'api.ts'), outbase: path.join(dir, '.tether', 'build', 'Api', 'api'), runtime: 'nodejs20.x' });
send({ op: 'build', function: 'Api' });
const ready = await next();
if (ready.type !== 'ready') throw new Error(JSON.stringify(ready));
console.log(`esbuild ${ready.esbuild}, ${rebuilds} rebuilds, recycle ${env.TETHER_BUILD_RECYCLE || 'default'}`);
console.log('rebuilds  server-rss-MiB  esbuild-rss-MiB  total-MiB  last-ms');
let total = 0;
for (let i = 0; i <= rebuilds; i++) {
  if (i > 0) {
    fs.writeFileSync(path.join(dir, 'src', 'api.ts'), handler(i));
    send({ op: 'changed', paths: ['src/api.ts'] });
  }
  const a = await next();
  if (!a.ok) throw new Error(a.error);
  total += a.ms;
  if (i % 50 === 0) {
    const s = rssKiB(server.pid) / 1024;
    const e = children(server.pid).reduce((n, p) => n + rssKiB(p), 0) / 1024;
    console.log(`${String(i).padStart(8)}  ${s.toFixed(1).padStart(14)}  ${e.toFixed(1).padStart(15)}  ${(s + e).toFixed(1).padStart(9)}  ${a.ms.toFixed(1).padStart(7)}`);
  }
}
console.log(`mean rebuild ${(total / (rebuilds + 1)).toFixed(1)} ms`);
server.stdin.end();
await new Promise((r) => server.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });
