'use strict';
// What the polled panels (cluster, traffic) share: a table cell, and the loop that fetches a
// panel's route every few seconds, renders its answer and hides the panel while the route does
// not answer. Loaded before the panels.
window.ringstorePanels = (function () {
  const base = document.body.dataset.basePath || '';
  const REFRESH_MS = 5000;

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  /** Polls base + route now and every REFRESH_MS, rendering each JSON answer into the panel. */
  function poll(panel, route, render) {
    async function refresh() {
      try {
        const response = await fetch(base + route, { cache: 'no-store' });
        if (!response.ok) throw new Error(String(response.status));
        render(await response.json());
        panel.hidden = false;
      } catch {
        panel.hidden = true;
      }
    }
    refresh();
    setInterval(refresh, REFRESH_MS);
  }

  return { cell, poll };
})();
