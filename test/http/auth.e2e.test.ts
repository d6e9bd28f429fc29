import { randomBytes } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StorageClient } from '../../src/rpc/storage-client';
import { clusterCallMetadata } from '../../src/connection/channel-credentials';
import { loadSecurityConfig } from '../../src/security';
import { clusterForTests, StorageNode } from '../helpers/cluster';
import { sha256, testData } from '../helpers/files';

const unique = () => randomBytes(12).toString('hex');
const TOKENS = {
  API_TOKENS: `api-${unique()},api2-${unique()}`,
  ADMIN_TOKEN: `admin-${unique()}`,
  CLUSTER_TOKEN: `cluster-${unique()}`,
};
const [API_TOKEN, SECOND_API_TOKEN] = TOKENS.API_TOKENS.split(',');
const WRONG = `wrong-${unique()}`;

type Credential = 'right' | 'wrong' | 'none';
const EXPECTED: Record<Credential, number[]> = { right: [200, 201], wrong: [403], none: [401] };

function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

describe('authentication on a real cluster (API_TOKENS, ADMIN_TOKEN, CLUSTER_TOKEN)', () => {
  // The env reaches the storage servers too: they join with CLUSTER_TOKEN and demand it on gRPC.
  const cluster = clusterForTests({ storageServers: 3, postgresUrl: process.env.TEST_DATABASE_URL, env: TOKENS }, 90_000);
  const extraNodes: StorageNode[] = [];

  const call = (route: string, init: RequestInit = {}) => fetch(`${cluster().gateway.url}${route}`, init);

  it('guards every /files route with API_TOKENS: right token passes, wrong gets 403, none gets 401', async () => {
    const data = testData(300_000);
    const token = { right: API_TOKEN, wrong: WRONG, none: undefined } as const;
    const upload = (who: Credential) => call('/files?filename=auth.bin', { method: 'POST', headers: bearer(token[who]), body: new Uint8Array(data) });

    for (const who of ['wrong', 'none'] as const) {
      const res = await upload(who);
      expect([who, res.status]).toEqual([who, EXPECTED[who][0]]);
      expect(((await res.json()) as { error: string }).error).not.toContain(API_TOKEN);
    }
    const created = await upload('right');
    expect(created.status).toBe(201);
    const { file_id: id } = (await created.json()) as { file_id: string };

    for (const who of ['right', 'wrong', 'none'] as const) {
      for (const [method, route] of [['GET', `/files/${id}`], ['HEAD', `/files/${id}`], ['GET', `/files/${id}/metadata`], ['GET', '/files']]) {
        const res = await call(route, { method, headers: bearer(token[who]) });
        expect([who, method, route, EXPECTED[who].includes(res.status)]).toEqual([who, method, route, true]);
        if (who === 'right' && method === 'GET' && route === `/files/${id}`) expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(data));
        else await res.arrayBuffer();
      }
    }
    // Any of the configured tokens is accepted.
    expect((await call(`/files/${id}/metadata`, { headers: bearer(SECOND_API_TOKEN) })).status).toBe(200);
    // The admin token is not an API token.
    expect((await call('/files', { headers: bearer(TOKENS.ADMIN_TOKEN) })).status).toBe(403);

    for (const who of ['wrong', 'none'] as const) {
      expect((await call(`/files/${id}`, { method: 'DELETE', headers: bearer(token[who]) })).status).toBe(EXPECTED[who][0]);
    }
    expect((await call(`/files/${id}`, { method: 'DELETE', headers: bearer(API_TOKEN) })).status).toBe(200);
    expect((await call(`/files/${id}`, { headers: bearer(API_TOKEN) })).status).toBe(404);
  });

  it('guards /metrics and /admin* with ADMIN_TOKEN (Bearer, or Basic for browsers); /health stays open', async () => {
    const token = { right: TOKENS.ADMIN_TOKEN, wrong: API_TOKEN, none: undefined } as const;
    for (const route of ['/metrics', '/admin', '/admin/connections', '/admin/servers', '/admin/repair']) {
      for (const who of ['right', 'wrong', 'none'] as const) {
        const res = await call(route, { headers: bearer(token[who]) });
        expect([route, who, EXPECTED[who].includes(res.status)]).toEqual([route, who, true]);
        await res.arrayBuffer();
      }
    }
    const health = await call('/health');
    expect(health.status).toBe(200);
    expect(((await health.json()) as { storage_servers: number }).storage_servers).toBe(3);

    // A browser: prompted with a Basic challenge, then the token as the password works, EventSource included.
    const page = await call('/admin', { headers: { Accept: 'text/html' } });
    expect([page.status, page.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="ringstore admin", charset="UTF-8"']);
    const basic = { Authorization: `Basic ${Buffer.from(`admin:${TOKENS.ADMIN_TOKEN}`).toString('base64')}` };
    const dashboard = await call('/admin', { headers: { ...basic, Accept: 'text/html' } });
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toMatch(/text\/html/);
    await dashboard.arrayBuffer();
    const controller = new AbortController();
    const events = await call('/admin/events', { headers: { ...basic, Accept: 'text/event-stream' }, signal: controller.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/text\/event-stream/);
    controller.abort();
  });

  it('lets storage servers join only with CLUSTER_TOKEN: a wrong or missing token gets its heartbeat refused', async () => {
    const admin = { headers: bearer(TOKENS.ADMIN_TOKEN) };
    for (const [what, clusterToken, status] of [['a wrong', WRONG, 403], ['no', '', 401]] as const) {
      const rogue = new StorageNode(path.join(cluster().root, `rogue-${status}`), cluster().gateway.url, { ...cluster().env, CLUSTER_TOKEN: clusterToken });
      extraNodes.push(rogue);
      await rogue.start(0);
      const refused = await rogue.proc.waitForLine(
        (l) => l.event === 'heartbeat_state' && l.to === 'failing',
        15_000,
        `the heartbeat of a storage server with ${what} cluster token to fail`,
      );
      expect(refused.message).toContain(`gateway answered ${status}`);
      const { servers } = (await (await call('/admin/servers', admin)).json()) as { servers: Array<{ server_id: string }> };
      const ids = servers.map((s) => s.server_id);
      expect(ids).toHaveLength(3);
      expect(ids).not.toContain(rogue.serverId);
      await rogue.proc.kill('SIGKILL');
    }
    // The members joined with the right token, and stay Ready.
    expect(((await (await call('/health')).json()) as { storage_servers: number }).storage_servers).toBe(3);
  });

  it('storage servers refuse gRPC calls without the right CLUSTER_TOKEN (UNAUTHENTICATED)', async () => {
    const address = cluster().storage[0].address;
    const clientWith = (env: Record<string, string>) =>
      StorageClient.connect(address, { metadata: clusterCallMetadata(loadSecurityConfig(env)), callTimeoutMs: 5_000 });
    for (const [env, expected] of [[{ CLUSTER_TOKEN: WRONG }, 'refused'], [{}, 'refused'], [{ CLUSTER_TOKEN: TOKENS.CLUSTER_TOKEN }, 'ok']] as const) {
      const client = clientWith(env);
      try {
        const outcome = await client.healthCheck().then(
          () => 'ok',
          (e: grpc.ServiceError) => (e.code === grpc.status.UNAUTHENTICATED ? 'refused' : `code ${e.code}`),
        );
        expect([Object.keys(env), outcome]).toEqual([Object.keys(env), expected]);
      } finally {
        client.close();
      }
    }
  });

  it('never writes a token to any log line', () => {
    const processes = [...cluster().gateways.map((g) => g.proc), ...cluster().storage.map((s) => s.proc), ...extraNodes.map((n) => n.proc)];
    const secrets = [API_TOKEN, SECOND_API_TOKEN, TOKENS.ADMIN_TOKEN, TOKENS.CLUSTER_TOKEN, WRONG];
    let lines = 0;
    for (const proc of processes) {
      for (const line of proc.lines) {
        lines++;
        const text = JSON.stringify(line);
        for (const secret of secrets) expect(text.includes(secret) ? `${secret} in ${text}` : 'clean').toBe('clean');
      }
    }
    // The refusals above were logged (without the tokens), so there was something to scan.
    expect(cluster().gateway.proc.lines.some((l) => l.event === 'http_unauthenticated')).toBe(true);
    // Every request is in the access log, the refused ones too.
    expect(cluster().gateway.proc.lines.some((l) => l.event === 'http_request' && l.status === 401 && String(l.path).startsWith('/files'))).toBe(true);
    expect(lines).toBeGreaterThan(20);
  });
});
