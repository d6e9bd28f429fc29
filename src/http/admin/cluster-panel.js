'use strict';
// The cluster panel: what each storage server holds, its membership (active, draining,
// drained, removed) and the drain and rebalance progress, from GET /admin/servers. Polled, as
// it changes slowly; hidden while that route does not answer.
(function () {
  const { cell, poll } = window.ringstorePanels;
  const panel = document.getElementById('cluster');
  if (!panel) return;
  const rows = panel.querySelector('tbody');
  const summary = panel.querySelector('.cluster-summary');

  const bytes = (n) => formatBytes(n, 'tenths'); // format-bytes.cjs, inlined before this

  function progress(server) {
    if (server.drain) return 'drain ' + server.drain.percent_done + '%, ' + server.drain.chunks_left + ' chunks left';
    return server.copies_to_delete > 0 ? server.copies_to_delete + ' copies to delete' : '';
  }

  function runLine(name, run) {
    if (!run) return '';
    const counts = run.report.chunksMoved + ' chunks (' + bytes(run.report.bytesMoved) + ') moved';
    return name + ' ' + (run.running ? 'running: ' : (run.outcome || 'ended') + ': ') + counts;
  }

  function render(view) {
    rows.replaceChildren(
      ...view.servers.map((server) => {
        const row = document.createElement('tr');
        row.dataset.serverId = server.server_id;
        row.dataset.membership = server.membership;
        const share = server.deviation_percent;
        const name = cell(server.server_id.slice(0, 8));
        name.title = server.server_id + ' (' + server.address + ')';
        row.append(
          name,
          cell(server.membership),
          cell(String(server.chunks), 'num'),
          cell(bytes(server.bytes), 'num'),
          cell(share === null ? '–' : (share > 0 ? '+' : '') + share.toFixed(1) + '%', 'num'),
          cell(progress(server)),
        );
        return row;
      }),
    );
    const balance = view.balance.balanced
      ? 'balanced: every active server within ' + view.balance.band_percent + '% of its share'
      : view.balance.servers_outside_band + ' servers outside ' + view.balance.band_percent + '% of their share, about ' + bytes(view.balance.bytes_to_move) + ' to move';
    summary.textContent = [balance, runLine('drain', view.drain), runLine('rebalance', view.rebalance)].filter(Boolean).join(' · ');
  }

  poll(panel, '/servers', render);
})();
