// Hemiwatch dashboard: draws the hemicycle from /api/seats, keeps it live from /api/events (SSE),
// shows a seat's details and the alert list. No framework, no network beyond the daemon itself.
'use strict';

const STATUSES = ['ok', 'warm', 'overheat_predicted', 'overheat', 'overheat_emergency', 'silent', 'failover_active', 'sensor_fault', 'unknown'];
const LABELS = {
  ok: 'OK', warm: 'Warm', overheat_predicted: 'Overheat predicted', overheat: 'Overheat',
  overheat_emergency: 'Emergency: cut power', silent: 'Silent',
  failover_active: 'Failover active', sensor_fault: 'Sensor fault', unknown: 'Unknown',
};
const SVGNS = 'http://www.w3.org/2000/svg';
const seats = new Map();   // id -> seat (place + live fields + el)
const alerts = new Map();  // id -> AlertView
const rows = [];           // visual rows, innermost first: arrays of seats left to right
let selected = null;
let focused = null;
let panelTimer = 0;
const stats = window.hemiwatch = { renderMs: null, drawMs: null, snapshotBytes: 0, snapshots: 0, updates: 0 };

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) el.append(k);
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (_) { /* empty or not JSON */ }
  if (!r.ok) {
    const e = new Error((body && body.error) || `${r.status} ${r.statusText}`);
    e.status = r.status;
    throw e;
  }
  return body;
}

const fmtTemp = (t) => (t === null || t === undefined ? '—' : `${t.toFixed(1)} °C`);
function fmtAgo(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(ms).toLocaleString();
}
const fmtTime = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '—');

// ---- the map -------------------------------------------------------------------------------

// Sectors are angular wedges (in name order, left to right) separated by aisles; rows are
// concentric arcs, row 1 innermost. The seat pitch is the largest that fits every row of every
// sector on its arc and all rows within the outer radius.
function drawMap(list) {
  const svg = $('map');
  const R = 480, PAD = 28, AISLE = 0.045, EDGE = 0.03;
  const bySector = new Map();
  for (const st of list) {
    if (!bySector.has(st.sector)) bySector.set(st.sector, new Map());
    const r = bySector.get(st.sector);
    if (!r.has(st.row)) r.set(st.row, []);
    r.get(st.row).push(st);
  }
  const sectors = [...bySector.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const rowNums = [...new Set(list.map((x) => x.row))].sort((a, b) => a - b);
  const rowIdx = new Map(rowNums.map((r, i) => [r, i]));
  const nRows = Math.max(rowNums.length, 1);
  const usable = Math.PI - 2 * EDGE - AISLE * Math.max(sectors.length - 1, 0);
  const total = list.length || 1;
  const span = new Map(sectors.map((k) => {
    let n = 0;
    for (const r of bySector.get(k).values()) n += r.length;
    return [k, (usable * n) / total];
  }));
  // Smallest inner radius (in pitches) so that each row's seats fit along their arc.
  let K = 0;
  for (const k of sectors) {
    for (const [row, ss] of bySector.get(k)) K = Math.max(K, ss.length / span.get(k) - rowIdx.get(row));
  }
  let pitch = R / (K + nRows - 1 + 0.5);
  let r0 = pitch * K;
  if (r0 < 0.3 * R) { r0 = 0.3 * R; pitch = nRows > 1 ? (R - r0) / (nRows - 1) : R - r0; }
  const seatR = Math.max(2, Math.min(pitch * 0.42, 14));
  const cx = R + PAD, cy = R + PAD;
  svg.setAttribute('viewBox', `0 0 ${2 * (R + PAD)} ${R + 2 * PAD + 10}`);
  svg.replaceChildren();
  svg.append(s('path', { class: 'rostrum', d: `M${cx - r0 * 0.55} ${cy} A${r0 * 0.55} ${r0 * 0.55} 0 0 1 ${cx + r0 * 0.55} ${cy} Z` }));
  const rl = s('text', { class: 'rostrum-label', x: cx, y: cy - 12 });
  rl.textContent = 'rostrum';
  svg.append(rl);
  const frag = document.createDocumentFragment();
  for (let i = 0; i < nRows; i++) rows[i] = [];
  let theta = Math.PI - EDGE;
  for (const k of sectors) {
    const sp = span.get(k);
    for (const [row, ss] of bySector.get(k)) {
      ss.sort((a, b) => a.position - b.position);
      const ri = rowIdx.get(row);
      const rad = r0 + ri * pitch;
      ss.forEach((st, j) => {
        const a = theta - ((j + 0.5) / ss.length) * sp;
        const el = s('circle', {
          class: `seat s-${st.status}`, cx: (cx + rad * Math.cos(a)).toFixed(1), cy: (cy - rad * Math.sin(a)).toFixed(1),
          r: seatR.toFixed(1), tabindex: '-1', role: 'button', 'data-id': st.id,
        });
        st.el = el;
        st.angle = a;
        st.ri = ri;
        label(st);
        rows[ri].push(st);
        frag.append(el);
      });
    }
    const mid = theta - sp / 2, lr = R + PAD * 0.55;
    const t = s('text', { class: 'sector-label', x: (cx + lr * Math.cos(mid)).toFixed(1), y: (cy - lr * Math.sin(mid) + 5).toFixed(1) });
    t.textContent = k;
    frag.append(t);
    theta -= sp + AISLE;
  }
  svg.append(frag);
  for (const r of rows) r.sort((a, b) => b.angle - a.angle);
  rows.forEach((r) => r.forEach((st, j) => { st.j = j; }));
  const first = rows.find((r) => r.length);
  if (first) setFocusable(first[0]);
}

function label(st) {
  st.el.setAttribute('aria-label', `Seat ${st.label}, sector ${st.sector}, ${LABELS[st.status] || st.status}, ${fmtTemp(st.temp_c)}`);
}

function setFocusable(st) {
  if (focused && focused.el) focused.el.setAttribute('tabindex', '-1');
  focused = st;
  st.el.setAttribute('tabindex', '0');
}

function onMapKey(ev) {
  const st = focused;
  if (!st) return;
  let next = null;
  const row = rows[st.ri];
  const nearest = (r) => (r && r.length ? r.reduce((b, x) => (Math.abs(x.angle - st.angle) < Math.abs(b.angle - st.angle) ? x : b)) : null);
  switch (ev.key) {
    case 'ArrowLeft': next = row[st.j - 1]; break;
    case 'ArrowRight': next = row[st.j + 1]; break;
    case 'ArrowUp': next = nearest(rows[st.ri + 1]); break;
    case 'ArrowDown': next = nearest(rows[st.ri - 1]); break;
    case 'Home': next = row[0]; break;
    case 'End': next = row[row.length - 1]; break;
    case 'Enter': case ' ': select(st.id); ev.preventDefault(); return;
    default: return;
  }
  ev.preventDefault();
  if (next) { setFocusable(next); next.el.focus(); }
}

// ---- live state ----------------------------------------------------------------------------

let legendQueued = false;
function queueLegend() {
  if (legendQueued) return;
  legendQueued = true;
  requestAnimationFrame(() => { legendQueued = false; drawLegend(); });
}

function drawLegend() {
  const counts = Object.fromEntries(STATUSES.map((k) => [k, 0]));
  for (const st of seats.values()) counts[st.status] = (counts[st.status] || 0) + 1;
  const ul = $('legend');
  if (!ul.children.length) {
    for (const k of STATUSES) {
      const sw = s('svg', { viewBox: '0 0 16 16', 'aria-hidden': 'true' });
      sw.append(s('circle', { class: `seat s-${k}`, cx: 8, cy: 8, r: 6 }));
      ul.append(h('li', { 'data-status': k }, sw, h('span', {}, LABELS[k]), h('span', { class: 'count' }, '0')));
    }
  }
  for (const li of ul.children) li.querySelector('.count').textContent = counts[li.dataset.status];
}

function applySeat(b) {
  const st = seats.get(b.id);
  if (!st) return;
  const changed = st.status !== b.status;
  st.status = b.status;
  if ('temp_c' in b) st.temp_c = b.temp_c;
  else if ('hottest_c' in b) st.temp_c = b.hottest_c;
  if ('last_seen_ms' in b) st.last_seen_ms = b.last_seen_ms;
  if (changed && st.el) st.el.setAttribute('class', `seat s-${st.status}${selected === st.id ? ' sel' : ''}`);
  if (st.el) label(st);
  if (changed) queueLegend();
  if (selected === st.id) schedulePanel();
}

function connect() {
  const conn = $('conn');
  const es = new EventSource('/api/events');
  es.onopen = () => { conn.textContent = 'live'; conn.dataset.state = 'live'; };
  es.onerror = () => { conn.textContent = 'reconnecting…'; conn.dataset.state = 'down'; };
  es.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch (_) { return; }
    if (m.type === 'snapshot') {
      stats.snapshots += 1;
      if (stats.snapshots === 1) stats.snapshotBytes = e.data.length;
      for (const b of m.seats) applySeat(b);
      alerts.clear();
      for (const a of m.alerts) alerts.set(a.id, a);
      renderAlerts();
      queueLegend();
      document.body.dataset.live = '1';
    } else if (m.type === 'seat') {
      stats.updates += 1;
      applySeat(m);
    } else if (m.type === 'alert') {
      alerts.set(m.id, m);
      renderAlerts();
      if (selected === m.seat) schedulePanel();
    }
  };
}

// ---- seat panel ----------------------------------------------------------------------------

function select(id) {
  const prev = seats.get(selected);
  if (prev && prev.el) prev.el.classList.remove('sel');
  selected = id;
  const st = seats.get(id);
  if (!st) return;
  st.el.classList.add('sel');
  setFocusable(st);
  $('panel').hidden = false;
  $('p-title').textContent = `Seat ${st.label}`;
  refreshPanel(true);
}

function schedulePanel() {
  if (panelTimer) return;
  panelTimer = setTimeout(() => { panelTimer = 0; refreshPanel(false); }, 1000);
}

async function refreshPanel(withHistory) {
  const id = selected;
  if (id === null) return;
  let seat;
  try { seat = await api(`/api/seats/${id}`); } catch (e) { $('p-facts').replaceChildren(h('dd', {}, e.message)); return; }
  if (id !== selected) return;
  const c = seat.counters;
  const facts = [
    ['Status', LABELS[seat.status] || seat.status], ['Temperature', seat.temps_c.length ? seat.temps_c.map((t) => fmtTemp(t)).join(', ') : '—'],
    ['Sector / row / pos.', `${seat.sector} / ${seat.row} / ${seat.position}`], ['Seat id', String(seat.id)],
    ['Firmware', seat.firmware || '—'], ['Protocol', seat.protocol || '—'], ['Board', seat.board || '—'],
    ['Line', seat.heard_on || seat.line || '—'], ['Last seen', fmtAgo(seat.last_seen_ms)],
    ['Uptime', seat.uptime_min === null ? '—' : `${seat.uptime_min} min`], ['Supply', seat.supply_mv === null ? '—' : `${seat.supply_mv} mV`],
    ['Flags', seat.flags.length ? seat.flags.join(', ') : 'none'],
    ['Frames', `${c.frames} ok, ${c.lost} lost`], ['Refused', `${c.bad_mac} bad MAC, ${c.replays} replays, ${c.rejected} other`],
    ['Reboots', String(c.reboots)],
  ];
  $('p-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const mine = [...alerts.values()].filter((a) => a.seat === id).sort((a, b) => b.started_at_ms - a.started_at_ms).slice(0, 10);
  $('p-alerts').replaceChildren(...(mine.length ? mine.map(alertItem) : [h('li', { class: 'empty' }, 'none')]));
  if (!withHistory) return;
  const to = Date.now();
  api(`/api/seats/${id}/history?from=${to - 30 * 60 * 1000}&to=${to}`)
    .then((r) => { if (id === selected) drawChart(r.points, r.from, r.to); })
    .catch((e) => { if (id === selected) chartMessage(e.message); });
  api(`/api/seats/${id}/events?limit=10`)
    .then((r) => {
      if (id !== selected) return;
      $('p-events').replaceChildren(...(r.events.length
        ? r.events.map((ev) => h('li', {}, h('time', {}, fmtTime(ev.at_ms)), ` ${ev.kind.replace(/_/g, ' ')} — ${ev.detail}`))
        : [h('li', { class: 'empty' }, 'none')]));
    })
    .catch((e) => { if (id === selected) $('p-events').replaceChildren(h('li', { class: 'empty' }, e.message)); });
}

function chartMessage(text) {
  const svg = $('p-chart');
  const t = s('text', { x: 210, y: 78, 'text-anchor': 'middle' });
  t.textContent = text;
  svg.replaceChildren(t);
}

// Min–max band and mean line; y range padded to at least 2 °C so noise does not look dramatic.
// The x axis spans the requested window, or only the part with data when the seat's history is
// shorter (a daemon started 2 minutes ago draws 2 minutes, not a sliver at the right edge).
function drawChart(points, from, to) {
  const svg = $('p-chart');
  if (!points.length) { chartMessage('no samples in the last 30 minutes'); return; }
  from = Math.max(from, points[0].t_ms - 0.05 * (to - points[0].t_ms));
  const W = 420, H = 150, L = 34, B = 18, T = 8, Rm = 8;
  let lo = Math.min(...points.map((p) => p.min_c)), hi = Math.max(...points.map((p) => p.max_c));
  if (hi - lo < 2) { const m = (hi + lo) / 2; lo = m - 1; hi = m + 1; }
  const x = (t) => L + ((t - from) / Math.max(to - from, 1)) * (W - L - Rm);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const up = points.map((p) => `${x(p.t_ms).toFixed(1)},${y(p.max_c).toFixed(1)}`);
  const down = points.slice().reverse().map((p) => `${x(p.t_ms).toFixed(1)},${y(p.min_c).toFixed(1)}`);
  const kids = [
    s('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }), s('line', { class: 'axis', x1: L, y1: H - B, x2: W - Rm, y2: H - B }),
    s('polygon', { class: 'band', points: up.concat(down).join(' ') }),
    s('polyline', { class: 'mean', points: points.map((p) => `${x(p.t_ms).toFixed(1)},${y(p.mean_c).toFixed(1)}`).join(' ') }),
  ];
  const txt = (x0, y0, v, anchor) => { const t = s('text', { x: x0, y: y0, 'text-anchor': anchor }); t.textContent = v; return t; };
  const span = (to - from) / 1000;
  const ago = span >= 90 ? `−${Math.round(span / 60)} min` : `−${Math.round(span)} s`;
  kids.push(txt(L - 3, T + 8, hi.toFixed(1), 'end'), txt(L - 3, H - B, lo.toFixed(1), 'end'),
    txt(L, H - 4, ago, 'start'), txt(W - Rm, H - 4, 'now', 'end'));
  const last = points[points.length - 1];
  svg.setAttribute('aria-label', `Temperature over the last ${ago.slice(1)}: ${points.length} points, from ${lo.toFixed(1)} to ${hi.toFixed(1)} °C, last ${last.mean_c.toFixed(1)} °C`);
  svg.replaceChildren(...kids);
}

// ---- alerts --------------------------------------------------------------------------------

function alertItem(a) {
  const seat = a.seat !== null && a.seat !== undefined ? seats.get(a.seat) : null;
  const where = seat ? h('button', { class: 'linklike', type: 'button', onclick: () => select(seat.id) }, `seat ${seat.label}`) : (a.line ? `line ${a.line}` : '');
  const acts = h('div', { class: 'acts' });
  if (a.state !== 'resolved' && !a.ack) acts.append(h('button', { type: 'button', class: 'ack', onclick: () => openDialog('ack', a) }, 'Acknowledge'));
  if (a.state !== 'resolved') acts.append(h('button', { type: 'button', class: 'silence', onclick: () => openDialog('silence', a) }, 'Silence'));
  const meta = [`since ${fmtTime(a.started_at_ms)}`];
  if (a.predicted_critical_at_ms) meta.push(`critical at ${fmtTime(a.predicted_critical_at_ms)}`);
  if (a.ack) meta.push(`acknowledged by ${a.ack.by}${a.ack.comment ? ` (“${a.ack.comment}”)` : ''}`);
  if (a.silenced) meta.push('silenced');
  return h('li', { class: 'alert', 'data-id': a.id, 'data-state': a.state, 'data-acked': a.ack ? '1' : '0' },
    h('div', {}, h('span', { class: `state state-${a.state}` }, a.state), ' ', h('span', { class: 'what' }, a.kind.replace(/_/g, ' ')), ' ', where,
      h('div', {}, a.summary)),
    acts, h('div', { class: 'meta' }, meta.join(' · ')));
}

// Alerts about the daemon itself (no seat, no line: its storage, its own health) show as a
// banner above the map: they say what the dashboard cannot show about the room.
function renderBanner() {
  const mine = [...alerts.values()].filter((a) => a.seat == null && a.line == null && a.state !== 'resolved');
  const b = $('daemon-banner');
  b.hidden = !mine.length;
  b.replaceChildren(...mine.map((a) => h('div', { 'data-kind': a.kind }, h('strong', {}, a.kind.replace(/_/g, ' ')), ': ', a.summary)));
}

function renderAlerts() {
  renderBanner();
  const sector = $('f-sector').value, state = $('f-state').value;
  const list = [...alerts.values()]
    .filter((a) => !sector || a.sector === sector)
    .filter((a) => !state || (state === 'open' ? a.state !== 'resolved' : a.state === state))
    .sort((a, b) => (b.state === 'firing') - (a.state === 'firing') || b.started_at_ms - a.started_at_ms);
  $('alerts-count').textContent = String([...alerts.values()].filter((a) => a.state === 'firing').length);
  $('alerts').replaceChildren(...(list.length ? list.slice(0, 200).map(alertItem) : [h('li', { class: 'empty' }, 'no alerts match')]));
}

let dialogFor = null;
function openDialog(mode, a) {
  dialogFor = { mode, alert: a };
  $('dlg-title').textContent = mode === 'ack' ? 'Acknowledge alert' : 'Silence alerts';
  $('dlg-ok').textContent = mode === 'ack' ? 'Acknowledge' : 'Silence';
  $('dlg-what').textContent = `${a.kind.replace(/_/g, ' ')} — ${a.summary}`;
  $('dlg-silence').hidden = mode !== 'silence';
  $('dlg-error').textContent = '';
  $('dlg-by').value = localStorage.getItem('hemiwatch.by') || '';
  $('dlg-comment').value = '';
  $('dlg').showModal();
  ($('dlg-by').value ? $('dlg-comment') : $('dlg-by')).focus();
}

async function submitDialog(ev) {
  ev.preventDefault();
  if (!dialogFor) return;
  const { mode, alert: a } = dialogFor;
  const by = $('dlg-by').value.trim(), comment = $('dlg-comment').value;
  if (!by) { $('dlg-error').textContent = 'Your name is required.'; return; }
  localStorage.setItem('hemiwatch.by', by);
  const token = sessionStorage.getItem('hemiwatch.token') || '';
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let path, body;
  if (mode === 'ack') {
    path = `/api/alerts/${a.id}/ack`;
    body = { by, comment };
  } else {
    const m = $('dlg-match').value;
    const matcher = m === 'sector' ? { kind: a.kind, sector: a.sector } : m === 'seat-any' ? { seat: a.seat } : { seat: a.seat, kind: a.kind };
    path = '/api/silences';
    body = { matcher, duration: $('dlg-duration').value, by, comment };
  }
  $('dlg-ok').disabled = true;
  try {
    const r = await api(path, { method: 'POST', headers, body: JSON.stringify(body) });
    if (mode === 'ack' && r && r.id !== undefined) { alerts.set(r.id, r); renderAlerts(); }
    $('dlg').close();
  } catch (e) {
    $('dlg-error').textContent = e.status === 401 ? `Refused: ${e.message}. Enter the API token at the top.` : `Failed: ${e.message}`;
  } finally {
    $('dlg-ok').disabled = false;
  }
}

// ---- start ---------------------------------------------------------------------------------

function init() {
  const tok = $('token');
  tok.value = sessionStorage.getItem('hemiwatch.token') || '';
  tok.addEventListener('input', () => sessionStorage.setItem('hemiwatch.token', tok.value.trim()));
  $('f-sector').addEventListener('change', renderAlerts);
  $('f-state').addEventListener('change', renderAlerts);
  $('p-close').addEventListener('click', () => {
    const st = seats.get(selected);
    if (st && st.el) { st.el.classList.remove('sel'); st.el.focus(); }
    selected = null;
    $('panel').hidden = true;
  });
  $('dlg-form').addEventListener('submit', submitDialog);
  $('dlg-cancel').addEventListener('click', () => $('dlg').close());
  const map = $('map');
  map.addEventListener('click', (e) => { const id = e.target.dataset && e.target.dataset.id; if (id) select(Number(id)); });
  map.addEventListener('keydown', onMapKey);
  map.addEventListener('focusin', (e) => { const st = seats.get(Number(e.target.dataset && e.target.dataset.id)); if (st) setFocusable(st); });
  load();
}

async function load() {
  let list;
  try {
    list = (await api('/api/seats')).seats;
  } catch (e) {
    $('conn').textContent = `cannot load seats: ${e.message}`;
    $('conn').dataset.state = 'down';
    setTimeout(load, 3000);
    return;
  }
  for (const st of list) {
    seats.set(st.id, { id: st.id, label: st.label, sector: st.sector, row: st.row, position: st.position, status: st.status, temp_c: st.hottest_c ?? null, last_seen_ms: st.last_seen_ms });
  }
  const sectors = [...new Set(list.map((x) => x.sector))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  $('f-sector').append(...sectors.map((k) => h('option', { value: k }, k)));
  const t0 = performance.now();
  drawMap([...seats.values()]);
  drawLegend();
  stats.renderMs = performance.now();
  stats.drawMs = stats.renderMs - t0;
  document.body.dataset.rendered = String(seats.size);
  connect();
  // The open panel's facts follow seat updates (schedulePanel); its chart and events every 5 s.
  setInterval(() => { if (selected !== null) refreshPanel(true); }, 5000);
}

init();
