import { startCluster, type Cluster } from '../helpers/cluster';
import { download, sha256, testData, uploadRaw } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

/**
 * A real cluster of 6 storage servers (R=2, repair and scrub on demand) holding `count` files
 * of 100 KB-1 MB, every chunk with its 2 replicas. Chunks of at most ~170 KB are small against
 * a rebalance's band. Moved copies are deleted 6 s after their move (longer than
 * FILE_CACHE_TTL_MS, 5 s, so no reader still holds metadata naming a deleted copy), by cleanup
 * every second.
 */
export async function clusterWithFiles(postgresUrl: string | undefined, env: Record<string, string>, count: number): Promise<{ cluster: Cluster; files: StoredFile[] }> {
  const cluster = await startCluster({
    storageServers: 6,
    postgresUrl,
    env: {
      REPLICATION_FACTOR: '2',
      REPAIR_INTERVAL_MS: '0',
      SCRUB_INTERVAL_MS: '0',
      MOVE_DELETE_DELAY_MS: '6000',
      CLEANUP_INTERVAL_MS: '1000',
      ...env,
    },
  });
  const files: StoredFile[] = [];
  for (let i = 0; i < count; i++) {
    const data = testData(100_000 + Math.floor(Math.random() * 900_000));
    files.push({ fileId: (await uploadRaw(cluster.gateway.url, data)).file_id, data });
  }
  await repairUntilReplicated(cluster.gateway.url, files, 2);
  return { cluster, files };
}

/** A file the test uploaded, with its bytes to compare. */
export interface StoredFile {
  fileId: string;
  data: Buffer;
}

export interface LoadResult {
  requests: number;
  /** Every request that did not succeed, or served wrong bytes. */
  failures: string[];
}

/**
 * Clients keeping a cluster busy while it changes: each worker downloads a random file of
 * `files` and checks it byte for byte, and (with uploads) stores new small files, added to
 * `files` once acknowledged. Runs until stop().
 */
export function startLoad(gatewayUrl: string, files: StoredFile[], options: { workers: number; uploads: boolean }): { stop(): Promise<LoadResult> } {
  const result: LoadResult = { requests: 0, failures: [] };
  let stopping = false;
  const worker = async (): Promise<void> => {
    while (!stopping) {
      result.requests++;
      try {
        if (options.uploads && Math.random() < 0.3) {
          const data = testData(10_000 + Math.floor(Math.random() * 50_000));
          files.push({ fileId: (await uploadRaw(gatewayUrl, data, 'load.bin')).file_id, data });
        } else {
          const file = files[Math.floor(Math.random() * files.length)];
          const got = await download(gatewayUrl, file.fileId);
          if (got.status !== 200) result.failures.push(`download of ${file.fileId}: ${got.status} ${got.body.toString().slice(0, 200)}`);
          else if (sha256(got.body) !== sha256(file.data)) result.failures.push(`download of ${file.fileId}: wrong bytes`);
        }
      } catch (error) {
        result.failures.push((error as Error).message);
      }
    }
  };
  const running = Promise.all(Array.from({ length: options.workers }, worker));
  return {
    async stop() {
      stopping = true;
      await running;
      return result;
    },
  };
}

/** Every file downloads byte-exact. */
export async function expectAllByteExact(gatewayUrl: string, files: StoredFile[]): Promise<void> {
  for (const file of files) {
    const got = await download(gatewayUrl, file.fileId);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(file.data));
  }
}

/** `ringstore admin ...` against the gateway; resolves with its exit code and output. */
export async function admin(gatewayUrl: string, ...args: string[]): Promise<{ code: number | null; output: string }> {
  const child = new RingstoreProcess(['admin', ...args], { RINGSTORE_URL: gatewayUrl });
  const { code } = await child.exited();
  return { code, output: child.lines.map((line) => line.message).join('\n') };
}

/** GET /admin/servers, the parts the tests read. */
export interface ServersView {
  servers: Array<{
    server_id: string;
    address: string;
    membership: string;
    chunks: number;
    bytes: number;
    copies_to_delete: number;
    deviation_percent: number | null;
    drain: { percent_done: number; chunks_left: number; chunks_total: number } | null;
  }>;
  balance: { band_percent: number; balanced: boolean; servers_outside_band: number; bytes_to_move: number };
  drain: { running: boolean; outcome: string | null; report: Record<string, number> } | null;
  rebalance: { running: boolean; outcome: string | null; report: Record<string, number> } | null;
}

export async function serversView(gatewayUrl: string): Promise<ServersView> {
  const res = await fetch(`${gatewayUrl}/admin/servers`);
  expect(res.status).toBe(200);
  return (await res.json()) as ServersView;
}

interface Metadata {
  chunks: Array<{ chunk_id: string; replicas: Array<{ server_id: string; status: string }> }>;
}

/** Each chunk of the files with its stored replicas' servers. */
export async function storedReplicas(gatewayUrl: string, files: StoredFile[]): Promise<Array<{ chunkId: string; servers: string[] }>> {
  const found: Array<{ chunkId: string; servers: string[] }> = [];
  for (const file of files) {
    const meta = (await (await fetch(`${gatewayUrl}/files/${file.fileId}/metadata`)).json()) as Metadata;
    for (const chunk of meta.chunks) {
      found.push({ chunkId: chunk.chunk_id, servers: chunk.replicas.filter((r) => r.status === 'stored').map((r) => r.server_id) });
    }
  }
  return found;
}

/** Runs repair until every chunk of the files has `copies` stored replicas (an upload under load may keep fewer). */
export async function repairUntilReplicated(gatewayUrl: string, files: StoredFile[], copies: number): Promise<void> {
  await waitFor(
    async () => {
      await fetch(`${gatewayUrl}/admin/jobs/repair`, { method: 'POST' });
      return (await storedReplicas(gatewayUrl, files)).every((chunk) => new Set(chunk.servers).size >= copies);
    },
    { timeoutMs: 60_000, intervalMs: 500, what: `every chunk with ${copies} replicas` },
  );
}
