import http from 'node:http';
import { waitFor } from '../../helpers/wait';
import { startAdminApp, testMachines } from './admin-app';
import { FakeSupervisor } from './fake-supervisor';

interface SseMessage { event: string; data: string }

/** A raw SSE client over http.get: every message and comment as it arrives, in order. */
function openEventStream(url: string) {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let headers: http.IncomingHttpHeaders = {};
  let buffer = '';
  let ended = false;
  const request = http.get(url, (response) => {
    headers = response.headers;
    response.on('end', () => { ended = true; });
    response.setEncoding('utf8');
    response.on('data', (text: string) => {
      buffer += text;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        for (const line of lines.filter((l) => l.startsWith(':'))) comments.push(line.slice(1).trim());
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
        const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (event) messages.push({ event, data });
      }
    });
  });
  request.on('error', () => {});
  return { messages, comments, headers: () => headers, ended: () => ended, close: () => request.destroy() };
}

describe('admin router', () => {
  let supervisor: FakeSupervisor;
  let app: Awaited<ReturnType<typeof startAdminApp>>;
  const streams: Array<{ close: () => void }> = [];

  afterEach(async () => {
    streams.splice(0).forEach((stream) => stream.close());
    await app.close();
  });

  it('GET /connections lists every server with its disk figures', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1', since: Date.UTC(2026, 0, 1) }, { serverId: 's2', state: 'TransientFailure', lastError: 'connect ECONNREFUSED' }]);
    app = await startAdminApp(supervisor, { serverInfo: async () => [{ serverId: 's1', availableSpace: 10, totalSpace: 40, bytesHeld: 7 }] });
    const body = await (await fetch(`${app.url}/admin/connections`)).json();
    expect(body.servers).toEqual([
      { server_id: 's1', address: '127.0.0.1:50051', state: 'Ready', breaker: 'closed', since: '2026-01-01T00:00:00.000Z', reconnects: 0, last_error: null, available_space: 10, total_space: 40, bytes_held: 7 },
      expect.objectContaining({ server_id: 's2', state: 'TransientFailure', last_error: 'connect ECONNREFUSED' }),
    ]);
    expect(body.servers[1]).not.toHaveProperty('total_space');
  });

  it('GET /connections still answers when the disk figures fail', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }]);
    app = await startAdminApp(supervisor, { serverInfo: async () => { throw new Error('database is down'); } });
    const response = await fetch(`${app.url}/admin/connections`);
    expect(response.status).toBe(200);
    expect((await response.json()).servers.map((s: { server_id: string }) => s.server_id)).toEqual(['s1']);
  });

  it('GET /actors shows the tree: supervisor -> server -> connection and breaker', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }, { serverId: 's2', state: 'Connecting', breaker: 'open' }]);
    app = await startAdminApp(supervisor);
    expect(await (await fetch(`${app.url}/admin/actors`)).json()).toEqual({
      actor: 'supervisor',
      children: [
        { actor: 'server', id: 's1', address: '127.0.0.1:50051', children: [{ actor: 'connection', state: 'Ready' }, { actor: 'breaker', state: 'closed' }] },
        { actor: 'server', id: 's2', address: '127.0.0.1:50052', children: [{ actor: 'connection', state: 'Connecting' }, { actor: 'breaker', state: 'open' }] },
      ],
    });
  });

  it('GET /machines and GET / serve the machine descriptions and the dashboard page', async () => {
    supervisor = new FakeSupervisor([]);
    app = await startAdminApp(supervisor);
    const machines = await (await fetch(`${app.url}/admin/machines`)).json();
    expect(machines).toEqual(testMachines);
    // Every machine of the tree /actors shows, the supervisor and the server machine included.
    expect(Object.keys(machines).sort()).toEqual(['breaker', 'connection', 'server', 'supervisor']);
    expect(machines.supervisor.rules).toContainEqual({ event: 'MEMBERSHIP', rule: 'redial moved server' });
    expect(machines.server.transitions).toContainEqual({ from: 'server', to: 'server', event: 'CONNECTION_ENTERED' });
    const page = await fetch(`${app.url}/admin`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('data-base-path="/admin"');
    expect(html).toContain('new EventSource(');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('GET /events sends a snapshot first, then each transition within a second, and unsubscribes on close', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }, { serverId: 's2' }]);
    app = await startAdminApp(supervisor);
    const listenersBefore = supervisor.listenerCount();
    supervisor.move('s1', 'Idle', { reason: 'before anyone watched' });
    const stream = openEventStream(`${app.url}/admin/events`);
    streams.push(stream);

    await waitFor(() => stream.messages.length >= 1, { timeoutMs: 5000, what: 'the snapshot event' });
    expect(stream.headers()['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers()['x-accel-buffering']).toBe('no');
    expect(stream.headers()['cache-control']).toBe('no-cache');
    expect(stream.messages[0].event).toBe('snapshot');
    const snapshot = JSON.parse(stream.messages[0].data);
    expect(snapshot.servers.map((s: { server_id: string; state: string }) => [s.server_id, s.state])).toEqual([['s1', 'Idle'], ['s2', 'Ready']]);
    expect(snapshot.recent).toEqual([expect.objectContaining({ server_id: 's1', from: 'Ready', to: 'Idle', reason: 'before anyone watched' })]);

    const at = Date.now();
    supervisor.move('s2', 'TransientFailure', { reason: 'connect ECONNREFUSED', at });
    await waitFor(() => stream.messages.length >= 2, { timeoutMs: 1000, what: 'the transition event within 1 s' });
    expect(stream.messages[1].event).toBe('transition');
    expect(JSON.parse(stream.messages[1].data)).toEqual({
      machine: 'connection', server_id: 's2', address: '127.0.0.1:50052', from: 'Ready', to: 'TransientFailure',
      reason: 'connect ECONNREFUSED', at: new Date(at).toISOString(),
    });

    supervisor.move('s2', 'open', { machine: 'breaker' });
    await waitFor(() => stream.messages.length >= 3, { timeoutMs: 1000, what: 'the breaker transition' });
    expect(JSON.parse(stream.messages[2].data)).toMatchObject({ machine: 'breaker', from: 'closed', to: 'open' });

    expect(supervisor.listenerCount()).toBe(listenersBefore + 1);
    stream.close();
    await waitFor(() => supervisor.listenerCount() === listenersBefore, { timeoutMs: 2000, what: 'the listener to be removed' });
  });

  it('GET /events holds transitions that happen while the snapshot is prepared and sends them after it', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }]);
    let answerDisk: (info: Array<{ serverId: string; totalSpace: number }>) => void = () => {};
    app = await startAdminApp(supervisor, { serverInfo: () => new Promise((resolve) => { answerDisk = resolve; }) });
    const listenersBefore = supervisor.listenerCount();
    const stream = openEventStream(`${app.url}/admin/events`);
    streams.push(stream);

    await waitFor(() => supervisor.listenerCount() === listenersBefore + 1, { timeoutMs: 5000, what: 'the stream to subscribe' });
    supervisor.move('s1', 'Idle');
    answerDisk([{ serverId: 's1', totalSpace: 100 }]);
    await waitFor(() => stream.messages.length >= 2, { timeoutMs: 2000, what: 'snapshot and held transition' });
    expect(stream.messages.map((m) => m.event)).toEqual(['snapshot', 'transition']);
    expect(JSON.parse(stream.messages[0].data).servers[0]).toMatchObject({ state: 'Ready', total_space: 100 });
    expect(JSON.parse(stream.messages[1].data)).toMatchObject({ from: 'Ready', to: 'Idle' });
  });

  it('closeStreams ends every open event stream so the server can stop', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }]);
    app = await startAdminApp(supervisor);
    const listenersBefore = supervisor.listenerCount();
    const stream = openEventStream(`${app.url}/admin/events`);
    streams.push(stream);
    await waitFor(() => stream.messages.length >= 1, { timeoutMs: 5000, what: 'the snapshot event' });
    app.router.closeStreams();
    await waitFor(() => stream.ended(), { timeoutMs: 2000, what: 'the stream to end' });
    await waitFor(() => supervisor.listenerCount() === listenersBefore, { timeoutMs: 2000, what: 'the listener to be removed' });
  });

  it('GET /events sends heartbeat comments', async () => {
    supervisor = new FakeSupervisor([{ serverId: 's1' }]);
    app = await startAdminApp(supervisor, { heartbeatMs: 50 });
    const stream = openEventStream(`${app.url}/admin/events`);
    streams.push(stream);
    await waitFor(() => stream.comments.filter((c) => c === 'heartbeat').length >= 2, { timeoutMs: 3000, what: 'two heartbeats' });
  });
});
