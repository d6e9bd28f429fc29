/**
 * The files page in headless Chromium against a real cluster with API_TOKENS set: sign in with
 * the token as a Basic password, upload by dropping a file, see it listed, search, download it
 * byte-exact, delete it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startCluster, type Cluster } from '../helpers/cluster';
import { sha256 } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { CHROMIUM_ARGS, TOOLS, describeIfFound, toolOrSkip } from '../helpers/tools';

const CHROMIUM = toolOrSkip(TOOLS.chromium, 'test/http/files-page.browser.test.ts');
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');
const TOKEN = `api-${randomBytes(12).toString('hex')}`;

/** Drops a file on the page's drop zone, as a person dragging it from their desktop would. */
async function dropFile(page: Page, name: string, data: Buffer): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ name, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
      return transfer;
    },
    { name, base64: data.toString('base64') },
  );
  await page.dispatchEvent('#drop', 'dragenter', { dataTransfer });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer });
}

describeIfFound(CHROMIUM)('files page in headless Chromium', () => {
  let cluster: Cluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ storageServers: 3, env: { API_TOKENS: TOKEN } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ httpCredentials: { username: 'me', password: TOKEN }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  it('asks a browser for the API token, and lets it in with it', async () => {
    // What a browser without the token gets (headless Chromium cannot show the prompt).
    const refused = await fetch(`${cluster.gateway.url}/files-page`, { headers: { Accept: 'text/html' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="ringstore files", charset="UTF-8"');

    const opened = await page.goto(`${cluster.gateway.url}/files-page`);
    expect(opened?.status()).toBe(200);
    await page.waitForSelector('body[data-loaded="true"]');
    expect(await page.textContent('#count')).toBe('0');
  });

  it('uploads a dropped file with a progress bar, lists it, finds it by name, downloads it byte-exact and deletes it', async () => {
    const report = randomBytes(700 * 1024);
    const photo = randomBytes(50 * 1024);
    await dropFile(page, 'Quarterly report.pdf', report);
    const done = await page.waitForSelector('.upload[data-name="Quarterly report.pdf"][data-state="done"]', { timeout: 30_000 });
    const reportId = await done.getAttribute('data-file-id');
    expect(await done.$eval('progress', (bar) => [(bar as HTMLProgressElement).value, (bar as HTMLProgressElement).max])).toEqual([report.length, report.length]);
    await dropFile(page, 'holiday photo.jpg', photo);
    await page.waitForSelector('.upload[data-name="holiday photo.jpg"][data-state="done"]', { timeout: 30_000 });

    // Both listed, newest first.
    await page.waitForFunction(() => document.querySelectorAll('#files tr').length === 2);
    expect(await page.$$eval('#files tr td.name', (cells) => cells.map((c) => c.textContent))).toEqual(['holiday photo.jpg', 'Quarterly report.pdf']);
    expect(await page.textContent(`#files tr[data-file-id="${reportId}"] td.num`)).toBe('700.0 KiB');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'files-page.png'), fullPage: true });

    // Search by name, answered by the server (GET /files?q=).
    const searched = page.waitForResponse((response) => response.url().includes('/files?') && response.url().includes('q=QUARTERLY'));
    await page.fill('#search', 'QUARTERLY');
    expect((await searched).status()).toBe(200);
    await page.waitForFunction(() => document.querySelectorAll('#files tr').length === 1);
    expect(await page.$$eval('#files tr', (rows) => rows.map((r) => r.getAttribute('data-file-id')))).toEqual([reportId]);
    expect(await page.textContent('#count')).toBe('1 matching “QUARTERLY”');

    // Download through the link: the browser's own download, byte-exact.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#files tr[data-file-id="${reportId}"] a`)]);
    expect(download.suggestedFilename()).toBe('Quarterly report.pdf');
    const saved = await readFile((await download.path())!);
    expect(sha256(saved)).toBe(sha256(report));

    // Delete, confirmed in the dialog: gone from the page and from the API.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click(`#files tr[data-file-id="${reportId}"] button.delete`);
    await page.waitForSelector(`#files tr[data-file-id="${reportId}"]`, { state: 'detached' });
    const gone = await fetch(`${cluster.gateway.url}/files/${reportId}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(gone.status).toBe(404);
    await page.fill('#search', '');
    await page.waitForFunction(() => document.querySelectorAll('#files tr').length === 1);
    expect(pageErrors).toEqual([]);
  });

  it('is linked from the connections dashboard', async () => {
    await page.goto(`${cluster.gateway.url}/admin`);
    expect(await page.getAttribute('a.files-link', 'href')).toBe('/files-page');
  });
});
