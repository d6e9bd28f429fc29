'use strict';
// The traffic panel: what clients ask of this gateway, per API (file API, S3) and operation,
// from GET /admin/traffic: requests per second since the last poll, totals, errors and
// latency. Polled; hidden while that route does not answer.
(function () {
  const { cell, poll } = window.ringstorePanels;
  const API_NAMES = { files: 'file API', s3: 'S3' };
  const panel = document.getElementById('traffic');
  if (!panel) return;
  const rows = panel.querySelector('tbody');
  /** Each operation's request total at the last poll, for the rate. */
  let previous = new Map();
  let previousAt = 0;

  function latency(operation) {
    if (operation.mean_ms === null) return '–';
    const p99 = operation.p99_at_most_ms === null ? '' : ' · p99 ≤ ' + operation.p99_at_most_ms;
    return operation.mean_ms + p99;
  }

  function render(view, now) {
    const seconds = previousAt ? (now - previousAt) / 1000 : 0;
    const totals = new Map();
    const body = [];
    for (const { api, operations } of view.apis) {
      const heading = document.createElement('tr');
      heading.className = 'api-row';
      const name = cell(API_NAMES[api] || api);
      name.colSpan = 5;
      heading.append(name);
      body.push(heading);
      if (operations.length === 0) {
        const none = document.createElement('tr');
        const text = cell('no requests yet', 'muted');
        text.colSpan = 5;
        none.append(text);
        body.push(none);
      }
      for (const operation of operations) {
        const key = api + ' ' + operation.operation;
        totals.set(key, operation.requests);
        const before = previous.get(key);
        const rate = seconds > 0 && before !== undefined ? ((operation.requests - before) / seconds).toFixed(1) : '–';
        const errors = operation.client_errors + operation.server_errors;
        const row = document.createElement('tr');
        row.dataset.api = api;
        row.dataset.operation = operation.operation;
        row.dataset.requests = String(operation.requests);
        row.append(
          cell(operation.operation),
          cell(rate, 'num'),
          cell(String(operation.requests), 'num'),
          cell(errors === 0 ? '0' : operation.client_errors + ' / ' + operation.server_errors, errors === 0 ? 'num' : 'num errors'),
          cell(latency(operation), 'num'),
        );
        body.push(row);
      }
    }
    rows.replaceChildren(...body);
    previous = totals;
    previousAt = now;
  }

  poll(panel, '/traffic', (view) => render(view, Date.now()));
})();
