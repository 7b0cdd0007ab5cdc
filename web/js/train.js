// The Train tab: start a run from uploads or a data folder (fine-tuning the installed base model
// by default, or from scratch), stop and resume it, its curves live from the server's event
// stream, and every run of the runs folder with its curve and checkpoints.
import { $, el, finite, fmt, fmtBytes, fmtPercent, fmtTime, showError, FINAL_STATES, NAME_RE } from './dom.js';
import { api, postForm } from './api.js';
import { ACC_SPEC, LOSS_SPEC, bestEpoch, drawChart, eventText, sortedRows } from './charts.js';
import { composeFrom, loadStyles } from './compose.js';

export const train = { runs: [], watched: null, base: null, baseShown: false };

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

export async function loadData() {
  const { folders, base } = await api('/api/data');
  const select = $('train-folder');
  select.replaceChildren(...folders.map((f) => el('option', { value: f.name, text: `${f.name} (${f.files} files)` })));
  const radio = $('source-folder');
  radio.disabled = !folders.length;
  radio.parentElement.title = folders.length ? '' : 'The server has no data folder (start it with --data DIR).';
  train.base = base || null;
  const scratch = $('from-scratch');
  scratch.disabled = !base;
  if (!base) scratch.checked = true;
  else if (!train.baseShown) scratch.checked = false;  // fine-tuning is the default once a base is there
  train.baseShown = !!base;
  renderBase();
}

// Start from: the installed base model (fine-tuning: the music becomes a new style of it) or
// nothing (a new model of the chosen preset and tokenizer).
function renderBase() {
  const base = train.base, scratch = $('from-scratch').checked;
  const n = base ? (base.styles || []).length : 0;
  $('base-info').textContent = !base
    ? 'No base model is installed (piano.safetensors in the server\'s models folder): this run trains from scratch.'
    : scratch ? `Training from scratch: a new model of the preset and tokenizer below (not ${base.name}).`
      : `Fine-tunes the base model ${base.name}${n ? ` (${n} styles)` : ''}: your music becomes a new style of it, ` +
        'and it keeps composing the others. Its network and tokenizer are kept.';
  for (const id of ['preset', 'tokenizer']) $(id).disabled = !!base && !scratch;
  $('preset-hint').hidden = !base || scratch;
}
$('from-scratch').addEventListener('change', renderBase);

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
  if (train.base && !$('from-scratch').checked) {
    form.append('from', train.base.name);
  } else {
    form.append('preset', $('preset').value);
    form.append('tokenizer', $('tokenizer').value);
  }
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
export function watch(run) {
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
export async function loadRuns() {
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
    facts.textContent = [run.from ? `fine-tuned from ${run.from}` : run.preset, run.tokenizer, `${rows.length} epochs`,
      bestRow ? `best epoch ${best} (validation loss ${fmt(bestRow.val_loss)})` : null,
      run.started ? `started ${new Date(run.started).toLocaleString()}` : null].filter(Boolean).join(' · ');
    canvas.setAttribute('aria-label', `Loss of ${run.name}: ${rows.length} epochs${bestRow ? `, best epoch ${best}` : ''}`);
    if (!$('panel-train').hidden) drawChart(canvas, rows, { series: LOSS_SPEC.series, best });
  };
  item.runName = run.name;
  return item;
}

export function redrawTrain() {
  renderMonitor();
  for (const item of $('runs').children) if (item.refresh) item.refresh();
}
document.addEventListener('etude:redraw', redrawTrain);
$('runs-refresh').addEventListener('click', () => loadRuns().catch((e) => showError($('train-error'), e)));
