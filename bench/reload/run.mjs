// Save → new answer under `tether dev` (issue 15, item 6): today's restart
// (--no-standby) against the warm standby, for a small Node and a small
// Python handler, in one run. bench/reload/README.md says what is measured.
//
//   bench/reload/run [EDITS]          (default 30 edits per case)
import fs from 'node:fs';
import path from 'node:path';

import { invokeApi, makeProject, sleep, startDev, waitFor } from '../../tests/integration/lib/dev.mjs';

const EDITS = Number(process.argv[2] || 30);
// Between edits: a developer does not save 30 times a second, and the next
// standby is started once the worker that answered waits for work.
const PAUSE_MS = 500;

// Each version changes the file's size too: Python's cached bytecode is
// checked against the source's size and its mtime in whole seconds.
const CASES = [
  { fn: 'Js', file: 'src/js.mjs', text: (v) => `// ${'.'.repeat(v)}\nexport const handler = async () => ({ version: ${v} });\n` },
  { fn: 'Py', file: 'py/app.py', text: (v) => `# ${'.'.repeat(v)}\ndef handler(event, context):\n    return {"version": ${v}}\n` },
];

const project = () =>
  makeProject({
    prefix: 'tether-reload-bench-',
    files: {
      'tether.json': {
        app: 'reloadbench',
        functions: {
          Js: { handler: 'src/js.handler', runtime: 'nodejs20.x' },
          Py: { handler: 'py/app.handler', runtime: 'python3.12' },
        },
      },
      ...Object.fromEntries(CASES.map((c) => [c.file, c.text(0)])),
    },
  });

/** utime + stime of a process in milliseconds (/proc/PID/stat, fields 14 and 15). */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/** The version fn answers with; -1 for a failed call: a call that reaches a
 * worker just as the reload stops it fails with Runtime.ExitError (today's
 * behaviour, in both modes), and the loop calls again. */
async function version(dev, fn) {
  const r = await invokeApi(dev.lambda, fn, {}, { ms: 30000 });
  if (r.status !== 200) throw new Error(`${fn}: ${r.status} ${r.text}\n${dev.dump().slice(-4000)}`);
  return r.json && typeof r.json.version === 'number' ? r.json.version : -1;
}

/** The Init Duration of the last REPORT line of fn in dev's function log after offset. */
function initDuration(dev, fn, from) {
  const re = new RegExp(`${fn}.*REPORT RequestId: \\S+.*Init Duration: ([\\d.]+) ms`, 'g');
  const all = [...dev.stderrText.slice(from).matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : NaN;
}

/** One edit: write, then invoke until the answer carries v. */
async function edit(dev, dir, c, v) {
  const recFrom = dev.records.length;
  const errFrom = dev.stderrText.length;
  const t0 = process.hrtime.bigint();
  fs.writeFileSync(path.join(dir, c.file), c.text(v));
  let tries = 0;
  let failed = 0;
  for (let got; (got = await version(dev, c.fn)) !== v; tries++) failed += got === -1;
  const total = Number(process.hrtime.bigint() - t0) / 1e6;
  const reload = await waitFor(() => dev.records.slice(recFrom).find((r) => r.type === 'reload' && r.function === c.fn), 5000, 'the reload line');
  await waitFor(() => !Number.isNaN(initDuration(dev, c.fn, errFrom)), 5000, 'the REPORT line');
  return { total, watcher: reload.watcherMs, standby: reload.standby, init: initDuration(dev, c.fn, errFrom), tries, failed };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function measure(mode) {
  const dir = project();
  const dev = await startDev(dir, { args: mode === 'restart' ? ['--no-standby'] : [], timeoutMs: 60000 });
  const out = [];
  try {
    for (const c of CASES) {
      await version(dev, c.fn); // the first worker (and, with standbys, the first standby)
      await sleep(PAUSE_MS * 2);
      const rows = [];
      const cpu0 = cpuMs(dev.pid);
      for (let v = 1; v <= EDITS; v++) {
        rows.push(await edit(dev, dir, c, v));
        await sleep(PAUSE_MS);
      }
      const cpu = (cpuMs(dev.pid) - cpu0) / EDITS;
      const served = rows.filter((r) => r.standby).length;
      out.push({ mode, fn: c.fn, rows, cpu, served });
    }
  } finally {
    await dev.stop();
  }
  return out;
}

const f1 = (x) => x.toFixed(1).padStart(7);
const results = [];
// Alternating which goes first would need two runs; one of each, restart
// first, is what a reader can reproduce with one command.
for (const mode of ['restart', 'standby']) results.push(...(await measure(mode)));

console.log(`save -> new answer, ${EDITS} edits each, ${PAUSE_MS} ms apart (ms; p50 / p95)`);
console.log('case          total p50  total p95   watcher    import      rest   extra calls  failed  dev CPU/reload  standby used');
for (const r of results) {
  const col = (k) => r.rows.map((x) => x[k]);
  const rest = r.rows.map((x) => x.total - x.watcher - x.init);
  console.log(
    `${`${r.fn} ${r.mode}`.padEnd(13)} ${f1(pct(col('total'), 50))}    ${f1(pct(col('total'), 95))}   ${f1(pct(col('watcher'), 50))}   ${f1(pct(col('init'), 50))}   ${f1(pct(rest, 50))}   ${f1(col('tries').reduce((a, b) => a + b, 0) / r.rows.length)}   ${String(col('failed').reduce((a, b) => a + b, 0)).padStart(5)}       ${f1(r.cpu)}      ${r.served}/${r.rows.length}`,
  );
}
console.log('watcher: write -> restart (the reload line); import: Init Duration of the first REPORT after the save');
console.log('(with a standby: its handler import; with a restart: interpreter + shim + import); rest: total - both');
console.log('(relay through the embedded Lambda, bridge and broker, polling calls that got the old version, the handler).');
process.exit(0);
