import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createAdminRouter } from '../../../src/http/admin/router';
import type { TrafficView } from '../../../src/observability/traffic';
import { CHROMIUM_ARGS, TOOLS, describeIfFound, toolOrSkip } from '../../helpers/tools';
import { testMachines } from './admin-app';
import { FakeSupervisor } from './fake-supervisor';

const CHROMIUM = toolOrSkip(TOOLS.chromium, 'test/http/admin/panels.browser.test.ts');

/** GET /admin/servers as the gateway answers it, the parts the panel shows. */
function serversView(membership: string) {
  return {
    servers: [
      { server_id: 'storage-1-aaaaaaaa', address: '127.0.0.1:50051', membership: 'active', chunks: 120, bytes: 3 * 2 ** 20, copies_to_delete: 0, deviation_percent: 4.2, drain: null },
      {
        server_id: 'storage-2-bbbbbbbb', address: '127.0.0.1:50052', membership, chunks: 7, bytes: 2 ** 20, copies_to_delete: 3, deviation_percent: null,
        drain: { started_at: null, chunks_total: 40, bytes_total: 2 ** 22, chunks_left: 7, bytes_left: 2 ** 20, percent_done: 75 },
      },
    ],
    balance: { band_percent: 10, balanced: false, servers_outside_band: 1, bytes_to_move: 2 ** 20 },
    drain: { running: true, gateway_id: 'gw', started_at: '', updated_at: '', finished_at: null, outcome: null, report: { chunksMoved: 33, bytesMoved: 3 * 2 ** 20 } },
    rebalance: null,
  };
}

/** GET /admin/traffic as the gateway answers it, after `puts` S3 PUTs. */
function trafficView(puts: number): TrafficView {
  return {
    apis: [
      { api: 'files', operations: [{ operation: 'POST /files', requests: 12, client_errors: 2, server_errors: 1, dropped: 0, mean_ms: 8.4, p99_at_most_ms: 25 }] },
      { api: 's3', operations: [{ operation: 'PutObject', requests: puts, client_errors: 0, server_errors: 0, dropped: 0, mean_ms: 3.2, p99_at_most_ms: 10 }] },
    ],
  };
}

describeIfFound(CHROMIUM)('polled panels of the admin dashboard in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let server: http.Server;
  let url: string;
  let view = serversView('draining');
  let answer = 200;
  let puts = 40;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const app = express();
    // Mounted as the gateway mounts it: /admin/servers next to the admin router.
    app.get('/admin/servers', (_req, res) => {
      res.status(answer).json(answer === 200 ? view : { error: 'down' });
    });
    app.get('/admin/traffic', (_req, res) => {
      res.status(answer).json(answer === 200 ? trafficView(puts) : { error: 'down' });
    });
    app.use('/admin', createAdminRouter({ supervisor: new FakeSupervisor([{ serverId: 'storage-1-aaaaaaaa' }]), machines: testMachines }));
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Paused: the panels poll only when a test moves the clock, so rates are exact.
    await page.clock.install({ time: new Date('2026-12-01T00:00:00Z') });
    await page.clock.pauseAt(new Date('2026-12-01T00:00:01Z'));
    await page.goto(`${url}/admin`);
  });

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('shows each server with its membership, holdings, share and drain progress, and the runs', async () => {
    await page.waitForSelector('#cluster:not([hidden]) tr[data-server-id="storage-2-bbbbbbbb"]');
    const rows = await page.$$eval('#cluster tbody tr', (nodes) => nodes.map((n) => Array.from(n.querySelectorAll('td'), (td) => td.textContent)));
    expect(rows).toEqual([
      ['storage-', 'active', '120', '3.0 MiB', '+4.2%', ''],
      ['storage-', 'draining', '7', '1.0 MiB', '–', 'drain 75%, 7 chunks left'],
    ]);
    expect(await page.getAttribute('#cluster tr[data-server-id="storage-2-bbbbbbbb"] td', 'title')).toBe('storage-2-bbbbbbbb (127.0.0.1:50052)');
    const summary = await page.textContent('#cluster .cluster-summary');
    expect(summary).toContain('1 servers outside 10% of their share, about 1.0 MiB to move');
    expect(summary).toContain('drain running: 33 chunks (3.0 MiB) moved');
  });

  it('shows client traffic per API and operation, with errors and latency', async () => {
    await page.waitForSelector('#traffic:not([hidden]) tr[data-operation="PutObject"]');
    const rows = await page.$$eval('#traffic tbody tr', (nodes) => nodes.map((n) => Array.from(n.querySelectorAll('td'), (td) => td.textContent)));
    expect(rows).toEqual([
      ['file API'],
      ['POST /files', '–', '12', '2 / 1', '8.4 · p99 ≤ 25'],
      ['S3'],
      ['PutObject', '–', '40', '0', '3.2 · p99 ≤ 10'],
    ]);
  });

  it('follows the routes as they change (requests per second between polls), and hides while they do not answer', async () => {
    view = serversView('drained');
    puts = 90;
    await page.clock.runFor(5_000);
    await page.waitForSelector('#cluster tr[data-membership="drained"]');
    // 50 more PUTs in the 5 s between two polls.
    await page.waitForSelector('#traffic tr[data-operation="PutObject"][data-requests="90"]');
    expect(await page.textContent('#traffic tr[data-operation="PutObject"] td:nth-child(2)')).toBe('10.0');
    answer = 503;
    await page.clock.runFor(5_000);
    await page.waitForSelector('#cluster[hidden]', { state: 'attached' });
    await page.waitForSelector('#traffic[hidden]', { state: 'attached' });
    expect(pageErrors).toEqual([]);
  });
});
