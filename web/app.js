// The Etude page's behaviour: the Compose tab (styles, sampling settings, primer upload, piano
// roll with a play cursor synced to the audio, downloads, originality) and the Train tab (start,
// stop and resume runs, live curves from the server's event stream, the list of runs).
'use strict';

const $ = (id) => document.getElementById(id);
const FINAL_STATES = ['finished', 'failed', 'stopped'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

// ---------------------------------------------------------------- helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) node.append(c);
  return node;
}
const finite = (x) => typeof x === 'number' && Number.isFinite(x);
function fmt(x, digits = 3) {
  if (!finite(x)) return '–';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}
function fmtTime(s) {
  if (!finite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s - m * 60)).padStart(2, '0')}`;
}
const fmtPercent = (x) => (finite(x) ? `${(100 * x).toFixed(1)}%` : '–');
const fmtBytes = (n) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

function showError(node, err) {
  node.textContent = err ? (err.message || String(err)) : '';
  node.hidden = !err;
}

// ---------------------------------------------------------------- the API
class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, options);
  } catch (e) {
    throw new ApiError('The server does not answer: is `etude serve` still running?', 0);
  }
  const type = res.headers.get('content-type') || '';
  let body = null;
  if (type.includes('application/json')) body = await res.json().catch(() => null);
  if (!res.ok) {
    let msg = body && body.error ? body.error : `The server answered ${res.status} ${res.statusText}.`;
    if (res.status === 413 && !(body && body.error)) msg = 'The upload is too large (at most 64 files, 2 MiB each, 32 MiB in all; a primer at most 1 MiB).';
    if (res.status === 503) {
      const after = res.headers.get('retry-after');
      msg += ` The server is busy${after ? `: try again in ${after} s` : ''}.`;
    }
    throw new ApiError(msg, res.status);
  }
  return body;
}
const postJson = (path, obj) =>
  api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(obj) });
const postForm = (path, form) => api(path, { method: 'POST', body: form });

// ---------------------------------------------------------------- canvases
// Sizes a canvas to its CSS box at the screen's pixel density; returns a context in CSS pixels.
function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, canvas.clientWidth), h = Math.max(1, canvas.clientHeight);
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

const BLACK_KEYS = new Set([1, 3, 6, 8, 10]);

// The piano roll: one bar per note, [pitch, start, end, velocity]; black-key rows shaded.
function drawRoll(canvas, roll, total) {
  const { ctx, w, h } = fitCanvas(canvas);
  let lo = 127, hi = 0;
  for (const [p] of roll) { lo = Math.min(lo, p); hi = Math.max(hi, p); }
  if (lo > hi) { lo = 48; hi = 72; }
  const mid = (lo + hi) / 2;
  const span = Math.max(hi - lo + 4, 24);
  lo = Math.max(0, Math.floor(mid - span / 2));
  hi = Math.min(127, lo + span);
  const rows = hi - lo + 1, rowH = h / rows, label = 30;
  const xOf = (t) => label + (t / total) * (w - label);
  ctx.font = '10px system-ui, sans-serif';
  for (let p = lo; p <= hi; p++) {
    const y = (hi - p) * rowH;
    if (BLACK_KEYS.has(p % 12)) { ctx.fillStyle = '#262d36'; ctx.fillRect(label, y, w - label, rowH); }
    if (p % 12 === 0) {
      ctx.fillStyle = '#3b4552'; ctx.fillRect(label, y + rowH - 1, w - label, 1);
      ctx.fillStyle = '#c9d1d9'; ctx.fillText(`C${p / 12 - 1}`, 2, y + rowH - 1);
    }
  }
  const every = [1, 2, 5, 10, 15, 30, 60, 120].find((s) => ((w - label) * s) / total >= 48) || 300;
  ctx.fillStyle = '#8b949e';
  for (let t = every; t < total; t += every) {
    ctx.fillRect(xOf(t), 0, 1, h);
    ctx.fillText(fmtTime(t), xOf(t) + 3, h - 3);
  }
  for (const [p, start, end, vel] of roll) {
    const x = xOf(start), y = (hi - p) * rowH;
    ctx.fillStyle = `hsl(${200 - vel}, 80%, ${45 + vel / 6}%)`;
    ctx.fillRect(x, y + 0.5, Math.max(1.5, xOf(end) - x), Math.max(1.5, rowH - 1));
  }
  return { label, total };
}

const eventText = (r) => (Array.isArray(r.events) ? r.events.join('; ') : String(r.events || ''));
const isCheckpoint = (r) => eventText(r).includes('checkpoint');

// A line chart of epoch rows: series are lines with dots, the best epoch a shaded band,
// checkpoints dashed lines, `points` (the copy measure) diamonds at checkpoints.
function drawChart(canvas, rows, spec) {
  const { ctx, w, h } = fitCanvas(canvas);
  const small = h < 150;
  const pad = { l: 46, r: 10, t: small ? 6 : 18, b: 20 };
  const values = [];
  for (const r of rows) for (const s of [...spec.series, ...(spec.points || [])]) if (finite(r[s.key])) values.push(r[s.key]);
  canvas.dataset.points = String(rows.length);
  ctx.font = '11px system-ui, sans-serif';
  if (!values.length) {
    ctx.fillStyle = '#555d66';
    ctx.fillText(rows.length ? 'no values yet' : 'waiting for the first epoch…', pad.l, h / 2);
    return;
  }
  const epochs = rows.map((r) => r.epoch);
  let x0 = Math.min(...epochs), x1 = Math.max(...epochs);
  const xm = x0 === x1 ? 1 : Math.max(0.3, (x1 - x0) * 0.03);
  x0 -= xm; x1 += xm;
  let y0 = Math.min(...values), y1 = Math.max(...values);
  if (y0 === y1) { y0 -= 0.5 * Math.abs(y0 || 1); y1 += 0.5 * Math.abs(y1 || 1); }
  const m = (y1 - y0) * 0.08; y0 -= m; y1 += m;
  if (spec.percent) { y0 = Math.max(0, y0); y1 = Math.min(1, y1); }
  const X = (e) => pad.l + ((e - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - (v - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  ctx.strokeStyle = '#e5e0d4'; ctx.fillStyle = '#555d66'; ctx.lineWidth = 1;
  for (let i = 0; i <= (small ? 2 : 4); i++) {
    const v = y0 + ((y1 - y0) * i) / (small ? 2 : 4), y = Y(v);
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(w - pad.r, y); ctx.stroke();
    ctx.fillText(spec.percent ? fmtPercent(v) : v.toPrecision(3), 2, y + 4);
  }
  const step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((s) => (x1 - x0) / s <= 8) || 2000;
  for (let e = Math.max(step, Math.ceil(x0 / step) * step); e <= x1; e += step) ctx.fillText(String(e), X(e) - 3, h - 5);
  if (finite(spec.best)) {
    ctx.fillStyle = 'rgba(234, 179, 8, 0.35)';
    const bw = Math.min(24, Math.max(8, (w - pad.l - pad.r) / (x1 - x0) / 2));
    ctx.fillRect(X(spec.best) - bw / 2, pad.t, bw, h - pad.t - pad.b);
    if (!small) { ctx.fillStyle = '#7a5c00'; ctx.fillText('best', X(spec.best) - 10, pad.t + 10); }
  }
  ctx.strokeStyle = '#8a8f96'; ctx.setLineDash([3, 3]);
  for (const r of rows.filter(isCheckpoint)) {
    ctx.beginPath(); ctx.moveTo(X(r.epoch), pad.t); ctx.lineTo(X(r.epoch), h - pad.b); ctx.stroke();
  }
  ctx.setLineDash([]);
  for (const s of spec.series) {
    const pts = rows.filter((r) => finite(r[s.key]));
    ctx.strokeStyle = ctx.fillStyle = s.color; ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((r, i) => (i ? ctx.lineTo(X(r.epoch), Y(r[s.key])) : ctx.moveTo(X(r.epoch), Y(r[s.key]))));
    ctx.stroke();
    for (const r of pts) { ctx.beginPath(); ctx.arc(X(r.epoch), Y(r[s.key]), 3, 0, 2 * Math.PI); ctx.fill(); }
  }
  for (const s of spec.points || []) {
    ctx.fillStyle = s.color;
    for (const r of rows) {
      if (!finite(r[s.key]) || !isCheckpoint(r)) continue;
      const x = X(r.epoch), y = Y(r[s.key]);
      ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5); ctx.lineTo(x - 5, y); ctx.fill();
    }
  }
  if (!small) {
    let x = w - pad.r;
    for (const s of [...spec.series, ...(spec.points || [])].reverse()) {
      x -= ctx.measureText(s.label).width + 18;
      ctx.fillStyle = s.color; ctx.fillRect(x, 5, 10, 10);
      ctx.fillStyle = '#1d232b'; ctx.fillText(s.label, x + 13, 14);
    }
  }
}

const LOSS_SPEC = { series: [{ key: 'train_loss', label: 'train', color: '#2b4c7e' }, { key: 'val_loss', label: 'validation', color: '#c2410c' }] };
const ACC_SPEC = {
  percent: true,
  series: [{ key: 'train_accuracy', label: 'train', color: '#2b4c7e' }, { key: 'val_accuracy', label: 'validation', color: '#c2410c' }],
  points: [{ key: 'copied_share', label: 'copied', color: '#7c3aed' }],
};
// The epoch of the lowest validation loss (the server's best_epoch while no rows carry one).
function bestEpoch(run, rows) {
  let best = null;
  for (const r of rows) if (finite(r.val_loss) && (!best || r.val_loss < best.val_loss)) best = r;
  if (best) return best.epoch;
  return run && finite(run.best_epoch) && run.best_epoch > 0 ? run.best_epoch : null;
}
// History rows by epoch; a negative copied_share means "not measured in this epoch".
const sortedRows = (history) => (history || [])
  .map((r) => (finite(r.copied_share) && r.copied_share >= 0 ? r : { ...r, copied_share: null }))
  .sort((a, b) => a.epoch - b.epoch);

// ---------------------------------------------------------------- tabs
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  redrawVisible();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const target = tabs[(next + tabs.length) % tabs.length];
    selectTab(target);
    target.focus();
  });
});

// ---------------------------------------------------------------- compose tab
const compose = { styles: [], pieces: [], piece: null, primer: null, rollGeom: null, frame: 0 };
const styleSelect = $('style'), audio = $('audio');

// Option values: "style:NAME" (models folder) or "run:NAME:CHECKPOINT".
function styleRequest(value) {
  const [kind, name, checkpoint] = value.split(':');
  return kind === 'run' ? { run: name, checkpoint } : { style: name };
}

async function loadStyles() {
  const keep = styleSelect.value;
  const { styles } = await api('/api/styles');
  compose.styles = styles;
  const extra = [...styleSelect.querySelectorAll('optgroup[data-kind="checkpoints"] option')];
  styleSelect.replaceChildren();
  const groups = { models: el('optgroup', { label: 'Models' }), run: el('optgroup', { label: 'Training runs' }) };
  for (const s of styles) {
    const run = s.source === 'run';
    const opt = el('option', { value: run ? `run:${s.name}:best` : `style:${s.name}`, disabled: !!s.error,
      text: s.error ? `${s.name} (unreadable)` : s.name });
    groups[run ? 'run' : 'models'].append(opt);
  }
  for (const g of Object.values(groups)) if (g.children.length) styleSelect.append(g);
  if (extra.length) styleSelect.append(el('optgroup', { label: 'Checkpoints', 'data-kind': 'checkpoints' }, ...extra));
  if (!styleSelect.options.length) {
    styleSelect.append(el('option', { value: '', disabled: true, text: 'no styles yet: train one' }));
  }
  const usable = [...styleSelect.options].filter((o) => !o.disabled);
  styleSelect.value = usable.some((o) => o.value === keep) ? keep : (usable[0] ? usable[0].value : '');
  $('compose-button').disabled = !usable.length;
  renderStyleCard();
}

const CARD_LABELS = {
  preset: 'preset', tokenizer: 'tokenizer', styles: 'learned from', corpus: 'corpus', epoch: 'epochs trained',
  best_epoch: 'best epoch', val_loss: 'validation loss', val_accuracy: 'validation accuracy',
  train_loss: 'training loss', train_pieces: 'training pieces', validation_pieces: 'validation pieces',
  copied_share: 'copied share', seconds: 'training time', seed: 'seed',
};
const CARD_MAIN = ['styles', 'preset', 'epoch', 'best_epoch', 'val_loss', 'val_accuracy', 'copied_share'];
function cardValue(key, v) {
  if (key === 'copied_share' && v < 0) return 'not measured';
  if (key === 'copied_share' || key.endsWith('accuracy')) return fmtPercent(v);
  if (key === 'seconds' && finite(v)) return v < 120 ? `${v.toFixed(1)} s` : `${(v / 60).toFixed(1)} min`;
  if (Array.isArray(v)) return v.join(', ');
  if (v && typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'number' ? fmt(v, 3) : String(v);
}
function factList(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: v }));
  return dl;
}
function renderStyleCard() {
  const box = $('style-card');
  box.replaceChildren();
  const value = styleSelect.value;
  if (!value) return;
  const req = styleRequest(value);
  const name = req.style || req.run;
  const s = compose.styles.find((x) => x.name === name && (x.source === 'run') === !!req.run);
  if (req.run && req.checkpoint !== 'best') {
    box.append(el('p', { class: 'muted', text: `Checkpoint ${req.checkpoint} of run ${req.run} (its curves are on the Train tab).` }));
    return;
  }
  if (!s) return;
  if (s.error) { box.append(el('p', { class: 'error', text: s.error })); return; }
  const card = { source: s.source === 'run' ? 'training run' : 'models folder', tokenizer: s.tokenizer, ...(s.card || {}) };
  const fact = (k) => [CARD_LABELS[k] || k.replace(/_/g, ' '), cardValue(k, card[k])];
  const shown = Object.keys(card).filter((k) => card[k] !== null && card[k] !== undefined && card[k] !== '');
  box.append(factList(CARD_MAIN.filter((k) => shown.includes(k)).map(fact)));
  const rest = shown.filter((k) => !CARD_MAIN.includes(k)).map(fact);
  if (rest.length) box.append(el('details', {}, el('summary', { text: 'Full model card' }), factList(rest)));
}
styleSelect.addEventListener('change', renderStyleCard);

function bindOutput(id, show) {
  const input = $(id), out = $(`${id}-out`);
  const update = () => { out.textContent = show(Number(input.value)); };
  input.addEventListener('input', update);
  update();
}
bindOutput('length', (v) => String(v));
bindOutput('temperature', (v) => v.toFixed(2));
bindOutput('top-p', (v) => v.toFixed(2));
bindOutput('primer-seconds', (v) => (v ? `${v} s` : 'all'));

function composeRequest() {
  const req = styleRequest(styleSelect.value);
  req.length = Number($('length').value);
  req.temperature = Number($('temperature').value);
  req.top_p = Number($('top-p').value);
  req.count = Number($('count').value) || 1;
  const seed = $('seed').value.trim();
  if (seed !== '') {
    if (!/^\d+$/.test(seed)) throw new ApiError('The seed must be a whole number of 0 or more (or empty for a random one).');
    req.seed = Number(seed);
  }
  if (compose.primer) {
    req.primer = compose.primer.id;
    req.primer_seconds = Number($('primer-seconds').value);
  }
  return req;
}

async function composePiece() {
  const button = $('compose-button'), error = $('compose-error');
  showError(error, null);
  if (!styleSelect.value) { showError(error, new Error('Choose a style first (or train one on the Train tab).')); return; }
  button.disabled = true;
  button.textContent = 'Composing…';
  $('panel-compose').setAttribute('aria-busy', 'true');
  try {
    const { pieces } = await postJson('/api/compose', composeRequest());
    compose.pieces.unshift(...pieces);
    compose.pieces.splice(12);
    showPiece(pieces[0]);
    $('compose-status').textContent = `Composed ${pieces.length} piece${pieces.length > 1 ? 's' : ''}: ` +
      `${pieces[0].style}, seed ${pieces[0].seed}, ${pieces[0].notes} notes, ${fmtTime(pieces[0].seconds)}.`;
  } catch (e) {
    showError(error, e);
  } finally {
    button.disabled = false;
    button.textContent = 'Compose';
    $('panel-compose').removeAttribute('aria-busy');
  }
}
$('compose-form').addEventListener('submit', (e) => { e.preventDefault(); composePiece(); });

function renderPieceList() {
  const list = $('piece-list');
  list.replaceChildren(...compose.pieces.map((p) => el('button', {
    type: 'button', 'aria-pressed': String(p === compose.piece), text: `${p.style} · seed ${p.seed}`,
    onclick: () => showPiece(p),
  })));
}

function originalityText(report) {
  const c = report && report.copying;
  if (!c) return 'This model carries no n-gram index of its training pieces: copying was not measured.';
  const from = c.longest_copied_piece ? ` (from ${c.longest_copied_piece})` : '';
  return `Longest copied phrase: ${c.longest_copied_run} notes${from}; ` +
    `${fmtPercent(c.copied_ngram_share)} of its ${c.ngram}-note runs appear in the training pieces.`;
}

function showPiece(piece) {
  compose.piece = piece;
  stopCursor();
  $('piece-empty').hidden = true;
  $('piece').hidden = false;
  $('piece-title').textContent = `${piece.style} · seed ${piece.seed}`;
  $('piece-facts').textContent = `${piece.notes} notes · ${fmtTime(piece.seconds)} · ${piece.tokens} tokens · ` +
    `${piece.repairs} repairs`;
  const f = piece.files || {};
  const ext = { midi: 'mid', wav: 'wav', pdf: 'pdf', report: 'json' };
  for (const k of ['midi', 'wav', 'pdf', 'svg', 'report']) {
    const link = $(`dl-${k}`);
    link.href = f[k] || '#';
    if (ext[k]) link.download = `etude-${piece.style}-${piece.seed}${k === 'report' ? '-report' : ''}.${ext[k]}`;
  }
  $('originality').textContent = originalityText(piece.report);
  const r = piece.report || {};
  const pairs = [['summary', piece.summary || '']];
  if (r.key) pairs.push(['key', `${r.key.name} (r = ${fmt(r.key.correlation, 2)})`]);
  if (r.pitch_range) pairs.push(['range', `${r.pitch_range.lowest_name}–${r.pitch_range.highest_name}`]);
  if (r.longest_repeated_token) pairs.push(['longest repeat', `${r.longest_repeated_token.length} × ${r.longest_repeated_token.token}`]);
  $('report').replaceWith(Object.assign(factList(pairs), { id: 'report' }));
  $('roll').setAttribute('aria-label', `Piano roll of ${piece.notes} notes over ${fmtTime(piece.seconds)}`);
  drawCurrentRoll();
  $('play').disabled = true;
  $('play').textContent = 'Play';
  audio.src = f.wav;
  audio.load();
  renderPieceList();
  updateCursor();
}

function drawCurrentRoll() {
  const p = compose.piece;
  if (!p || $('piece').hidden || $('panel-compose').hidden) return;
  const lastEnd = (p.roll || []).reduce((m, n) => Math.max(m, n[2]), 0);
  compose.rollGeom = drawRoll($('roll'), p.roll || [], Math.max(p.seconds || 0, lastEnd, 0.1));
  updateCursor();
}

function updateCursor() {
  const g = compose.rollGeom, canvas = $('roll');
  const t = audio.currentTime || 0;
  $('clock').textContent = `${fmtTime(t)} / ${fmtTime(audio.duration || (compose.piece && compose.piece.seconds))}`;
  if (!g) return;
  const x = g.label + Math.min(1, t / g.total) * (canvas.clientWidth - g.label);
  $('cursor').style.transform = `translateX(${x}px)`;
}
function cursorLoop() { updateCursor(); compose.frame = requestAnimationFrame(cursorLoop); }
function stopCursor() { cancelAnimationFrame(compose.frame); compose.frame = 0; }

audio.addEventListener('play', () => { $('play').textContent = 'Pause'; if (!compose.frame) cursorLoop(); });
audio.addEventListener('pause', () => { $('play').textContent = 'Play'; stopCursor(); updateCursor(); });
audio.addEventListener('ended', () => { $('play').textContent = 'Play'; stopCursor(); updateCursor(); });
for (const ev of ['seeked', 'timeupdate', 'loadedmetadata']) audio.addEventListener(ev, updateCursor);
audio.addEventListener('canplay', () => { $('play').disabled = false; });
audio.addEventListener('error', () => {
  if (!audio.getAttribute('src')) return;
  showError($('compose-error'), new Error('The audio could not be loaded (the server renders it with FluidSynth; see its log).'));
});
$('play').addEventListener('click', () => {
  if (audio.paused) audio.play().catch((e) => showError($('compose-error'), e));
  else audio.pause();
});
$('roll').addEventListener('click', (e) => {
  const g = compose.rollGeom;
  if (!g || !audio.duration) return;
  const rect = e.currentTarget.getBoundingClientRect();
  const share = (e.clientX - rect.left - g.label) / (rect.width - g.label);
  audio.currentTime = Math.max(0, Math.min(audio.duration, share * g.total));
});

// Continue my MIDI: the primer is uploaded as soon as it is chosen.
$('primer-file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  const error = $('compose-error');
  showError(error, null);
  compose.primer = null;
  $('primer-clear').hidden = true;
  if (!file) { $('primer-info').textContent = 'No primer: pieces start from silence.'; return; }
  $('primer-info').textContent = `Uploading ${file.name}…`;
  const form = new FormData();
  form.append('file', file, file.name);
  try {
    const p = await postForm('/api/primers', form);
    compose.primer = p;
    const slider = $('primer-seconds');
    slider.max = String(Math.max(1, Math.ceil(Math.min(p.seconds, 300))));
    $('primer-info').textContent = `Primer ${file.name}: ${p.notes} notes, ${fmtTime(p.seconds)}. The next pieces continue it.`;
    $('primer-clear').hidden = false;
  } catch (err) {
    e.target.value = '';
    $('primer-info').textContent = 'No primer: pieces start from silence.';
    showError(error, err);
  }
});
$('primer-clear').addEventListener('click', () => {
  compose.primer = null;
  $('primer-file').value = '';
  $('primer-clear').hidden = true;
  $('primer-info').textContent = 'No primer: pieces start from silence.';
  $('primer-file').focus();
});

// Selects a run's checkpoint as the style, switches to Compose and composes.
function composeFrom(run, checkpoint) {
  const value = `run:${run}:${checkpoint}`;
  if (![...styleSelect.options].some((o) => o.value === value)) {
    let group = styleSelect.querySelector('optgroup[data-kind="checkpoints"]');
    if (!group) styleSelect.append(group = el('optgroup', { label: 'Checkpoints', 'data-kind': 'checkpoints' }));
    group.append(el('option', { value, text: `${run} @ ${checkpoint}` }));
  }
  styleSelect.value = value;
  $('compose-button').disabled = false;
  renderStyleCard();
  selectTab($('tab-compose'));
  $('compose-button').focus();
  composePiece();
}

// ---------------------------------------------------------------- train tab
const train = { runs: [], watched: null };

for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener('change', () => {
    const folder = document.querySelector('input[name="source"]:checked').value === 'folder';
    $('source-files').hidden = folder;
    $('source-folder-box').hidden = !folder;
  });
}
$('train-files').addEventListener('change', (e) => {
  const files = [...e.target.files];
  const bytes = files.reduce((s, f) => s + f.size, 0);
  $('train-files-info').textContent = files.length
    ? `${files.length} file${files.length > 1 ? 's' : ''}, ${fmtBytes(bytes)}.` : 'At most 64 files, 2 MiB each.';
});

async function loadData() {
  const { folders } = await api('/api/data');
  const select = $('train-folder');
  select.replaceChildren(...folders.map((f) => el('option', { value: f.name, text: `${f.name} (${f.files} files)` })));
  const radio = $('source-folder');
  radio.disabled = !folders.length;
  radio.parentElement.title = folders.length ? '' : 'The server has no data folder (start it with --data DIR).';
}

$('train-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const error = $('train-error'), button = $('train-button');
  showError(error, null);
  const name = $('run-name').value.trim();
  const folder = document.querySelector('input[name="source"]:checked').value === 'folder';
  const files = [...$('train-files').files];
  const minutes = Number($('minutes').value);
  let problem = null;
  if (!NAME_RE.test(name)) problem = 'Give the style a name: letters, digits, - and _, at most 64, starting with a letter or digit.';
  else if (folder && !$('train-folder').value) problem = 'Choose a folder (the server has none: start it with --data DIR).';
  else if (!folder && !files.length) problem = 'Choose one or more MIDI files to learn from.';
  else if (!(minutes >= 0.1 && minutes <= 120)) problem = 'The time budget must be between 0.1 and 120 minutes.';
  if (problem) { showError(error, new Error(problem)); return; }
  const form = new FormData();
  form.append('name', name);
  form.append('preset', $('preset').value);
  form.append('tokenizer', $('tokenizer').value);
  form.append('minutes', String(minutes));
  if (folder) form.append('folder', $('train-folder').value);
  else for (const f of files) form.append('files', f, f.name);
  button.disabled = true;
  try {
    const { run } = await postForm('/api/runs', form);
    watch(run);
    loadRuns().catch((err) => showError(error, err));
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
  }
});

// The monitor: one run's state, progress and curves, live from its event stream.
function watch(run) {
  const old = train.watched;
  if (old && old.source) old.source.close();
  const w = { run, rows: new Map(), source: null, progress: null };
  for (const r of run.history || []) w.rows.set(r.epoch, r);
  train.watched = w;
  $('monitor').hidden = false;
  $('monitor-title').textContent = `Run ${run.name}`;
  renderMonitor();
  if (!FINAL_STATES.includes(run.state)) connect(w);
}

function connect(w) {
  const source = new EventSource(`/api/runs/${encodeURIComponent(w.run.name)}/events`);
  w.source = source;
  source.addEventListener('progress', (e) => { w.progress = JSON.parse(e.data); renderProgress(); });
  source.addEventListener('epoch', (e) => {
    const row = JSON.parse(e.data);
    w.rows.set(row.epoch, row);
    w.run.epoch = Math.max(w.run.epoch || 0, row.epoch);
    w.progress = null;
    renderMonitor();
  });
  source.addEventListener('state', (e) => {
    const s = JSON.parse(e.data);
    const changed = s.state !== w.run.state;
    w.run.state = s.state;
    w.run.message = s.message || '';
    if (FINAL_STATES.includes(s.state)) { source.close(); w.progress = null; finished(w); }
    else if (changed) loadRuns().catch((err) => showError($('train-error'), err));
    renderMonitor();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && train.watched === w && !FINAL_STATES.includes(w.run.state)) {
      $('monitor-message').textContent = 'The event stream closed; press Refresh to see the run again.';
    }
  };
}

// A run ended: fetch its final record (best epoch, checkpoints), refresh styles and runs.
async function finished(w) {
  try {
    const run = await api(`/api/runs/${encodeURIComponent(w.run.name)}`);
    if (train.watched === w) { w.run = run; for (const r of run.history || []) w.rows.set(r.epoch, r); }
    await Promise.all([loadStyles(), loadRuns()]);
  } catch (e) {
    showError($('train-error'), e);
  }
  renderMonitor();
}

function renderProgress() {
  const w = train.watched;
  const p = w && w.progress;
  const bar = $('monitor-progress');
  bar.hidden = !w || FINAL_STATES.includes(w.run.state);
  if (!p || !p.batches) bar.removeAttribute('value');
  else { bar.max = p.batches; bar.value = p.batch; }
  const parts = [];
  if (w && w.rows.size) parts.push(`${w.rows.size} epoch${w.rows.size > 1 ? 's' : ''} done`);
  if (p) {
    parts.push(`epoch ${p.epoch || (w.run.epoch || 0) + 1}: batch ${p.batch}/${p.batches}`, `loss ${fmt(p.loss, 3)}`,
      `${Math.round(p.tokens_per_second || 0)} tokens/s`);
    if (finite(p.eta_seconds)) parts.push(`about ${fmtTime(p.eta_seconds)} left`);
  }
  $('monitor-facts').textContent = parts.join(' · ');
}

function renderMonitor() {
  const w = train.watched;
  if (!w) return;
  const run = w.run, rows = sortedRows([...w.rows.values()]);
  const state = $('monitor-state');
  state.textContent = run.state;
  state.className = `badge ${run.state}`;
  $('monitor-message').textContent = run.message || '';
  const active = !FINAL_STATES.includes(run.state);
  $('stop').disabled = !active;
  $('resume').disabled = active;
  const ready = !active && (run.checkpoints || []).includes('best');
  $('compose-run').hidden = !ready;
  renderProgress();
  if (!$('panel-train').hidden) {
    const best = bestEpoch(run, rows);
    drawChart($('chart-loss'), rows, { ...LOSS_SPEC, best });
    drawChart($('chart-accuracy'), rows, { ...ACC_SPEC, best });
    const bestRow = rows.find((r) => r.epoch === best);
    $('chart-loss').setAttribute('aria-label', `Loss per epoch: ${rows.length} epochs` +
      (bestRow ? `, best epoch ${best} (validation loss ${fmt(bestRow.val_loss)})` : ''));
  }
  const item = [...$('runs').children].find((i) => i.runName === run.name);
  if (item) item.refresh();
  $('history-table').tBodies[0].replaceChildren(...rows.map((r) => el('tr', {},
    ...[r.epoch, fmt(r.train_loss), fmt(r.val_loss), fmtPercent(r.train_accuracy), fmtPercent(r.val_accuracy),
      fmtPercent(r.copied_share), eventText(r)].map((v) => el('td', { text: String(v) })))));
}

async function runAction(action) {
  const w = train.watched;
  if (!w) return;
  const error = $('train-error');
  showError(error, null);
  try {
    const run = await api(`/api/runs/${encodeURIComponent(w.run.name)}/${action}`, { method: 'POST' });
    if (action === 'resume') {
      watch(run);
      loadRuns().catch((e) => showError(error, e));
      return;
    }
    w.run.state = run.state;
    w.run.message = run.message || 'Stopping: the epoch in progress is being saved…';
    if (FINAL_STATES.includes(run.state)) {
      if (w.source) w.source.close();
      finished(w);
    }
    renderMonitor();
  } catch (e) {
    showError(error, e);
  }
}
$('stop').addEventListener('click', () => runAction('stop'));
$('resume').addEventListener('click', () => runAction('resume'));
$('compose-run').addEventListener('click', () => composeFrom(train.watched.run.name, 'best'));

// Every run in the runs folder, with its curve, best epoch and checkpoints.
async function loadRuns() {
  const { runs } = await api('/api/runs');
  train.runs = runs;
  renderRuns();
  return runs;
}

function renderRuns() {
  const box = $('runs');
  if (!train.runs.length) { box.replaceChildren(el('p', { class: 'muted', text: 'No runs yet.' })); return; }
  box.replaceChildren(...train.runs.map(runItem));
  for (const item of box.children) item.refresh();
}

// One run of the list; refresh() redraws it from the monitor's live rows when it is the watched run.
function runItem(run) {
  const checkpoints = run.checkpoints || [];
  const select = el('select', { 'aria-label': `Checkpoint of ${run.name}` },
    ...checkpoints.map((c) => el('option', { value: c, text: c })));
  const badge = el('span'), facts = el('p', { class: 'muted' }), canvas = el('canvas', { class: 'chart', role: 'img' });
  const plots = Object.entries(run.plots || {}).flatMap(([k, href]) => [' ', el('a', { href, target: '_blank', rel: 'noopener', text: k })]);
  const item = el('article', { class: 'run', 'aria-label': `Run ${run.name}` },
    el('div', {},
      el('h3', {}, `${run.name} `, badge),
      facts,
      run.message ? el('p', { class: 'muted', text: run.message }) : '',
      plots.length ? el('p', { class: 'muted' }, 'Plots (PNG):', ...plots) : '',
      el('div', { class: 'buttons' },
        el('button', { type: 'button', text: 'Show curves', onclick: () => { watch(run); $('monitor-title').scrollIntoView({ block: 'nearest' }); } }),
        checkpoints.length ? select : el('span', { class: 'muted', text: 'no checkpoints yet' }),
        el('button', { type: 'button', class: 'primary', disabled: !checkpoints.length, text: 'Compose from this checkpoint',
          onclick: () => composeFrom(run.name, select.value) }))),
    canvas);
  item.refresh = () => {
    const w = train.watched && train.watched.run.name === run.name ? train.watched : null;
    const rows = w ? sortedRows([...w.rows.values()]) : sortedRows(run.history);
    const state = w ? w.run.state : run.state;
    const best = bestEpoch(run, rows), bestRow = rows.find((r) => r.epoch === best);
    badge.textContent = state;
    badge.className = `badge ${state}`;
    facts.textContent = [run.preset, run.tokenizer, `${rows.length} epochs`,
      bestRow ? `best epoch ${best} (validation loss ${fmt(bestRow.val_loss)})` : null,
      run.started ? `started ${new Date(run.started).toLocaleString()}` : null].filter(Boolean).join(' · ');
    canvas.setAttribute('aria-label', `Loss of ${run.name}: ${rows.length} epochs${bestRow ? `, best epoch ${best}` : ''}`);
    if (!$('panel-train').hidden) drawChart(canvas, rows, { series: LOSS_SPEC.series, best });
  };
  item.runName = run.name;
  return item;
}

// ---------------------------------------------------------------- start
function redrawVisible() {
  drawCurrentRoll();
  renderMonitor();
  for (const item of $('runs').children) if (item.refresh) item.refresh();
}
let resizeTimer = 0;
window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redrawVisible, 100); });
$('runs-refresh').addEventListener('click', () => loadRuns().catch((e) => showError($('train-error'), e)));

async function start() {
  const fatal = $('fatal');
  try {
    const health = await api('/api/health');
    $('server-version').textContent = health.version ? `version ${health.version}` : '';
    const [, , runs] = await Promise.all([loadStyles(), loadData(), loadRuns()]);
    const active = runs.find((r) => !FINAL_STATES.includes(r.state));
    if (active) watch(active);
  } catch (e) {
    showError(fatal, e);
    fatal.hidden = false;
    $('main').prepend(fatal);
  }
}
start();
