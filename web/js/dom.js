// Small DOM and formatting helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);
export const FINAL_STATES = ['finished', 'failed', 'stopped'];
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

// el('p', {class: 'muted', text: 'hi', onclick: f}, child, ...): attributes false/null/undefined are left out.
export function el(tag, attrs = {}, ...children) {
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
export const finite = (x) => typeof x === 'number' && Number.isFinite(x);
export function fmt(x, digits = 3) {
  if (!finite(x)) return '–';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}
export function fmtTime(s) {
  if (!finite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s - m * 60)).padStart(2, '0')}`;
}
export const fmtPercent = (x) => (finite(x) ? `${(100 * x).toFixed(1)}%` : '–');
export const fmtBytes = (n) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

export function showError(node, err) {
  node.textContent = err ? (err.message || String(err)) : '';
  node.hidden = !err;
}

export function factList(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: v }));
  return dl;
}

// A range input and its <output id="ID-out">, kept in step.
export function bindOutput(id, show) {
  const input = $(id), out = $(`${id}-out`);
  const update = () => { out.textContent = show(Number(input.value)); };
  input.addEventListener('input', update);
  update();
  return update;
}
