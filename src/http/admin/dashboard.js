'use strict';
// The live connection dashboard: state comes from /events (a snapshot, then transitions);
// everything on screen is re-rendered from `servers` so the page can never drift from it.
(function () {
  const base = document.body.dataset.basePath || '';
  const SVG = 'http://www.w3.org/2000/svg';
  const LOG_LIMIT = 60;
  const REFRESH_MS = 30000;

  const STATE_COLORS = {
    Ready: 'var(--ready)', Connecting: 'var(--connecting)', Idle: 'var(--idle)',
    TransientFailure: 'var(--failure)', Shutdown: 'var(--shutdown)',
    closed: 'var(--ready)', halfOpen: 'var(--connecting)', open: 'var(--failure)',
  };
  const STATE_ORDER = ['Ready', 'Connecting', 'Idle', 'TransientFailure', 'Shutdown'];
  // Hand-placed layouts for the machines we know; anything else goes on a circle.
  const LAYOUTS = {
    // A pentagon: the connection machine lets the channel move between any two states.
    connection: {
      width: 460, height: 285,
      at: { Idle: [78, 118], Connecting: [230, 37], Ready: [382, 118], TransientFailure: [324, 250], Shutdown: [136, 250] },
    },
    breaker: {
      width: 420, height: 165,
      at: { closed: [75, 50], open: [345, 50], halfOpen: [210, 135] },
    },
  };

  /** serverId -> { server_id, address, state, breaker, since (ms), reconnects, last_error, ... } */
  const servers = new Map();
  const machines = { connection: null, breaker: null };

  // ---------- helpers (el and fill: page-elements.js, inlined before this) ----------
  function svg(tag, attrs, children) {
    return fill(document.createElementNS(SVG, tag), attrs, children);
  }
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  const bytes = (n) => formatBytes(n, 'compact'); // format-bytes.cjs, inlined before this
  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }
  function fromView(view) {
    return Object.assign({}, view, { since: Date.parse(view.since) });
  }

  // ---------- tiles ----------
  function renderTile(server) {
    const tiles = document.getElementById('tiles');
    const tile = tiles.querySelector('[data-server-id="' + CSS.escape(server.server_id) + '"]');
    const previousState = tile && tile.dataset.state;
    const fresh = el('article', {
      class: 'tile',
      'data-server-id': server.server_id,
      'data-state': server.state,
      'data-breaker': server.breaker,
      'data-since': String(server.since),
    }, [
      el('h3', { class: 'tile-addr', title: server.address, text: server.address }),
      el('div', { class: 'tile-id', title: 'server id ' + server.server_id, text: server.server_id }),
      el('div', { class: 'state-line' }, [
        el('span', { class: 'state', text: server.state === 'TransientFailure' ? 'Transient failure' : server.state }),
        el('span', { class: 'since', text: 'for ' + duration(Date.now() - server.since) }),
      ]),
      el('dl', { class: 'stats' }, [
        el('div', {}, [el('dt', { text: 'Reconnects' }), el('dd', { class: 'reconnects', text: String(server.reconnects) })]),
        el('div', {}, [el('dt', { text: 'Breaker' }), el('dd', {}, [
          el('span', { class: 'breaker', 'data-breaker': server.breaker, title: 'circuit breaker', text: breakerLabel(server.breaker) }),
        ])]),
        el('div', {}, [el('dt', { text: 'Since' }), el('dd', { text: clock(server.since) })]),
      ]),
      diskBlock(server),
      server.last_error ? el('div', { class: 'tile-error', title: server.last_error, text: server.last_error }) : null,
    ]);
    if (tile) {
      tile.replaceWith(fresh);
      if (previousState !== server.state) fresh.classList.add('changed');
    } else {
      tiles.append(fresh);
    }
  }
  function breakerLabel(breaker) {
    return breaker === 'halfOpen' ? 'half-open' : breaker;
  }
  // The bar is the server's filesystem: ringstore's own chunks, then everything else on that disk.
  function diskBlock(server) {
    if (!server.total_space) return el('div', { class: 'disk-text', text: 'disk: not reported yet' });
    const total = server.total_space;
    const used = Math.max(0, total - (server.available_space || 0));
    const held = Math.min(used, server.bytes_held || 0);
    const percent = (n) => Math.min(100, (n / total) * 100).toFixed(1) + '%';
    const ours = el('span', { class: 'held', style: 'width:' + percent(held) });
    const others = el('span', { class: 'other', style: 'width:' + percent(used - held) });
    const usedShare = used / total;
    if (usedShare >= 0.95) ours.classList.add('full');
    else if (usedShare >= 0.8) ours.classList.add('high');
    return el('div', { class: 'disk' }, [
      el('div', { class: 'disk-bar', title: percent(used) + ' of the disk used, ' + percent(held) + ' by ringstore' }, [ours, others]),
      el('div', { class: 'disk-text', text: bytes(held) + ' held · ' + bytes(server.available_space || 0) + ' free of ' + bytes(total) }),
    ]);
  }
  // Address order (storage-1, storage-2, ... or ascending ports) reads better than random ids.
  function byAddress() {
    return [...servers.values()].sort((a, b) =>
      a.address.localeCompare(b.address, undefined, { numeric: true }) || a.server_id.localeCompare(b.server_id));
  }
  function renderAllTiles() {
    const tiles = document.getElementById('tiles');
    const empty = document.getElementById('empty');
    const sorted = byAddress();
    for (const tile of [...tiles.querySelectorAll('.tile')]) {
      if (!servers.has(tile.dataset.serverId)) tile.remove();
    }
    sorted.forEach(renderTile);
    // Keep tiles in id order even when a server joins later.
    for (const server of sorted) tiles.append(tiles.querySelector('[data-server-id="' + CSS.escape(server.server_id) + '"]'));
    empty.hidden = servers.size > 0;
    if (servers.size === 0) empty.textContent = 'No storage servers are known to this gateway yet.';
  }
  function tickTimes() {
    const now = Date.now();
    for (const tile of document.querySelectorAll('.tile')) {
      tile.querySelector('.since').textContent = 'for ' + duration(now - Number(tile.dataset.since));
    }
  }

  // ---------- summary ----------
  function renderSummary() {
    const counts = countBy('state');
    const total = servers.size;
    const ready = counts.Ready || 0;
    const summary = document.getElementById('summary');
    const headline = el('span', { class: 'pill headline', style: '--c:' + (ready === total && total > 0 ? 'var(--ready)' : 'var(--failure)') }, [
      el('i'), el('b', { text: ready + '/' + total }), document.createTextNode(' ready'),
    ]);
    const pills = STATE_ORDER.filter((state) => state !== 'Ready').map((state) =>
      el('span', { class: 'pill' + (counts[state] ? '' : ' zero'), style: '--c:' + STATE_COLORS[state] }, [
        el('i'), el('b', { text: String(counts[state] || 0) }), document.createTextNode(' ' + state),
      ]));
    summary.replaceChildren(headline, ...pills);
    document.getElementById('server-count').textContent = total + (total === 1 ? ' server' : ' servers');
  }
  function countBy(field) {
    const counts = {};
    for (const server of servers.values()) counts[server[field]] = (counts[server[field]] || 0) + 1;
    return counts;
  }

  // ---------- machine diagrams ----------
  function layoutFor(kind, states) {
    const layout = LAYOUTS[kind] || { width: 420, height: 300, at: {} };
    const missing = states.filter((state) => !layout.at[state]);
    const at = Object.assign({}, layout.at);
    missing.forEach((state, i) => {
      const angle = (2 * Math.PI * i) / missing.length - Math.PI / 2;
      at[state] = [layout.width / 2 + Math.cos(angle) * (layout.width / 2 - 75), layout.height / 2 + Math.sin(angle) * (layout.height / 2 - 30)];
    });
    return { width: layout.width, height: layout.height, at };
  }
  const NODE_W = 128;
  const NODE_H = 38;
  /** Where the line from a node's centre towards (tx, ty) leaves its rectangle. */
  function border(cx, cy, tx, ty) {
    const dx = tx - cx;
    const dy = ty - cy;
    const scale = Math.min((NODE_W / 2 + 3) / Math.abs(dx || 1e-9), (NODE_H / 2 + 3) / Math.abs(dy || 1e-9));
    return [cx + dx * scale, cy + dy * scale];
  }
  function drawMachine(kind) {
    const description = machines[kind];
    const root = document.getElementById(kind + '-machine');
    if (!description) return;
    const { width, height, at } = layoutFor(kind, description.states);
    root.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    const defs = svg('defs', {}, [
      svg('marker', { id: kind + '-arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, [
        svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6b7689' }),
      ]),
    ]);
    // One line per pair of states, with an arrowhead at each end a transition goes to;
    // the events that take it are in its tooltip.
    const edges = new Map();
    for (const { from, to, event } of description.transitions) {
      if (from === to || !at[from] || !at[to]) continue;
      const [a, b] = [from, to].sort();
      const key = a + '\u0000' + b;
      if (!edges.has(key)) edges.set(key, { a, b, toA: false, toB: false, events: [] });
      const edge = edges.get(key);
      if (to === b) edge.toB = true;
      else edge.toA = true;
      const label = from + ' → ' + to + ': ' + event;
      if (!edge.events.includes(label)) edge.events.push(label);
    }
    const edgeNodes = [...edges.values()].map(({ a, b, toA, toB, events }) => {
      const [ax, ay] = border(at[a][0], at[a][1], at[b][0], at[b][1]);
      const [bx, by] = border(at[b][0], at[b][1], at[a][0], at[a][1]);
      const attrs = {
        class: 'edge', 'data-pair': a + '|' + b,
        d: 'M' + ax.toFixed(1) + ',' + ay.toFixed(1) + ' L' + bx.toFixed(1) + ',' + by.toFixed(1),
      };
      if (toB) attrs['marker-end'] = 'url(#' + kind + '-arrow)';
      if (toA) attrs['marker-start'] = 'url(#' + kind + '-arrow)';
      return svg('path', attrs, [svg('title', { text: events.join('\n') })]);
    });
    const nodes = description.states.map((state) => {
      const [x, y] = at[state];
      return svg('g', {
        class: 'node' + (state === description.initial ? ' initial' : ''),
        'data-state': state, style: '--c:' + (STATE_COLORS[state] || 'var(--accent)'),
        transform: 'translate(' + x + ',' + y + ')',
      }, [
        svg('rect', { x: -NODE_W / 2, y: -NODE_H / 2, width: NODE_W, height: NODE_H, rx: 9 }),
        svg('text', { x: 0, y: 4.5, text: state }),
        svg('circle', { class: 'badge', cx: NODE_W / 2 - 2, cy: -NODE_H / 2 + 2, r: 11 }),
        svg('text', { class: 'count', x: NODE_W / 2 - 2, y: -NODE_H / 2 + 6, text: '0' }),
        svg('title', { text: state + (state === description.initial ? ' (initial)' : '') }),
      ]);
    });
    root.replaceChildren(defs, ...edgeNodes, ...nodes);
  }
  function renderMachineCounts(kind, field) {
    const counts = countBy(field);
    for (const node of document.querySelectorAll('#' + kind + '-machine .node')) {
      const count = counts[node.dataset.state] || 0;
      node.classList.toggle('occupied', count > 0);
      node.querySelector('.count').textContent = String(count);
    }
  }
  function fireEdge(kind, from, to) {
    const pair = [from, to].sort().join('|');
    const edge = document.querySelector('#' + kind + '-machine .edge[data-pair="' + CSS.escape(pair) + '"]');
    if (!edge) return;
    edge.classList.add('fired');
    clearTimeout(edge._fade);
    edge._fade = setTimeout(() => edge.classList.remove('fired'), 1500);
  }

  // ---------- event log ----------
  function logTransition(event, fresh) {
    const log = document.getElementById('log');
    const empty = log.querySelector('.log-empty');
    if (empty) empty.remove();
    const item = el('li', { class: fresh ? 'fresh' : '', 'data-server-id': event.server_id, 'data-to': event.to }, [
      el('time', { datetime: event.at, text: clock(Date.parse(event.at)) }),
      el('div', { class: 'what' }, [
        document.createTextNode(event.from + ' → '),
        el('span', { class: 'to', style: 'color:' + (STATE_COLORS[event.to] || 'var(--text)'), text: event.to }),
        el('span', { class: 'kind', text: event.machine }),
      ]),
      el('div', { class: 'reason', title: event.server_id + ': ' + event.reason }, [
        el('span', { class: 'who', text: event.address }),
        document.createTextNode(event.reason ? ' · ' + event.reason : ''),
      ]),
    ]);
    log.prepend(item);
    while (log.children.length > LOG_LIMIT) log.lastElementChild.remove();
  }

  // ---------- state updates ----------
  function renderAll() {
    renderAllTiles();
    renderSummary();
    renderMachineCounts('connection', 'state');
    renderMachineCounts('breaker', 'breaker');
    renderActorTree();
  }
  function applySnapshot(views) {
    servers.clear();
    for (const view of views) servers.set(view.server_id, fromView(view));
    renderAll();
  }
  function applyTransition(event) {
    const at = Date.parse(event.at);
    const server = servers.get(event.server_id) || {
      server_id: event.server_id, address: event.address, state: 'Idle', breaker: 'closed',
      since: at, reconnects: 0, last_error: null,
    };
    if (event.machine === 'connection') {
      server.state = event.to;
      server.since = at;
      if (event.to === 'TransientFailure' && event.reason) server.last_error = event.reason;
    } else {
      server.breaker = event.to;
    }
    servers.set(event.server_id, server);
    eventCount += 1;
    // The event carries the new state; reconnect counts and errors come from the supervisor itself.
    scheduleRefresh();
    renderTile(server);
    renderSummary();
    renderMachineCounts('connection', 'state');
    renderMachineCounts('breaker', 'breaker');
    renderActorTree();
    fireEdge(event.machine, event.from, event.to);
    logTransition(event, true);
  }

  /** The transitions the gateway saw before this page connected, oldest first. */
  function replayHistory(recent) {
    const log = document.getElementById('log');
    log.replaceChildren(el('li', { class: 'log-empty', text: 'No transitions yet.' }));
    for (const event of recent) logTransition(event, false);
  }

  function setLive(state, text) {
    const live = document.getElementById('live');
    live.dataset.live = state;
    document.getElementById('live-text').textContent = text;
  }

  function connect() {
    // EventSource reconnects by itself (the server asks for a 2 s retry); each reconnect
    // starts with a fresh snapshot, so nothing is lost while the stream was down.
    const source = new EventSource(base + '/events');
    source.onopen = () => setLive('open', 'live');
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? 'down' : 'connecting', 'reconnecting…');
    source.addEventListener('snapshot', (message) => {
      const { servers: views, recent } = JSON.parse(message.data);
      applySnapshot(views);
      replayHistory(recent || []);
      document.body.dataset.ready = 'true';
    });
    source.addEventListener('transition', (message) => applyTransition(JSON.parse(message.data)));
  }

  let eventCount = 0;
  let refreshTimer;
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshSnapshot, 300);
  }
  async function refreshSnapshot() {
    const eventsBefore = eventCount;
    try {
      const response = await fetch(base + '/connections', { cache: 'no-store' });
      if (!response.ok) return;
      const { servers: views } = await response.json();
      // A transition that arrived meanwhile is newer than this answer: ask again instead.
      if (eventCount !== eventsBefore) return scheduleRefresh();
      applySnapshot(views);
    } catch {
      // The event stream shows the gateway is unreachable; nothing to add here.
    }
  }

  // ---------- actor tree (GET /admin/actors's shape, drawn from `servers`: the same snapshot) ----------
  function actorNode(node) {
    const label = [node.actor, node.address, node.state].filter(Boolean).join(' · ');
    const item = el('li', { class: 'actor', 'data-actor': node.actor, 'data-state': node.state || '' }, [el('span', { text: label })]);
    if (node.children && node.children.length > 0) item.append(el('ul', {}, node.children.map(actorNode)));
    return item;
  }
  function renderActorTree() {
    const tree = {
      actor: 'supervisor',
      children: byAddress().map((server) => ({
        actor: 'server',
        address: server.address,
        children: [{ actor: 'connection', state: server.state }, { actor: 'breaker', state: server.breaker }],
      })),
    };
    document.getElementById('actor-tree').replaceChildren(actorNode(tree));
  }

  async function start() {
    try {
      const response = await fetch(base + '/machines', { cache: 'no-store' });
      Object.assign(machines, await response.json());
    } catch {
      // Without descriptions the diagrams stay empty; tiles and log still work.
    }
    drawMachine('connection');
    drawMachine('breaker');
    connect();
    setInterval(tickTimes, 1000);
    setInterval(refreshSnapshot, REFRESH_MS);
  }

  start();
})();
