import { METADATA_BACKENDS, startCluster, type Cluster, type StorageNode } from '../helpers/cluster';
import { chunkIdsOnDisk, download, sha256, testData, uploadRaw } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import { xorChunkByte } from '../helpers/chunk-on-disk';

/**
 * Repair and scrub in a real cluster (gateway + 4 storage servers, R=2): corruption found by
 * scrub, corruption met on a read, and a server lost for good are all healed back to R, and
 * files download byte-exact throughout.
 */

interface Replica { server_id: string; status: 'stored' | 'corrupt' }
interface Metadata {
  chunks: Array<{ chunk_number: number; chunk_id: string; replicas: Replica[] }>;
}
interface JobResponse<R> { job: string; ran: boolean; report: R }
interface RepairReport { checked: number; repaired: number; failed: number; corruptRemoved: number; bytesCopied: number }
interface ScrubReport { serversScanned: number; chunksVerified: number; corruptFound: number }

const SIZE = 3 * 1024 * 1024 + 11;

describe.each(METADATA_BACKENDS)('self-healing on %s', (_name, postgresUrl) => {
  let cluster: Cluster;
  const files: Array<{ fileId: string; data: Buffer }> = [];

  beforeAll(async () => {
    cluster = await startCluster({
      storageServers: 4,
      postgresUrl,
      env: {
        REPLICATION_FACTOR: '2',
        // A silent server leaves the ring and counts as lost after 5 s (heartbeats every 0.5 s).
        SERVER_HEARTBEAT_TIMEOUT_MS: '5000',
        REPAIR_GRACE_MS: '5000',
        // The jobs run only when a test asks.
        REPAIR_INTERVAL_MS: '0',
        SCRUB_INTERVAL_MS: '0',
        CLEANUP_INTERVAL_MS: '3600000',
        SCRUB_RATE: '0',
        FILE_CACHE_TTL_MS: '0',
        // Six chunks per 3 MiB test file (the default 1 MiB would make four).
        MIN_CHUNK_SIZE: '1KiB',
      },
    });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  const node = (serverId: string): StorageNode => cluster.storage.find((s) => s.serverId === serverId)!;
  const allServers = (): string[] => cluster.storage.map((s) => s.serverId);

  async function metadata(fileId: string): Promise<Metadata> {
    const res = await fetch(`${cluster.gateway.url}/files/${fileId}/metadata`);
    expect(res.status).toBe(200);
    return (await res.json()) as Metadata;
  }

  async function runJob<R>(name: 'repair' | 'scrub' | 'cleanup'): Promise<R> {
    const res = await fetch(`${cluster.gateway.url}/admin/jobs/${name}`, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as JobResponse<R>;
    expect(body.ran).toBe(true);
    return body.report;
  }

  async function status(): Promise<{ repair: { totals: RepairReport; under_replicated: number }; scrub: { totals: ScrubReport } }> {
    return (await fetch(`${cluster.gateway.url}/admin/repair`)).json();
  }

  async function expectByteExact(file: { fileId: string; data: Buffer }): Promise<void> {
    const { status: code, body } = await download(cluster.gateway.url, file.fileId);
    expect(code).toBe(200);
    expect(body.length).toBe(file.data.length);
    expect(sha256(body)).toBe(sha256(file.data));
  }

  /** Every chunk has at least 2 stored replicas on distinct servers among `servers`, and no corrupt one. */
  function fullyReplicated(meta: Metadata, servers: string[]): boolean {
    return meta.chunks.every((chunk) => {
      const stored = chunk.replicas.filter((r) => r.status === 'stored' && servers.includes(r.server_id));
      return new Set(stored.map((r) => r.server_id)).size >= 2 && chunk.replicas.every((r) => r.status === 'stored');
    });
  }

  /** Runs repair until `healed` holds; returns the chunks repaired meanwhile. */
  async function repairUntil(healed: () => Promise<boolean>, what: string): Promise<number> {
    let repaired = 0;
    await waitFor(
      async () => {
        repaired += (await runJob<RepairReport>('repair')).repaired;
        return healed();
      },
      { timeoutMs: 30_000, intervalMs: 250, what },
    );
    return repaired;
  }

  /**
   * An uploaded file with R replicas of every chunk (WRITE_QUORUM is R); repair runs until it
   * has nothing to do, so each test starts from a known state.
   */
  async function uploadReplicated(): Promise<{ fileId: string; data: Buffer }> {
    const data = testData(SIZE);
    const file = { fileId: (await uploadRaw(cluster.gateway.url, data)).file_id, data };
    files.push(file);
    await repairUntil(async () => fullyReplicated(await metadata(file.fileId), allServers()), 'the upload to have 2 replicas of every chunk');
    return file;
  }

  it('scrub finds a flipped byte on disk, repair restores R and drops the corrupt replica', async () => {
    const file = await uploadReplicated();
    const chunk = (await metadata(file.fileId)).chunks[2];
    const victim = chunk.replicas[1].server_id;
    await xorChunkByte(node(victim).dataDir, chunk.chunk_id, 100);

    // A server busy enough to be not Ready is skipped by a run and scanned by the next.
    await waitFor(
      async () => {
        await runJob<ScrubReport>('scrub');
        return (await metadata(file.fileId)).chunks[2].replicas.some((r) => r.server_id === victim && r.status === 'corrupt');
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'scrub to mark the flipped replica corrupt' },
    );
    const scrubbed = (await status()).scrub.totals;
    expect(scrubbed.corruptFound).toBe(1);
    expect(scrubbed.chunksVerified).toBeGreaterThanOrEqual(12);

    await repairUntil(async () => {
      const meta = await metadata(file.fileId);
      return fullyReplicated(meta, allServers()) && !meta.chunks[2].replicas.some((r) => r.server_id === victim);
    }, 'repair to replace the corrupt replica');
    expect((await status()).repair.totals.corruptRemoved).toBeGreaterThanOrEqual(1);
    // Deleted from the server at once, or by cleanup when the server was busy.
    await waitFor(async () => !(await chunkIdsOnDisk(node(victim).dataDir)).has(chunk.chunk_id) || (await runJob('cleanup'), false), {
      timeoutMs: 20_000,
      what: 'the corrupt copy to be deleted from its server',
    });
    await expectByteExact(file);
  });

  it('a corrupt replica met on a download is reported, the download stays byte-exact, and repair heals it', async () => {
    const file = await uploadReplicated();
    const chunk = (await metadata(file.fileId)).chunks[4];
    // Reads try the first stored replica first (when its server is Ready): make that the rotten one.
    const victim = chunk.replicas[0].server_id;
    await xorChunkByte(node(victim).dataDir, chunk.chunk_id, 7);

    await waitFor(
      async () => {
        await expectByteExact(file);
        return (await metadata(file.fileId)).chunks[4].replicas.some((r) => r.server_id === victim && r.status === 'corrupt');
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'a download to find the rotten replica and mark it corrupt' },
    );

    await repairUntil(async () => {
      const meta = await metadata(file.fileId);
      return fullyReplicated(meta, allServers()) && !meta.chunks[4].replicas.some((r) => r.server_id === victim);
    }, 'repair to replace the replica the download found corrupt');
    await expectByteExact(file);
  });

  it('copies the chunks of a server gone past the grace period back to R on the live servers', async () => {
    const file = await uploadReplicated();
    const lost = (await metadata(file.fileId)).chunks[0].replicas[0].server_id;
    const survivors = allServers().filter((id) => id !== lost);
    const metas = await Promise.all(files.map((f) => metadata(f.fileId)));
    // Chunks that lose their second copy with the server.
    const needRepair = metas
      .flatMap((meta) => meta.chunks)
      .filter((chunk) => chunk.replicas.some((r) => r.server_id === lost))
      .filter((chunk) => chunk.replicas.filter((r) => r.status === 'stored' && survivors.includes(r.server_id)).length < 2).length;
    expect(needRepair).toBeGreaterThan(0);
    await node(lost).proc.kill('SIGKILL');

    // Within the grace period the silent server still counts; after it, repair copies.
    const repaired = await repairUntil(async () => {
      const all = await Promise.all(files.map((f) => metadata(f.fileId)));
      return all.every((meta) => fullyReplicated(meta, survivors)) && (await status()).repair.under_replicated === 0;
    }, 'every chunk to have 2 stored replicas on live servers');
    expect(repaired).toBeGreaterThanOrEqual(needRepair);
    for (const f of files) await expectByteExact(f);

    const metrics = await (await fetch(`${cluster.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^ringstore_chunks_under_replicated 0$/m);
    expect(metrics).toMatch(/^ringstore_repair_bytes_copied_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^ringstore_job_runs_total\{job="repair",outcome="ran"\} [1-9]\d*$/m);
  });
});
