// The Compose tab: the style drop-down (model files, every style row of a conditioned model,
// training runs and their rows, checkpoints), the blend of two styles of one model, sampling
// settings, the primer upload, the piano roll with a play cursor synced to the audio, downloads
// and the originality report.
import { $, el, fmt, fmtTime, fmtPercent, showError, factList, bindOutput } from './dom.js';
import { ApiError, api, postForm, postJson } from './api.js';
import { drawRoll } from './charts.js';
import { settings } from './settings.js';
import { selectTab } from './tabs.js';

export const compose = {
  styles: [], pieces: [], piece: null, primer: null, rollGeom: null, frame: 0,
  choices: new Map(),  // option value -> {request, model: the model entry, row: the style row or null}
};
const styleSelect = $('style'), audio = $('audio');
const lower = (s) => String(s).toLowerCase();

// Option values: "style:MODEL" (a model file without style rows), "row:models:MODEL:ROW" (a style
// row of a model file), "run:RUN:CHECKPOINT", "row:run:RUN:ROW" (a style row of a run's best model).
const part = encodeURIComponent;
function addChoice(value, request, model, row) {
  compose.choices.set(value, { request, model, row });
  return value;
}

// The rows of a run that no installed model has (its own styles, after fine-tuning) come first.
function ownRowsFirst(rows, installed) {
  const own = rows.filter((r) => !installed.has(lower(r)));
  return [...own, ...rows.filter((r) => installed.has(lower(r)))];
}

export async function loadStyles() {
  const keep = styleSelect.value;
  const { styles } = await api('/api/styles');
  compose.styles = styles;
  const extra = [...styleSelect.querySelectorAll('optgroup[data-kind="checkpoints"] option')];
  const extraChoices = extra.map((o) => [o.value, compose.choices.get(o.value)]);
  compose.choices = new Map(extraChoices.filter(([, c]) => c));
  styleSelect.replaceChildren();
  const models = styles.filter((s) => s.kind !== 'style');
  const installed = new Set(models.filter((m) => m.source === 'models')
    .flatMap((m) => (m.styles_of_model || []).map(lower)));
  const plain = { models: el('optgroup', { label: 'Models' }), run: el('optgroup', { label: 'Training runs' }) };
  const conditioned = [];
  for (const m of models) {
    const run = m.source === 'run';
    const rows = m.styles_of_model || [];
    if (!m.error && rows.length) {
      const label = run ? `Run ${m.name}: ${rows.length} styles` : `${m.name}: ${rows.length} styles`;
      const group = el('optgroup', { label, 'data-model': m.name, 'data-source': m.source });
      for (const row of run ? ownRowsFirst(rows, installed) : rows) {
        const value = addChoice(`row:${m.source}:${part(m.name)}:${part(row)}`,
          run ? { run: m.name, checkpoint: 'best', style: row } : { model: m.name, style: row }, m, row);
        group.append(el('option', { value, text: row }));
      }
      conditioned.push([run, group]);
      continue;
    }
    const value = addChoice(run ? `run:${part(m.name)}:best` : `style:${part(m.name)}`,
      run ? { run: m.name, checkpoint: 'best' } : { model: m.name }, m, null);
    plain[run ? 'run' : 'models'].append(el('option', { value, disabled: !!m.error,
      text: m.error ? `${m.name} (unreadable)` : m.name }));
  }
  // Conditioned models first (the base model's styles), then model files, then runs.
  for (const [, g] of conditioned.filter(([run]) => !run)) styleSelect.append(g);
  if (plain.models.children.length) styleSelect.append(plain.models);
  for (const [, g] of conditioned.filter(([run]) => run)) styleSelect.append(g);
  if (plain.run.children.length) styleSelect.append(plain.run);
  if (extra.length) styleSelect.append(el('optgroup', { label: 'Checkpoints', 'data-kind': 'checkpoints' }, ...extra));
  if (!styleSelect.options.length) {
    styleSelect.append(el('option', { value: '', disabled: true, text: 'no styles yet: train one' }));
  }
  const usable = [...styleSelect.options].filter((o) => !o.disabled);
  styleSelect.value = usable.some((o) => o.value === keep) ? keep : (usable[0] ? usable[0].value : '');
  $('compose-button').disabled = !usable.length;
  styleChanged();
}

// ---------------------------------------------------------------- the model card
const CARD_LABELS = {
  preset: 'preset', tokenizer: 'tokenizer', styles: 'learned from', corpus: 'corpus', epoch: 'epochs trained',
  best_epoch: 'best epoch', val_loss: 'validation loss', val_accuracy: 'validation accuracy',
  train_loss: 'training loss', train_pieces: 'training pieces', validation_pieces: 'validation pieces',
  copied_share: 'copied share', seconds: 'training time', seed: 'seed', from: 'fine-tuned from',
};
const CARD_MAIN = ['styles', 'preset', 'epoch', 'best_epoch', 'val_loss', 'val_accuracy', 'copied_share'];
function cardValue(key, v) {
  if (key === 'copied_share' && v < 0) return 'not measured';
  if (key === 'copied_share' || key.endsWith('accuracy')) return fmtPercent(v);
  if (key === 'seconds' && typeof v === 'number') return v < 120 ? `${v.toFixed(1)} s` : `${(v / 60).toFixed(1)} min`;
  if (Array.isArray(v)) return v.join(', ');
  if (v && typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'number' ? fmt(v, 3) : String(v);
}

function renderStyleCard() {
  const box = $('style-card');
  box.replaceChildren();
  const choice = compose.choices.get(styleSelect.value);
  if (!choice) return;
  const { request, model: m, row } = choice;
  if (request.run && request.checkpoint !== 'best') {
    box.append(el('p', { class: 'muted', text: `Checkpoint ${request.checkpoint} of run ${request.run} (its curves are on the Train tab).` }));
    return;
  }
  if (!m) return;
  if (m.error) { box.append(el('p', { class: 'error', text: m.error })); return; }
  const rows = m.styles_of_model || [];
  if (row) {
    const of = m.source === 'run' ? `run ${m.name}` : `the model ${m.name}`;
    box.append(el('p', { class: 'muted', text: `${row}: one of the ${rows.length} styles of ${of}. Its card:` }));
  }
  const card = { source: m.source === 'run' ? 'training run' : 'models folder', tokenizer: m.tokenizer, ...(m.card || {}) };
  const fact = (k) => [CARD_LABELS[k] || k.replace(/_/g, ' '), cardValue(k, card[k])];
  const shown = Object.keys(card).filter((k) => card[k] !== null && card[k] !== undefined && card[k] !== '');
  box.append(factList(CARD_MAIN.filter((k) => shown.includes(k)).map(fact)));
  const rest = shown.filter((k) => !CARD_MAIN.includes(k)).map(fact);
  if (rest.length) box.append(el('details', {}, el('summary', { text: 'Full model card' }), factList(rest)));
}

// ---------------------------------------------------------------- the blend
// A second style row of the same model and the first style's share; the request's style becomes
// "First:0.70,Second:0.30".
function renderBlend() {
  const choice = compose.choices.get(styleSelect.value);
  const row = choice && choice.row;
  const rows = row ? choice.model.styles_of_model || [] : [];
  const others = rows.filter((r) => r !== row);
  const select = $('blend-with'), keep = select.value;
  select.replaceChildren(el('option', { value: '', text: 'nothing: one style' }),
    ...others.map((r) => el('option', { value: r, text: r })));
  select.value = others.includes(keep) ? keep : '';
  select.disabled = !others.length;
  $('style-strength').disabled = !(choice && choice.model && (choice.model.styles_of_model || []).length);
  $('blend-info').textContent = !row
    ? 'Blending mixes the styles of one model; this one has no style rows.'
    : !others.length ? `${choice.model.name} has one style only.`
      : `Mixes ${row} with another style of ${choice.model.name}.`;
  renderBlendWeight();
}

function blendParts() {
  const choice = compose.choices.get(styleSelect.value);
  const second = $('blend-with').value;
  if (!choice || !choice.row || !second) return null;
  const share = Number($('blend-weight').value) / 100;
  return [[choice.row, share], [second, 1 - share]];
}

function renderBlendWeight() {
  const parts = blendParts();
  const slider = $('blend-weight');
  slider.disabled = !parts;
  const choice = compose.choices.get(styleSelect.value);
  const first = choice && choice.row ? choice.row : 'the style';
  $('blend-weight-out').textContent = parts
    ? parts.map(([n, w]) => `${n} ${Math.round(w * 100)}%`).join(' + ') : `${first} 100%`;
  slider.setAttribute('aria-valuetext', $('blend-weight-out').textContent);
}

function styleChanged() {
  renderStyleCard();
  renderBlend();
}
styleSelect.addEventListener('change', styleChanged);
$('blend-with').addEventListener('change', renderBlendWeight);
$('blend-weight').addEventListener('input', renderBlendWeight);

bindOutput('seconds', (v) => `${v} s`);
bindOutput('tempo', (v) => (v ? `${v} BPM` : 'as composed'));

// The 24 keys, spelled as the scores spell them.
const TONICS = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];
$('key').append(...['major', 'minor'].flatMap((mode) => TONICS.map((t) => {
  const tonic = mode === 'minor' ? { Db: 'C#', Ab: 'G#' }[t] || t : t;
  return el('option', { value: `${tonic} ${mode}`, text: `${tonic} ${mode}` });
})));
bindOutput('temperature', (v) => v.toFixed(2));
bindOutput('top-p', (v) => v.toFixed(2));
bindOutput('style-strength', (v) => v.toFixed(2));
bindOutput('primer-seconds', (v) => (v ? `${v} s` : 'all'));

function composeRequest() {
  const choice = compose.choices.get(styleSelect.value);
  if (!choice) throw new ApiError('Choose a style first (or train one on the Train tab).');
  const req = { ...choice.request };
  const parts = blendParts();
  if (parts) req.style = parts.map(([n, w]) => `${n}:${w.toFixed(2)}`).join(',');
  req.seconds = Number($('seconds').value);
  if ($('key').value) req.key = $('key').value;
  if (Number($('tempo').value) > 0) req.tempo = Number($('tempo').value);
  req.temperature = Number($('temperature').value);
  req.top_p = Number($('top-p').value);
  req.count = Number($('count').value) || 1;
  if (choice.row || (choice.model && (choice.model.styles_of_model || []).length)) {
    req.style_strength = Number($('style-strength').value);
  }
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

// What a piece is called: its blend ("Chopin 0.70 + Pop 0.30") or its style.
const pieceName = (p) => (p.blend && p.blend.length <= 60 ? p.blend : p.style);

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
      `${pieceName(pieces[0])}, seed ${pieces[0].seed}, ${pieces[0].notes} notes, ${fmtTime(pieces[0].seconds)}.`;
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
    type: 'button', 'aria-pressed': String(p === compose.piece), text: `${pieceName(p)} · seed ${p.seed}`,
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

// A file name part: letters, digits, '.', '_' and '-'.
const slug = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'piece';

function showPiece(piece) {
  compose.piece = piece;
  stopCursor();
  $('piece-empty').hidden = true;
  $('piece').hidden = false;
  $('piece-title').textContent = `${pieceName(piece)} · seed ${piece.seed}`;
  const model = piece.model && piece.model !== piece.style ? ` · model ${piece.model}` : '';
  const key = piece.key ? ` · ${piece.key}` : '';
  const ending = piece.ending ? ` · ends with a ${piece.ending.kind === 'cadence' ? 'cadence' : 'ringing chord'}` : '';
  $('piece-facts').textContent = `${piece.notes} notes · ${fmtTime(piece.seconds)}${key}${ending} · ` +
    `${piece.tokens} tokens · ${piece.repairs} repairs${model}`;
  const f = piece.files || {};
  const ext = { midi: 'mid', wav: 'wav', pdf: 'pdf', musicxml: 'musicxml', report: 'json' };
  for (const k of ['midi', 'wav', 'pdf', 'svg', 'musicxml', 'report']) {
    const link = $(`dl-${k}`);
    link.href = f[k] || '#';
    if (ext[k]) link.download = `etude-${slug(piece.blend || piece.style)}-${piece.seed}${k === 'report' ? '-report' : ''}.${ext[k]}`;
  }
  $('originality').textContent = originalityText(piece.report);
  const r = piece.report || {};
  const pairs = [['summary', piece.summary || '']];
  if (piece.blend) pairs.push(['style', `${piece.blend} (strength ${fmt(piece.style_strength, 2)})`]);
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

export function drawCurrentRoll() {
  const p = compose.piece;
  if (!p || $('piece').hidden || $('panel-compose').hidden) return;
  const lastEnd = (p.roll || []).reduce((m, n) => Math.max(m, n[2]), 0);
  compose.rollGeom = drawRoll($('roll'), p.roll || [], Math.max(p.seconds || 0, lastEnd, 0.1));
  updateCursor();
}
document.addEventListener('etude:redraw', drawCurrentRoll);

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
    slider.max = String(Math.max(1, Math.ceil(Math.min(p.seconds, settings.fields.primer_seconds.max))));
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

// The style a run composes by default: for a conditioned run (fine-tuned, or trained on several
// styles), the row named like the run, else its first own row (one no installed model has).
function runStyle(run) {
  const m = compose.styles.find((s) => s.kind !== 'style' && s.source === 'run' && s.name === run);
  const rows = (m && m.styles_of_model) || [];
  if (!rows.length) return null;
  const installed = new Set(compose.styles.filter((s) => s.kind !== 'style' && s.source === 'models')
    .flatMap((s) => (s.styles_of_model || []).map(lower)));
  return rows.find((r) => lower(r) === lower(run)) || ownRowsFirst(rows, installed)[0];
}

// Selects a run's checkpoint (its own style, when it has style rows) and composes with it.
export function composeFrom(run, checkpoint) {
  const style = runStyle(run);
  let value = checkpoint === 'best' && style ? `row:run:${part(run)}:${part(style)}` : `run:${part(run)}:${checkpoint}`;
  if (![...styleSelect.options].some((o) => o.value === value)) {
    value = `run:${part(run)}:${checkpoint}`;
    const m = compose.styles.find((s) => s.kind !== 'style' && s.source === 'run' && s.name === run) || null;
    addChoice(value, { run, checkpoint, ...(style ? { style } : {}) }, m, checkpoint === 'best' && style ? style : null);
    if (![...styleSelect.options].some((o) => o.value === value)) {
      let group = styleSelect.querySelector('optgroup[data-kind="checkpoints"]');
      if (!group) styleSelect.append(group = el('optgroup', { label: 'Checkpoints', 'data-kind': 'checkpoints' }));
      group.append(el('option', { value, text: `${run} @ ${checkpoint}${style ? ` (${style})` : ''}` }));
    }
  }
  styleSelect.value = value;
  $('compose-button').disabled = false;
  styleChanged();
  selectTab($('tab-compose'));
  $('compose-button').focus();
  composePiece();
}
