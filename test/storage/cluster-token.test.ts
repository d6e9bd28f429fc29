import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { StorageClient } from '../../src/rpc/storage-client';
import { clusterCallMetadata, grpcChannelCredentials } from '../../src/connection/channel-credentials';
import { createGatewayAuth } from '../../src/http/auth';
import { loadSecurityConfig, type SecurityConfig } from '../../src/security';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer, codeOf } from '../helpers/storage-server';
import { makeTestPki, type TestPki } from '../security/test-pki';
import { describeIfFound, toolOrSkip, TOOLS } from '../helpers/tools';

// Throwaway certificates are made with the openssl CLI.
const OPENSSL = toolOrSkip(TOOLS.openssl, 'test/storage/cluster-token.test.ts');

const CLUSTER_TOKEN = 'cluster-token-4f1c9a';
const WRONG_TOKEN = 'cluster-token-wrong-77';

/** A client for the storage server at `address` built from env-style settings, as a gateway would. */
function clientFor(address: string, env: Record<string, string>): StorageClient {
  const config: SecurityConfig = loadSecurityConfig(env);
  return StorageClient.connect(address, {
    credentials: grpcChannelCredentials(config),
    metadata: clusterCallMetadata(config),
    callTimeoutMs: 5_000,
  });
}

/** A put, a get and a list through `client`: the whole surface a gateway uses. */
async function roundTrip(client: StorageClient): Promise<void> {
  const id = randomUUID();
  const data = randomBytes(300_000);
  expect(await client.putChunkBuffer(id, data)).toMatchObject({ success: true });
  expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
  const listed: string[] = [];
  for await (const info of client.listChunks()) listed.push(info.chunk_id);
  expect(listed).toContain(id);
  expect((await client.healthCheck()).status).toBe('healthy');
}

describeIfFound(OPENSSL)('storage server authentication and transport security', () => {
  let pki: TestPki;
  let tokenServer: SpawnedStorageServer;
  let tlsServer: SpawnedStorageServer;
  let mutualServer: SpawnedStorageServer;
  let gateway: Server;
  const joins: Array<{ address: string; authorized: boolean }> = [];
  const clients: StorageClient[] = [];
  const track = (client: StorageClient): StorageClient => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    const dir = await makeTempDir('ringstore-grpc-auth-');
    pki = makeTestPki(dir);

    // The gateway's join guard in front of a recorder, to see what storage servers send.
    const auth = createGatewayAuth(loadSecurityConfig({ CLUSTER_TOKEN, ADMIN_TOKEN: 'admin-token-x' }));
    const app = express();
    app.use('/admin/servers', auth.adminAuth, express.json(), (req, res) => {
      joins.push({ address: req.body.address, authorized: true });
      res.status(200).json({ ok: true });
    });
    gateway = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const joinUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;

    const tls = { GRPC_TLS_CERT: pki.serverCert, GRPC_TLS_KEY: pki.serverKey };
    [tokenServer, tlsServer, mutualServer] = await Promise.all([
      spawnStorageServer(path.join(dir, 'token'), { env: { CLUSTER_TOKEN, JOIN_URL: joinUrl } }),
      spawnStorageServer(path.join(dir, 'tls'), { env: { ...tls, CLUSTER_TOKEN: WRONG_TOKEN, JOIN_URL: joinUrl } }),
      spawnStorageServer(path.join(dir, 'mutual'), { env: { ...tls, GRPC_TLS_CA: pki.caCert, CLUSTER_TOKEN } }),
    ]);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await RingstoreProcess.killAll();
    await new Promise((resolve) => gateway?.close(resolve));
    await removeTempDirs();
  });

  describe('CLUSTER_TOKEN', () => {
    it('serves every call that carries the right token', async () => {
      await roundTrip(track(clientFor(tokenServer.address, { CLUSTER_TOKEN })));
    });

    it.each([
      ['no token', {}, /requires the cluster token/],
      ['a wrong token', { CLUSTER_TOKEN: WRONG_TOKEN }, /does not match/],
    ])('refuses every StorageService call with %s as UNAUTHENTICATED and writes nothing', async (_what, env, details) => {
      const client = track(clientFor(tokenServer.address, env as Record<string, string>));
      const id = randomUUID();
      const failure = await client.healthCheck().catch((e: grpc.ServiceError) => e);
      expect((failure as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
      expect((failure as grpc.ServiceError).details).toMatch(details);
      expect(await codeOf(client.putChunkBuffer(id, randomBytes(2 * 1024 * 1024)))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf(client.getChunkBuffer(id))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf(client.deleteChunk(id))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf(client.verifyChunk(id))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await codeOf((async () => { for await (const _ of client.listChunks()) { /* drain */ } })())).toBe(grpc.status.UNAUTHENTICATED);
      expect(await fs.readdir(path.join(tokenServer.dataDir, 'tmp'))).toEqual([]);
    });

    it('keeps grpc.health.v1.Health open for orchestrator probes', async () => {
      const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
      const health = new Health(tokenServer.address, grpc.credentials.createInsecure());
      try {
        const reply = await new Promise<{ status: string }>((resolve, reject) => {
          (health as unknown as { check: (req: object, opts: object, cb: (e: Error | null, r: { status: string }) => void) => void })
            .check({ service: 'storage.StorageService' }, { deadline: Date.now() + 5_000 }, (e, r) => (e ? reject(e) : resolve(r)));
        });
        expect(reply.status).toBe('SERVING');
      } finally {
        health.close();
      }
    });

    it('sends the token with its join; a server with a wrong token is refused and says so', async () => {
      await tokenServer.process.waitForLine((l) => l.event === 'heartbeat_state' && l.to === 'joined', 10_000, 'join accepted');
      expect(joins.map((j) => j.address)).toContain(tokenServer.address);
      const refused = await tlsServer.process.waitForLine((l) => l.event === 'heartbeat_state' && l.to === 'failing', 10_000, 'join refused');
      expect(refused.message).toMatch(/403/);
      expect(joins.map((j) => j.address)).not.toContain(tlsServer.address);
    });

    it('never writes a token to the log', async () => {
      const everything = [tokenServer, tlsServer, mutualServer].flatMap((s) => s.process.lines.map((l) => JSON.stringify(l)));
      expect(everything.some((line) => line.includes('rpc_unauthenticated'))).toBe(true);
      expect(everything.filter((line) => line.includes(CLUSTER_TOKEN) || line.includes(WRONG_TOKEN))).toEqual([]);
    });
  });

  describe('TLS', () => {
    it('round-trips over TLS with the CA that signed the server certificate', async () => {
      expect((await tlsServer.process.waitForLine((l) => l.event === 'listening')).transport).toBe('tls');
      await roundTrip(track(clientFor(tlsServer.address, { GRPC_TLS_CA: pki.caCert, CLUSTER_TOKEN: WRONG_TOKEN })));
    });

    it('cannot be reached in plaintext or by a client that trusts another CA', async () => {
      const plaintext = track(clientFor(tlsServer.address, { CLUSTER_TOKEN: WRONG_TOKEN }));
      expect(await codeOf(plaintext.healthCheck({ deadlineMs: 3_000 }))).toBe(grpc.status.UNAVAILABLE);
      const rogueCa = path.join(path.dirname(pki.caCert), 'rogue-ca.crt');
      const distrusting = track(clientFor(tlsServer.address, { GRPC_TLS_CA: rogueCa, CLUSTER_TOKEN: WRONG_TOKEN }));
      expect(await codeOf(distrusting.healthCheck({ deadlineMs: 3_000 }))).toBe(grpc.status.UNAVAILABLE);
    });
  });

  describe('mutual TLS', () => {
    const clientCert = (): Record<string, string> => ({ GRPC_TLS_CA: pki.caCert, GRPC_TLS_CLIENT_CERT: pki.clientCert, GRPC_TLS_CLIENT_KEY: pki.clientKey });

    it('round-trips with a client certificate from the CA and the cluster token', async () => {
      expect((await mutualServer.process.waitForLine((l) => l.event === 'listening')).transport).toBe('mutual-tls');
      await roundTrip(track(clientFor(mutualServer.address, { ...clientCert(), CLUSTER_TOKEN })));
    });

    it('refuses the handshake without a client certificate or with one from another CA', async () => {
      const noCert = track(clientFor(mutualServer.address, { GRPC_TLS_CA: pki.caCert, CLUSTER_TOKEN }));
      expect(await codeOf(noCert.healthCheck({ deadlineMs: 3_000 }))).toBe(grpc.status.UNAVAILABLE);
      const rogue = track(clientFor(mutualServer.address, {
        GRPC_TLS_CA: pki.caCert, GRPC_TLS_CLIENT_CERT: pki.rogueClientCert, GRPC_TLS_CLIENT_KEY: pki.rogueClientKey, CLUSTER_TOKEN,
      }));
      expect(await codeOf(rogue.healthCheck({ deadlineMs: 3_000 }))).toBe(grpc.status.UNAVAILABLE);
    });

    it('still wants the cluster token from a client with a valid certificate', async () => {
      const noToken = track(clientFor(mutualServer.address, clientCert()));
      expect(await codeOf(noToken.healthCheck())).toBe(grpc.status.UNAUTHENTICATED);
    });
  });

  it('refuses to start with a TLS setting that cannot work, naming the variable', async () => {
    const child = new RingstoreProcess(['storage', '--port', '0', '--data', path.join(path.dirname(pki.caCert), 'bad')], {
      GRPC_TLS_CERT: pki.serverCert, GRPC_TLS_KEY: pki.clientKey,
    });
    const exit = await child.exited();
    expect(exit.code).not.toBe(0);
    expect(child.lines.map((l) => l.message).join('\n')).toMatch(/GRPC_TLS_KEY .* is not the private key of GRPC_TLS_CERT/);
  });
});
