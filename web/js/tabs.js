// The Compose and Train tabs (arrow keys, Home and End switch them). Whatever draws on a canvas
// listens for the 'etude:redraw' event, sent when a tab is shown or the window is resized.
import { $ } from './dom.js';

const tabs = () => [...document.querySelectorAll('[role="tab"]')];
export const redraw = () => document.dispatchEvent(new CustomEvent('etude:redraw'));

export function selectTab(tab) {
  for (const t of tabs()) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  redraw();
}

export function setupTabs() {
  const all = tabs();
  all.forEach((t, i) => {
    t.addEventListener('click', () => selectTab(t));
    t.addEventListener('keydown', (e) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: all.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      const target = all[(next + all.length) % all.length];
      selectTab(target);
      target.focus();
    });
  });
  let timer = 0;
  window.addEventListener('resize', () => { clearTimeout(timer); timer = setTimeout(redraw, 100); });
}
