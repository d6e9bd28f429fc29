import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, TOOLS, describeIfFound, toolOrSkip } from '../helpers/tools';
import { startCluster, type Cluster } from '../helpers/cluster';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const CHROMIUM = toolOrSkip(TOOLS.chromium, 'test/observability/system.e2e.test.ts');
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

interface SseEvent {
  event: string;
  data: { server_id?: string; to?: string; machine?: string };
  receivedAt: number;
}

/** Collects Server-Sent Events from a URL until closed. */
function listen(url: string): { events: SseEvent[]; close(): void } {
  const events: SseEvent[] = [];
  let buffer = '';
  const req = http.get(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      buffer += text;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data), receivedAt: Date.now() });
      }
    });
  });
  req.on('error', () => undefined);
  return { events, close: () => req.destroy() };
}

async function metricValue(cluster: Cluster, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${cluster.gateway.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The whole system as an operator sees it: metrics, SSE and the dashboard, on a real cluster. */
describeIfFound(CHROMIUM)('observability of a real cluster', () => {
  let cluster: Cluster;
  let browser: Browser;

  beforeAll(async () => {
    cluster = await startCluster({ storageServers: 6 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  it('shows a killed server leaving Ready and coming back: dashboard, SSE within a second, metrics', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${cluster.gateway.url}/admin`);
    await page.waitForSelector('body[data-ready="true"]');
    await waitFor(async () => (await page.$$('.tile[data-state="Ready"]')).length === 6, { what: '6 Ready tiles' });

    const victim = cluster.storage[2];
    const stateGauge = () => metricValue(cluster, 'ringstore_connection_state', { server_id: victim.serverId, state: 'Ready' });
    const reconnects = () => metricValue(cluster, 'ringstore_reconnect_attempts_total', { server_id: victim.serverId });
    expect(await stateGauge()).toBe(1);
    // Silent Ready servers are probed every tick, and each probe is timed.
    await waitFor(async () => (await metricValue(cluster, 'ringstore_health_probe_duration_seconds_count', { server_id: victim.serverId })) > 0, {
      what: 'a timed health probe',
    });
    const attemptsBefore = await reconnects();

    const sse = listen(`${cluster.gateway.url}/admin/events`);
    await waitFor(() => sse.events.some((e) => e.event === 'snapshot'), { what: 'the SSE snapshot' });
    const killedAt = Date.now();
    await victim.proc.kill('SIGKILL');

    const left = await waitFor(
      () => sse.events.find((e) => e.event === 'transition' && e.data.server_id === victim.serverId && e.data.machine === 'connection'),
      { what: 'an SSE transition of the killed server' },
    );
    const tile = `.tile[data-server-id="${victim.serverId}"]`;
    await page.waitForSelector(`${tile}:not([data-state="Ready"])`, { timeout: 15_000 });
    expect(await stateGauge()).toBe(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-server-down.png'), fullPage: true });

    await victim.start();
    await page.waitForSelector(`${tile}[data-state="Ready"]`, { timeout: 20_000 });
    await waitFor(async () => (await stateGauge()) === 1 && (await reconnects()) > attemptsBefore, {
      what: 'the Ready gauge and the reconnect counter to move',
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-recovered.png'), fullPage: true });
    sse.close();

    // The connection noticed the kill on its own (channel event), and SSE relayed it at once:
    // the first transition arrives within a second of the gateway logging it.
    const logged = cluster.gateway.proc.lines.find(
      (l) => l.serverId === victim.serverId && l.machine === 'connection' && Date.parse(String(l.timestamp)) >= killedAt - 50,
    );
    expect(logged).toBeDefined();
    expect(left.receivedAt - Date.parse(String(logged!.timestamp))).toBeLessThan(1000);
  });
});
