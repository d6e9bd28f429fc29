import net from 'node:net';
import { startCluster, type Cluster, type GatewayNode, type StorageNode } from '../helpers/cluster';
import { chunkIdsOnDisk, download, testData, uploadRaw } from '../helpers/files';
import { freePort } from '../helpers/ports';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

/*
 * Many hosts on one machine: Linux routes all of 127.0.0.0/8 to the loopback device, so every
 * 127.0.0.N is an address a process can bind alone. Each storage server gets its own address
 * and all of them the same port, as on separate hosts; gateways get addresses of their own.
 * The README's "Many hosts" recipe runs exactly this layout.
 */
const postgresUrl = process.env.TEST_DATABASE_URL;
// Several gateways share metadata only through PostgreSQL, and the embedded store belongs to one
// process; CI always sets TEST_DATABASE_URL, so this skips only on a machine without PostgreSQL.
const describeWithPostgres = postgresUrl ? describe : describe.skip;

const GATEWAY_HOST = (n: number) => `127.0.0.${9 + n}`; // 127.0.0.10, 127.0.0.11
const STORAGE_HOST = (n: number) => `127.0.0.${1 + n}`; // 127.0.0.2 ... 127.0.0.7
const FIRST_STORAGE_SERVERS = 5; // the sixth, 127.0.0.7, joins while uploads run
const REPLICATION_FACTOR = 2; // the gateway's default
const CHUNKS_PER_FILE = 6; // files of 4 KiB and more with MIN_CHUNK_SIZE 512 bytes: 6 chunks each
const FILES_AFTER_JOIN = 40; // 240 chunks: enough to tell a fair share from none or all

interface ServersResponse {
  servers: Array<{ server_id: string; address: string; live: boolean; in_ring: boolean; state: string | null }>;
}
interface MetadataResponse {
  chunks: Array<{ chunk_id: string; replicas: Array<{ server_id: string; server_address: string | null }> }>;
}
interface StoredFile {
  fileId: string;
  data: Buffer;
  /** Upload started once every gateway-visible server, the new one included, was Ready. */
  afterJoin: boolean;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The error code of a TCP connect, or 'connected'. */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Uploaders each sending one small file after another until stopped; every upload must succeed. */
function startUploadLoop(gateway: GatewayNode, stored: StoredFile[], isAfterJoin: () => boolean, uploaders = 2) {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const uploader = async (): Promise<void> => {
    while (running) {
      const n = sent++;
      const afterJoin = isAfterJoin();
      const data = testData(4096 + n);
      try {
        const up = await uploadRaw(gateway.url, data, `traffic-${n}.bin`);
        stored.push({ fileId: up.file_id, data, afterJoin });
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const finished = Promise.all(Array.from({ length: uploaders }, uploader));
  return {
    failures,
    stop: async () => {
      running = false;
      await finished;
    },
  };
}

describeWithPostgres('many hosts: storage servers and gateways on their own loopback addresses', () => {
  let cluster: Cluster;
  let storagePort: number;
  const stored: StoredFile[] = [];

  beforeAll(async () => {
    storagePort = await freePort();
    cluster = await startCluster({
      storageServers: FIRST_STORAGE_SERVERS,
      postgresUrl,
      gatewayHost: GATEWAY_HOST,
      storageHost: STORAGE_HOST,
      storagePort,
      env: { MIN_CHUNK_SIZE: '512' },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  it('dials every storage server at its own address, which is not reachable on 127.0.0.1', async () => {
    // Checked first, while no other process has had time to take the port on 127.0.0.1.
    expect(await tcpConnect('127.0.0.1', storagePort)).toBe('ECONNREFUSED');
    const { servers } = await getJson<ServersResponse>(`${cluster.gateway.url}/admin/servers`);
    const expected = cluster.storage.map((node) => ({ server_id: node.serverId, address: `${node.host}:${storagePort}` }));
    expect(servers.map((s) => ({ server_id: s.server_id, address: s.address })).sort(byServerId)).toEqual(expected.sort(byServerId));
    const hosts = Array.from({ length: FIRST_STORAGE_SERVERS }, (_, i) => STORAGE_HOST(i + 1));
    expect(cluster.storage.map((node) => node.host).sort()).toEqual(hosts);
    for (const server of servers) expect(server).toMatchObject({ live: true, in_ring: true, state: 'Ready' });
  });

  it('stores and serves files byte-exact, their chunks spread over the hosts', async () => {
    for (const size of [0, 5, 100_000, 3 * 1024 * 1024 + 17]) {
      const data = testData(size);
      const up = await uploadRaw(cluster.gateway.url, data, `file-${size}.bin`);
      stored.push({ fileId: up.file_id, data, afterJoin: false });
      const got = await download(cluster.gateway.url, up.file_id);
      expect(got.status).toBe(200);
      expect(got.body.equals(data)).toBe(true);
    }
    const big = stored[stored.length - 1];
    const meta = await getJson<MetadataResponse>(`${cluster.gateway.url}/files/${big.fileId}/metadata`);
    const hosts = new Set(meta.chunks.flatMap((c) => c.replicas.map((r) => r.server_address)));
    expect(hosts.size).toBeGreaterThan(1);
    for (const host of hosts) expect(host).toMatch(new RegExp(`^127\\.0\\.0\\.[2-6]:${storagePort}$`));
  });

  it('puts a storage server added while uploads run to work on its fair share of new chunks', async () => {
    let joined = false;
    const loop = startUploadLoop(cluster.gateway, stored, () => joined);
    let added: StorageNode;
    try {
      // A failed upload ends the wait at once; the failures are asserted below.
      await waitFor(() => stored.length >= 10 || loop.failures.length > 0, { timeoutMs: 10_000, what: 'uploads to flow' });
      added = await cluster.addStorage();
      await cluster.waitForReady(FIRST_STORAGE_SERVERS + 1);
      joined = true;
      await waitFor(() => stored.filter((f) => f.afterJoin).length >= FILES_AFTER_JOIN || loop.failures.length > 0, {
        timeoutMs: 30_000,
        what: `${FILES_AFTER_JOIN} uploads after the new server joined`,
      });
    } finally {
      await loop.stop();
    }
    expect(loop.failures).toEqual([]);
    expect(added.address).toBe(`${STORAGE_HOST(FIRST_STORAGE_SERVERS + 1)}:${storagePort}`);

    const chunksOnNew: string[] = [];
    let chunks = 0;
    for (const file of stored.filter((f) => f.afterJoin)) {
      const meta = await getJson<MetadataResponse>(`${cluster.gateway.url}/files/${file.fileId}/metadata`);
      for (const chunk of meta.chunks) {
        chunks++;
        const replica = chunk.replicas.find((r) => r.server_id === added.serverId);
        if (!replica) continue;
        expect(replica.server_address).toBe(added.address);
        chunksOnNew.push(chunk.chunk_id);
      }
    }
    expect(chunks).toBeGreaterThanOrEqual(FILES_AFTER_JOIN * CHUNKS_PER_FILE);
    // With R copies over N servers each server holds R/N of the chunks; hashing spreads them
    // unevenly, but far less than by half.
    const fairShare = (chunks * REPLICATION_FACTOR) / (FIRST_STORAGE_SERVERS + 1);
    expect(chunksOnNew.length).toBeGreaterThan(fairShare * 0.5);
    expect(chunksOnNew.length).toBeLessThan(fairShare * 1.5);
    const onDisk = await chunkIdsOnDisk(added.dataDir);
    expect(chunksOnNew.filter((id) => !onDisk.has(id.toLowerCase()))).toEqual([]);
  }, 90_000);

  it('serves from a gateway started later everything the first stored, and it sees every server', async () => {
    const second = await cluster.addGateway();
    expect(second.url).toBe(`http://${GATEWAY_HOST(2)}:${second.port}`);
    await cluster.waitForReady(FIRST_STORAGE_SERVERS + 1, second);

    const { servers } = await getJson<ServersResponse>(`${second.url}/admin/servers`);
    expect(servers.map((s) => s.address).sort()).toEqual(cluster.storage.map((node) => node.address).sort());
    for (const server of servers) expect(server).toMatchObject({ live: true, in_ring: true, state: 'Ready' });

    expect(stored.length).toBeGreaterThan(FILES_AFTER_JOIN);
    const mismatches: string[] = [];
    for (const file of stored) {
      const got = await download(second.url, file.fileId);
      if (got.status !== 200 || !got.body.equals(file.data)) mismatches.push(`${file.fileId}: ${got.status}, ${got.body.length}/${file.data.length} bytes`);
    }
    expect(mismatches).toEqual([]);

    // And the other way round: the first serves what the second stores.
    const data = testData(200_000);
    const up = await uploadRaw(second.url, data, 'from-second.bin');
    const got = await download(cluster.gateway.url, up.file_id);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
  });
});

function byServerId(a: { server_id: string }, b: { server_id: string }): number {
  return a.server_id.localeCompare(b.server_id);
}
