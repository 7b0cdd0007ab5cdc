// The page's canvases: the piano roll and the training curves (lines, best-epoch band,
// checkpoint marks, the copy measure as diamonds), drawn at the screen's pixel density.
import { finite, fmtPercent, fmtTime } from './dom.js';

// Sizes a canvas to its CSS box at the screen's pixel density; returns a context in CSS pixels.
export function fitCanvas(canvas) {
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
export function drawRoll(canvas, roll, total) {
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

export const eventText = (r) => (Array.isArray(r.events) ? r.events.join('; ') : String(r.events || ''));
export const isCheckpoint = (r) => eventText(r).includes('checkpoint');

// A line chart of epoch rows: series are lines with dots, the best epoch a shaded band,
// checkpoints dashed lines, `points` (the copy measure) diamonds at checkpoints.
export function drawChart(canvas, rows, spec) {
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

export const LOSS_SPEC = { series: [{ key: 'train_loss', label: 'train', color: '#2b4c7e' }, { key: 'val_loss', label: 'validation', color: '#c2410c' }] };
export const ACC_SPEC = {
  percent: true,
  series: [{ key: 'train_accuracy', label: 'train', color: '#2b4c7e' }, { key: 'val_accuracy', label: 'validation', color: '#c2410c' }],
  points: [{ key: 'copied_share', label: 'copied', color: '#7c3aed' }],
};
// The epoch of the lowest validation loss (the server's best_epoch while no rows carry one).
export function bestEpoch(run, rows) {
  let best = null;
  for (const r of rows) if (finite(r.val_loss) && (!best || r.val_loss < best.val_loss)) best = r;
  if (best) return best.epoch;
  return run && finite(run.best_epoch) && run.best_epoch > 0 ? run.best_epoch : null;
}
// History rows by epoch; a negative copied_share means "not measured in this epoch".
export const sortedRows = (history) => (history || [])
  .map((r) => (finite(r.copied_share) && r.copied_share >= 0 ? r : { ...r, copied_share: null }))
  .sort((a, b) => a.epoch - b.epoch);
