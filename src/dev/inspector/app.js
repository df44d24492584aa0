// The inspector's page: a list of invocations fed by /api/invocations and the
// live stream /api/stream, and one invocation in full. Everything from the
// API is put in the page as text (textContent), never as markup, because
// events and answers come from anyone who can reach a function.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { all: [], shown: [], sel: 0, open: null, functions: new Set() };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({ credentials: 'same-origin' }, options));
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function matches(inv) {
  const fn = $('f-function').value, st = $('f-status').value, q = $('f-q').value;
  if (fn && inv.function !== fn) return false;
  if (st && inv.status !== st) return false;
  if (!q) return true;
  return [inv.id, inv.function, inv.source, inv.errorType || ''].some((s) => s.includes(q));
}

function row(inv) {
  const time = new Date(inv.finishedMs).toLocaleTimeString();
  const status = el('td', { class: inv.status === 'ok' ? 'ok' : 'bad' },
    inv.status === 'ok' ? 'ok' : inv.errorType || 'error');
  const tr = el('tr', { 'data-id': inv.id },
    el('td', {}, time), el('td', {}, inv.function),
    el('td', {}, inv.source + (inv.replayOf ? ' (replay)' : '')), status,
    el('td', {}, inv.durationMs.toFixed(1)), el('td', { class: 'id' }, inv.id),
    el('td', { class: 'id' }, inv.worker));
  tr.addEventListener('click', () => open(inv.id));
  return tr;
}

// Invocations may arrive by the hundred per second: the list is redrawn at
// most once per frame, not once per invocation.
let renderPending = false;
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function render() {
  state.shown = state.all.filter(matches);
  const body = el('tbody');
  state.shown.forEach((inv, i) => {
    const tr = row(inv);
    if (i === state.sel) tr.className = 'sel';
    body.append(tr);
  });
  $('list').querySelector('tbody').replaceWith(body);
  charts();
}

// A latency chart per function: the last 50 durations as an SVG polyline.
function charts() {
  const box = $('charts');
  box.replaceChildren();
  for (const fn of state.functions) {
    const ms = state.all.filter((i) => i.function === fn).slice(0, 50).reverse().map((i) => i.durationMs);
    const max = Math.max(1, ...ms), w = 160, h = 40;
    const points = ms.map((v, i) => `${(i * w) / Math.max(1, ms.length - 1)},${h - (v / max) * h}`).join(' ');
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('width', w); svg.setAttribute('height', h);
    svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', `${fn} latency`);
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', points);
    svg.append(line);
    box.append(el('figure', {}, svg, el('figcaption', {}, `${fn}: max ${max.toFixed(1)} ms`)));
  }
}

function addFunction(fn) {
  if (state.functions.has(fn)) return;
  state.functions.add(fn);
  $('f-function').append(el('option', { value: fn }, fn));
}

function stats(list) {
  state.list = list;
  $('stats').textContent = `${list.count} kept (at most ${list.maxCount}), ${(list.bytes / 1048576).toFixed(1)} of ${(list.maxBytes / 1048576).toFixed(0)} MB`;
}

async function load() {
  const list = await api('/api/invocations');
  state.all = list.invocations;
  state.all.forEach((i) => addFunction(i.function));
  stats(list);
  render();
  document.body.dataset.loaded = 'true';
}

function live() {
  const source = new EventSource('/api/stream');
  source.onopen = () => { $('live').textContent = 'live'; };
  source.onerror = () => { $('live').textContent = 'disconnected (retrying)'; };
  source.addEventListener('invocation', (m) => {
    const inv = JSON.parse(m.data);
    state.all.unshift(inv);
    addFunction(inv.function);
    if (state.all.length > state.list.maxCount) state.all.pop();
    stats(Object.assign(state.list, { count: state.all.length, bytes: state.list.bytes + inv.eventBytes + inv.answerBytes }));
    if (state.sel > 0 && matches(inv)) state.sel++;
    if (!state.open) renderSoon();
  });
}

// Pretty JSON, objects and arrays collapsible (<details>).
function jsonView(value, key) {
  const label = key === undefined ? [] : [el('span', { class: 'k' }, JSON.stringify(key)), ': '];
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const open = Array.isArray(value) ? '[' : '{', close = Array.isArray(value) ? ']' : '}';
    const d = el('details', { open: '' }, el('summary', {}, ...label, `${open} ${entries.length} ${close}`));
    for (const [k, v] of entries) d.append(jsonView(v, Array.isArray(value) ? undefined : k));
    return d;
  }
  return el('div', {}, ...label, JSON.stringify(value));
}

function showBody(box, inv, key) {
  box.replaceChildren();
  if (inv[key] !== null && inv[key] !== undefined) box.append(jsonView(inv[key]));
  else if (inv[key + 'Text'] !== undefined) box.append(el('pre', {}, inv[key + 'Text']));
  else if (inv[key + 'Base64'] !== undefined) box.append(el('pre', {}, `base64: ${inv[key + 'Base64']}`));
  else box.append(el('span', { class: 'dim' }, '(none)'));
}

async function open(id) {
  const inv = await api(`/api/invocations/${encodeURIComponent(id)}`);
  state.open = inv;
  $('list-pane').hidden = true;
  $('detail').hidden = false;
  $('d-editor').hidden = true;
  $('d-replay-result').textContent = '';
  $('d-title').textContent = `${inv.function} ${inv.source}`;
  $('d-meta').textContent = `${inv.status} · ${inv.durationMs.toFixed(1)} ms · request ${inv.id} · worker ${inv.worker}` +
    (inv.replayOf ? ` · replay of ${inv.replayOf}` : '');
  showBody($('d-event'), inv, 'event');
  $('d-answer-title').textContent = inv.status === 'ok' ? 'Response' : 'Error';
  showBody($('d-answer'), inv, inv.status === 'ok' ? 'response' : 'error');
  $('d-logs').textContent = inv.logs || '(no log lines)';
  const t = inv.timings;
  const at = (ms) => new Date(ms).toISOString();
  const chain = [];
  if (t.nextSentMs !== null) chain.push(`bridge sent the event ${at(t.nextSentMs)} (the bridge's clock)`);
  if (t.nextReceivedMs !== null) chain.push(`tether dev had it ${at(t.nextReceivedMs)}`);
  chain.push(`handed to the local worker ${at(t.handlerStartMs)}`, `its answer came ${t.handlerMs.toFixed(1)} ms later, ${at(t.answeredMs)}`);
  if (t.answerDeliveredMs !== null) chain.push(`the broker took the answer ${at(t.answerDeliveredMs)}`);
  $('d-timings').textContent = chain.join(' · ');
  const from = inv.environmentFrom === 'init' ? 'from the worker\'s Init' : 'from tether.json (no Init for this one)';
  const names = inv.environment.length ? inv.environment.map((e) => `${e.name}=${e.value}`).join('  ') : '(none)';
  const dropped = inv.environmentDropped.length ? ` · dropped by the Init filter: ${inv.environmentDropped.join(', ')}` : '';
  $('d-env').textContent = `${names}  (${from}, values masked)${dropped}`;
  $('replay').focus();
}

function back() {
  $('detail').hidden = true;
  $('list-pane').hidden = false;
  state.open = null;
  render();
}

async function replay(body) {
  const out = $('d-replay-result');
  out.textContent = 'replaying…';
  try {
    const r = await api(`/api/invocations/${encodeURIComponent(state.open.id)}/replay`, { method: 'POST', body });
    out.textContent = `replayed as ${r.id || '(not seen)'}${r.local ? ' in the local worker' : ''}: ${r.functionError ? 'error' : 'ok'} ${JSON.stringify(r.answer ?? r.answerText ?? '')}`;
    out.dataset.replayId = r.id || '';
  } catch (err) {
    out.textContent = `replay failed: ${err.message}`;
  }
}

$('back').addEventListener('click', back);
$('replay').addEventListener('click', () => replay(undefined));
$('edit').addEventListener('click', () => {
  const inv = state.open;
  $('d-editor').hidden = false;
  $('d-event-edit').value = inv.event !== null ? JSON.stringify(inv.event, null, 2) : inv.eventText || '';
  $('d-event-edit').focus();
});
$('send').addEventListener('click', () => {
  const text = $('d-event-edit').value;
  $('d-edit-error').textContent = '';
  try { JSON.parse(text); } catch (err) { $('d-edit-error').textContent = `not JSON: ${err.message}`; return; }
  replay(text);
});
for (const id of ['f-function', 'f-status', 'f-q']) $(id).addEventListener('input', () => { state.sel = 0; render(); });
$('filters').addEventListener('submit', (e) => e.preventDefault());

document.addEventListener('keydown', (e) => {
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName);
  if (e.key === 'Escape') {
    if (typing) document.activeElement.blur();
    else if (state.open) back();
    return;
  }
  if (typing || state.open) return;
  if (e.key === 'j' || e.key === 'ArrowDown') state.sel = Math.min(state.sel + 1, state.shown.length - 1);
  else if (e.key === 'k' || e.key === 'ArrowUp') state.sel = Math.max(state.sel - 1, 0);
  else if (e.key === 'Enter' && state.shown[state.sel]) { open(state.shown[state.sel].id); return; }
  else if (e.key === '/') { e.preventDefault(); $('f-q').focus(); return; }
  else return;
  e.preventDefault();
  render();
  const tr = $('list').querySelector('tr.sel');
  if (tr) tr.scrollIntoView({ block: 'nearest' });
});

load().then(live).catch((err) => { $('live').textContent = `cannot load: ${err.message}`; });
