// Prints bench/live/run's table: medians over the runs of each RESULT line
// (label TARGET:PHASE), with ratios against the direct path.
//
//   node bench/live/summarize.mjs build/bench/live/results.txt 32
import fs from 'node:fs';

const [file, concArg = '32'] = process.argv.slice(2);
const conc = Number(concArg);
const rows = new Map(); // label -> [{field: number}]
const cpu = new Map(); // label -> [{part_us: number}]
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (line.startsWith('CPU ')) {
    const fields = Object.fromEntries(line.slice(4).split(' ').map((kv) => kv.split('=')));
    if (!cpu.has(fields.label)) cpu.set(fields.label, []);
    cpu.get(fields.label).push(fields);
    continue;
  }
  if (!line.startsWith('RESULT ')) continue;
  const fields = Object.fromEntries(line.slice(7).split(' ').map((kv) => kv.split('=')));
  if (fields.label.startsWith('warm:') || fields.label.startsWith('perf:')) continue;
  if (!rows.has(fields.label)) rows.set(fields.label, []);
  rows.get(fields.label).push(fields);
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stat = (target, phase, field) =>
  median((rows.get(`${target}:${phase}`) ?? []).map((r) => Number(r[field])));
const runs = (target, phase) => (rows.get(`${target}:${phase}`) ?? []).length;
const errors = [...rows.values()].flat().reduce((n, r) => n + Number(r.errors), 0);

const targets = ['direct', 'live', 'dev'].filter((t) => rows.has(`${t}:c1`));
if (!targets.includes('direct') || targets.length < 2) {
  console.log('\n(not enough measurements for a table: direct and at least one live path are needed)');
  process.exit(0);
}
const names = { direct: 'direct', live: 'live (echo dev)', dev: 'live (tether dev)' };

const ms = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '-');
const num = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const lines = [
  ['c=1 p50 (ms)', 'c1', 'p50_us', ms, 'lower'],
  ['c=1 p99 (ms)', 'c1', 'p99_us', ms, 'lower'],
  ['c=1 invocations/s', 'c1', 'mean_us', (us) => num(1e6 / us), 'higher', (us) => 1e6 / us],
  [`c=${conc} p50 (ms)`, `c${conc}`, 'p50_us', ms, 'lower'],
  [`c=${conc} p99 (ms)`, `c${conc}`, 'p99_us', ms, 'lower'],
  [`c=${conc} invocations/s`, `c${conc}`, 'rps', num, 'higher'],
  ['6 MB round trip, p50 (ms)', '6mb', 'p50_us', ms, 'lower'],
];

const header = ['', ...targets.flatMap((t) => (t === 'direct' ? [names[t]] : [names[t], 'ratio']))];
const table = [header];
for (const [title, phase, field, format, , value = (x) => x] of lines) {
  const base = value(stat('direct', phase, field));
  const row = [title];
  for (const t of targets) {
    const v = stat(t, phase, field);
    row.push(format(v));
    if (t !== 'direct') {
      const r = value(v) / base;
      row.push(Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');
    }
  }
  table.push(row);
}
const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
const runCount = Math.max(...[...rows.keys()].map((k) => rows.get(k).length));
console.log(`\nmedians of ${runCount} runs; ratio = that path / direct (errors in all runs: ${errors})\n`);
for (const [i, r] of table.entries()) {
  console.log(r.map((c, k) => (k === 0 ? String(c).padEnd(widths[k]) : String(c).padStart(widths[k]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}

// CPU per invocation at full concurrency, by part of the chain.
const parts = [
  ['lambda', 'tether lambda (service)'],
  ['direct_rt', 'echo_runtime sandboxes (direct)'],
  ['live_bridge', 'tether-bridge sandboxes (live)'],
  ['dev_bridge', 'tether-bridge sandboxes (dev)'],
  ['broker', 'tether broker'],
  ['echodev', 'echo dev side (Node)'],
  ['tetherdev', 'tether dev + its workers'],
];
// Parts below this share of the total are background (idle sandboxes of
// the other targets, timers), not this path's work.
function cpuTable(phase, title, scale, digits) {
  const table = [[title, ...targets.map((t) => names[t])]];
  const cell = (t, key) => median((cpu.get(`${t}:${phase}`) ?? []).map((r) => Number(r[`${key}_us`])));
  const totals = targets.map((t) => parts.reduce((n, [key]) => n + (cell(t, key) || 0), 0));
  for (const [key, name] of parts) {
    const row = [name];
    let any = false;
    targets.forEach((t, i) => {
      const v = cell(t, key);
      const shown = Number.isFinite(v) && v > 0 && v >= totals[i] * 0.02;
      any ||= shown;
      row.push(shown ? (v / scale).toFixed(digits) : '-');
    });
    if (any) table.push(row);
  }
  table.push(['total', ...totals.map((v) => (v / scale).toFixed(digits))]);
  return table;
}
if (cpu.size) {
  printTable(cpuTable(`c${conc}`, `CPU per invocation at c=${conc} (us)`, 1, 0));
  printTable(cpuTable('6mb', 'CPU per 6 MB round trip (ms)', 1000, 1));
}
function printTable(cpuTable) {
  const w = cpuTable[0].map((_, i) => Math.max(...cpuTable.map((r) => String(r[i]).length)));
  console.log('');
  for (const [i, r] of cpuTable.entries()) {
    console.log(r.map((c, k) => (k === 0 ? String(c).padEnd(w[k]) : String(c).padStart(w[k]))).join('  '));
    if (i === 0) console.log(w.map((x) => '-'.repeat(x)).join('  '));
  }
}

// The targets from the issues.
const check = (ok) => (ok ? 'met' : 'MISSED');
console.log('\ntargets:');
for (const t of targets.filter((x) => x !== 'direct')) {
  const overhead = stat(t, 'c1', 'p50_us') - stat('direct', 'c1', 'p50_us');
  const p50 = stat(t, 'c1', 'p50_us');
  const rps = stat(t, `c${conc}`, 'rps');
  const big = stat(t, '6mb', 'p50_us');
  const bigDirect = stat('direct', '6mb', 'p50_us');
  console.log(`  ${names[t]}:`);
  console.log(`    live-path overhead at c=1, p50 (vs direct): ${ms(overhead)} ms (target <= 0.5 ms): ${check(overhead <= 500)}`);
  console.log(`    end-to-end p50 at c=1: ${ms(p50)} ms (target <= 1 ms): ${check(p50 <= 1000)}`);
  console.log(`    invocations/s at c=${conc}: ${num(rps)} (target >= 3,000): ${check(rps >= 3000)}`);
  console.log(
    `    6 MB round trip: ${ms(big)} ms, ${ms(big - bigDirect)} ms more than direct (target <= 100 ms each way, 200 ms round trip): ${check(big <= 200000)}`,
  );
}
if (targets.some((t) => runs(t, 'c1') === 0)) console.log('(some measurements are missing)');
