import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createGatewayAuth, requireApiToken, requireToken } from '../../src/http/auth';
import { loadSecurityConfig } from '../../src/security';

/** An express app on a free loopback port with the guards mounted the way the gateway does. */
async function startApp(mount: (app: express.Express) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  mount(app);
  app.use((req, res) => res.status(200).json({ ok: true, path: req.originalUrl }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function call(url: string, init: { method?: string; token?: string; authorization?: string; accept?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.accept !== undefined) headers.accept = init.accept;
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  const response = await fetch(url, { method: init.method ?? 'GET', headers });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, challenge: response.headers.get('www-authenticate') };
}

describe('HTTP token guards', () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
  });
  async function app(mount: (app: express.Express) => void): Promise<string> {
    const started = await startApp(mount);
    closers.push(started.close);
    return started.url;
  }

  it('requireApiToken: 401 with a Bearer challenge without a token, 403 with a wrong one, 200 with any right one', async () => {
    const url = await app((a) => a.use('/files', requireApiToken(['token-one', 'token-two'])));
    const none = await call(`${url}/files`);
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer realm="ringstore files"$/);
    expect(none.body.error).toMatch(/Authorization: Bearer/);

    const malformed = await call(`${url}/files`, { authorization: 'Basic dG9rZW4tb25lOg==' });
    expect(malformed.status).toBe(401);

    const wrong = await call(`${url}/files`, { token: 'token-three' });
    expect(wrong.status).toBe(403);
    expect(wrong.challenge).toMatch(/error="invalid_token"/);
    expect(typeof wrong.body.error).toBe('string');
    expect(JSON.stringify(wrong.body)).not.toContain('token-one');

    expect((await call(`${url}/files/abc?x=1`, { token: 'token-one' })).status).toBe(200);
    expect((await call(`${url}/files`, { token: 'token-two' })).body).toEqual({ ok: true, path: '/files' });
  });

  it('is open when no token is configured', async () => {
    const url = await app((a) => {
      a.use('/files', requireApiToken([]));
      a.use('/metrics', requireToken(undefined, 'ringstore admin'));
    });
    expect((await call(`${url}/files`)).status).toBe(200);
    expect((await call(`${url}/metrics`, { token: 'anything' })).status).toBe(200);
  });

  it('requireToken guards one realm with one token', async () => {
    const url = await app((a) => a.use('/metrics', requireToken('admin-token', 'ringstore admin')));
    const none = await call(`${url}/metrics`);
    expect([none.status, none.challenge]).toEqual([401, 'Bearer realm="ringstore admin"']);
    expect((await call(`${url}/metrics`, { token: 'admin-tokeN' })).status).toBe(403);
    expect((await call(`${url}/metrics`, { token: 'admin-token' })).status).toBe(200);
  });

  it('createGatewayAuth: /files by API token, /admin by ADMIN_TOKEN, joins by CLUSTER_TOKEN (or ADMIN_TOKEN)', async () => {
    const auth = createGatewayAuth(loadSecurityConfig({ API_TOKENS: 'api-token', ADMIN_TOKEN: 'admin-token', CLUSTER_TOKEN: 'cluster-token' }));
    // Mounted like src/http/app.ts: /admin/servers before /admin.
    const url = await app((a) => {
      a.use('/files', auth.filesAuth);
      a.get('/metrics', auth.adminAuth);
      a.use('/admin/servers', auth.adminAuth);
      a.use('/admin', auth.adminAuth);
    });
    const cases: Array<[string, string, string | undefined, number]> = [
      ['GET', '/files', undefined, 401],
      ['GET', '/files', 'admin-token', 403],
      ['GET', '/files', 'api-token', 200],
      ['GET', '/health', undefined, 200],
      ['GET', '/metrics', undefined, 401],
      ['GET', '/metrics', 'api-token', 403],
      ['GET', '/metrics', 'admin-token', 200],
      ['GET', '/admin/connections', 'cluster-token', 403],
      ['GET', '/admin/connections', 'admin-token', 200],
      ['GET', '/admin/servers', 'cluster-token', 403],
      ['GET', '/admin/servers', 'admin-token', 200],
      ['POST', '/admin/servers', undefined, 401],
      ['POST', '/admin/servers', 'api-token', 403],
      ['POST', '/admin/servers', 'cluster-token', 200],
      ['POST', '/admin/servers/', 'cluster-token', 200],
      ['POST', '/admin/servers', 'admin-token', 200],
      ['POST', '/admin/jobs/cleanup', 'cluster-token', 403],
      // Cluster changes are the operator's: a storage server's token does not drain or remove.
      ['POST', '/admin/servers/s1/drain', 'cluster-token', 403],
      ['POST', '/admin/servers/s1/drain', 'admin-token', 200],
      ['DELETE', '/admin/servers/s1', 'cluster-token', 403],
      ['POST', '/admin/servers/rebalance', 'cluster-token', 403],
    ];
    for (const [method, path, token, status] of cases) {
      const result = await call(`${url}${path}`, { method, token });
      expect([method, path, token, result.status]).toEqual([method, path, token, status]);
    }
  });

  it('createGatewayAuth without CLUSTER_TOKEN: joins need ADMIN_TOKEN when that is set, nothing when neither is', async () => {
    const adminOnly = createGatewayAuth(loadSecurityConfig({ ADMIN_TOKEN: 'admin-token' }));
    const open = createGatewayAuth(loadSecurityConfig({}));
    const guardedUrl = await app((a) => a.use('/admin/servers', adminOnly.adminAuth));
    const openUrl = await app((a) => {
      a.use('/admin/servers', open.adminAuth);
      a.use('/files', open.filesAuth);
    });
    expect((await call(`${guardedUrl}/admin/servers`, { method: 'POST' })).status).toBe(401);
    expect((await call(`${guardedUrl}/admin/servers`, { method: 'POST', token: 'admin-token' })).status).toBe(200);
    expect((await call(`${openUrl}/admin/servers`, { method: 'POST' })).status).toBe(200);
    expect((await call(`${openUrl}/files`)).status).toBe(200);
  });

  it('admin takes ADMIN_TOKEN as a Basic password too, and prompts browsers (pages, EventSource) with a Basic challenge', async () => {
    const auth = createGatewayAuth(loadSecurityConfig({ API_TOKENS: 'api-token', ADMIN_TOKEN: 'admin-token' }));
    const url = await app((a) => {
      a.use('/files', auth.filesAuth);
      a.use('/admin', auth.adminAuth);
    });
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    expect((await call(`${url}/admin/connections`, { authorization: basic('anyone', 'admin-token') })).status).toBe(200);
    expect((await call(`${url}/admin/connections`, { authorization: basic('', 'admin-token') })).status).toBe(200);
    expect((await call(`${url}/admin/connections`, { authorization: basic('admin-token', '') })).status).toBe(401);
    expect((await call(`${url}/admin/connections`, { authorization: basic('x', 'wrong') })).status).toBe(403);
    // The files page signs in the same way, with an API token as the password.
    expect((await call(`${url}/files`, { authorization: basic('x', 'api-token') })).status).toBe(200);
    expect((await call(`${url}/files`, { authorization: basic('x', 'admin-token') })).status).toBe(403);

    for (const accept of ['text/html,application/xhtml+xml,*/*;q=0.8', 'text/event-stream']) {
      const none = await call(`${url}/admin`, { accept });
      expect([none.status, none.challenge]).toEqual([401, 'Basic realm="ringstore admin", charset="UTF-8"']);
      // A mistyped password prompts again rather than locking the browser out.
      const wrong = await call(`${url}/admin/events`, { accept, authorization: basic('x', 'nope') });
      expect([wrong.status, wrong.challenge]).toEqual([401, 'Basic realm="ringstore admin", charset="UTF-8"']);
      expect((await call(`${url}/admin/events`, { accept, authorization: basic('x', 'admin-token') })).status).toBe(200);
    }
    // API clients keep the Bearer challenge; a script on a page (Sec-Fetch-Site) gets Basic,
    // which the browser answers with the credentials it asked for when the page loaded.
    expect((await call(`${url}/admin/connections`)).challenge).toBe('Bearer realm="ringstore admin"');
    const fromPage = await fetch(`${url}/files`, { headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect([fromPage.status, fromPage.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="ringstore files", charset="UTF-8"']);
  });
});
