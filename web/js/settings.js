// The compose request's ranges and defaults as the server defines them (GET /api/compose): every
// control with data-field takes the field's default, and its min and max unless the page sets a
// narrower one in the HTML. The one place the page learns them; nothing here is written twice.
import { api } from './api.js';

export const settings = { fields: {} };  // NAME -> {min, max, integer, default?}

export async function loadSettings() {
  const { fields } = await api('/api/compose');
  settings.fields = fields;
  for (const input of document.querySelectorAll('[data-field]')) {
    const f = fields[input.dataset.field];
    if (!f) continue;
    if (!input.hasAttribute('min')) input.min = String(f.min);
    if (!input.hasAttribute('max')) input.max = String(f.max);
    if ('default' in f) input.value = String(f.default);
    input.dispatchEvent(new Event('input'));
  }
}
