// The Etude page: an ES module that starts the Compose tab (js/compose.js) and the Train tab
// (js/train.js) once the server answers; js/api.js talks to the JSON API, js/settings.js
// sets the controls from the server's request ranges and defaults, js/charts.js draws.
import { $, showError, FINAL_STATES } from './js/dom.js';
import { api } from './js/api.js';
import { setupTabs } from './js/tabs.js';
import { loadStyles } from './js/compose.js';
import { loadSettings } from './js/settings.js';
import { loadData, loadRuns, watch } from './js/train.js';

async function start() {
  setupTabs();
  const fatal = $('fatal');
  try {
    const health = await api('/api/health');
    $('server-version').textContent = health.version ? `version ${health.version}` : '';
    const [, , , runs] = await Promise.all([loadSettings(), loadStyles(), loadData(), loadRuns()]);
    const active = runs.find((r) => !FINAL_STATES.includes(r.state));
    if (active) watch(active);
  } catch (e) {
    showError(fatal, e);
    fatal.hidden = false;
    $('main').prepend(fatal);
  }
}
start();
