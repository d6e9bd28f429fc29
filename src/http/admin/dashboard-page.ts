import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The dashboard as one self-contained HTML document: its CSS and JS are inlined so the page
 * works offline, from any mount point, with a single request. The mount point is passed in a
 * data attribute so the script finds /events and /machines next to it.
 */
export function loadDashboardPage(): (basePath: string) => string {
  const read = (name: string) => readFileSync(path.join(__dirname, name), 'utf8');
  const page = read('dashboard.html')
    .replace('/* dashboard.css */', () => read('dashboard.css'))
    .replace('/* page-elements.js */', () => read('../page-elements.js'))
    .replace('/* format-bytes.cjs */', () => read('../../util/format-bytes.cjs'))
    .replace('/* dashboard.js */', () => read('dashboard.js'))
    .replace('/* panels.css */', () => read('panels.css'))
    .replace('/* panels.js */', () => read('panels.js'))
    .replace('/* cluster-panel.js */', () => read('cluster-panel.js'))
    .replace('/* traffic-panel.js */', () => read('traffic-panel.js'));
  return (basePath) => page.replace('{{BASE_PATH}}', () => escapeAttribute(basePath));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
