import { inlinePage } from '../inline-page';

/**
 * The dashboard as one self-contained HTML document (CSS and JS inlined). The mount point is
 * passed in a data attribute so the script finds /events and /machines next to it.
 */
export function loadDashboardPage(): (basePath: string) => string {
  const page = inlinePage(__dirname, 'dashboard.html', [
    'dashboard.css',
    '../page-elements.js',
    '../../util/format-bytes.cjs',
    'dashboard.js',
    'panels.css',
    'panels.js',
    'cluster-panel.js',
    'traffic-panel.js',
  ]);
  return (basePath) => page.replace('{{BASE_PATH}}', () => escapeAttribute(basePath));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
