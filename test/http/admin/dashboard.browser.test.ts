import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, TOOLS, describeIfFound, toolOrSkip } from '../../helpers/tools';
import { startAdminApp } from './admin-app';
import { FakeSupervisor } from './fake-supervisor';

const CHROMIUM = toolOrSkip(TOOLS.chromium, 'test/http/admin/dashboard.browser.test.ts');
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');
const SERVER_IDS = ['storage-1', 'storage-2', 'storage-3', 'storage-4', 'storage-5', 'storage-6'];

describeIfFound(CHROMIUM)('admin dashboard in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let supervisor: FakeSupervisor;
  let app: Awaited<ReturnType<typeof startAdminApp>>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    supervisor = new FakeSupervisor(SERVER_IDS.map((serverId) => ({ serverId, since: Date.now() - 90_000 })));
    app = await startAdminApp(supervisor, {
      serverInfo: async () => SERVER_IDS.map((serverId, i) => ({ serverId, totalSpace: 100 * 2 ** 30, availableSpace: (90 - 12 * i) * 2 ** 30 })),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${app.url}/admin`);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const tileState = (serverId: string) => page.getAttribute(`.tile[data-server-id="${serverId}"]`, 'data-state');

  it('shows one Ready tile per server and the machine with every server on Ready', async () => {
    await page.waitForSelector('body[data-ready="true"]');
    const tiles = await page.$$eval('.tile', (nodes) => nodes.map((n) => [n.getAttribute('data-server-id'), n.getAttribute('data-state')]));
    expect(tiles).toEqual(SERVER_IDS.map((id) => [id, 'Ready']));
    expect(await page.textContent('#connection-machine .node[data-state="Ready"] .count')).toBe('6');
    expect(await page.getAttribute('#connection-machine .node[data-state="Ready"]', 'class')).toContain('occupied');
    expect(await page.$$('#connection-machine .node')).toHaveLength(5);
    expect(await page.textContent('#summary')).toContain('6/6');
    // The supervisor's tree: one server actor per server, each with a connection and a breaker.
    await page.waitForSelector('#actor-tree > li[data-actor="supervisor"]');
    const servers = await page.$$eval('#actor-tree li[data-actor="server"]', (nodes) =>
      nodes.map((n) => [...n.querySelectorAll(':scope > ul > li')].map((c) => `${c.getAttribute('data-actor')}:${c.getAttribute('data-state')}`)));
    expect(servers).toEqual(SERVER_IDS.map(() => ['connection:Ready', 'breaker:closed']));
  });

  it('moves a tile, the machine and the log when the supervisor reports transitions', async () => {
    supervisor.move('storage-3', 'TransientFailure', { reason: 'connect ECONNREFUSED 127.0.0.1:50053' });
    supervisor.move('storage-3', 'open', { machine: 'breaker', reason: '5 consecutive failures' });
    await page.waitForSelector('.tile[data-server-id="storage-3"][data-state="TransientFailure"][data-breaker="open"]', { timeout: 5000 });
    await page.waitForSelector('#actor-tree li[data-actor="breaker"][data-state="open"]', { timeout: 5000 });
    expect(await page.textContent('.tile[data-server-id="storage-3"] .tile-error')).toContain('ECONNREFUSED');
    expect(await page.textContent('#connection-machine .node[data-state="TransientFailure"] .count')).toBe('1');
    expect(await page.textContent('#connection-machine .node[data-state="Ready"] .count')).toBe('5');
    expect(await page.getAttribute('#log li:first-child', 'data-server-id')).toBe('storage-3');
    expect(await page.textContent('#log li:first-child')).toContain('closed → open');
    expect(await tileState('storage-2')).toBe('Ready');

    supervisor.move('storage-5', 'Idle', { reason: 'channel went idle' });
    supervisor.move('storage-5', 'Connecting', { reason: 'reconnect attempt' });
    await page.waitForSelector('.tile[data-server-id="storage-5"][data-state="Connecting"]', { timeout: 5000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-dashboard.png'), fullPage: true });

    supervisor.move('storage-3', 'Ready', { reason: 'channel ready' });
    await page.waitForSelector('.tile[data-server-id="storage-3"][data-state="Ready"]', { timeout: 5000 });
    // The reconnect count is the supervisor's own, fetched after the transition.
    await page.waitForFunction(() => document.querySelector('.tile[data-server-id="storage-3"] .reconnects')?.textContent === '1', undefined, { timeout: 5000 });
    expect(pageErrors).toEqual([]);
  });
});
