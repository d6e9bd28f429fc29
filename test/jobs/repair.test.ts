import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { RepairConfig } from '../../src/jobs/config';
import { RepairJob } from '../../src/jobs/repair';
import { createLogger } from '../../src/util/logger';
import { StorageClient } from '../../src/rpc/storage-client';
import { sha256, testData } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { FakeRepairStore, FakeSupervisor, replicasFor } from './fakes';
import { xorChunkByte } from '../helpers/chunk-on-disk';

/**
 * Repair against real storage servers: the copies really stream between them. The metadata
 * store and the supervisor are in-memory fakes so each case sets up exactly the replica rows it needs.
 */

const log = createLogger('repair-test');
const CONFIG: RepairConfig = { intervalMs: 0, graceMs: 60_000, bandwidthBytesPerSec: 0, concurrency: 2 };
const SIZE = 3 * 1024 * 1024 + 17; // several frames and blocks

let servers: SpawnedStorageServer[];
let supervisor: FakeSupervisor;

beforeAll(async () => {
  servers = await Promise.all([1, 2, 3].map(async () => spawnStorageServer(await makeTempDir('ringstore-repair-'))));
  supervisor = new FakeSupervisor(new Map(servers.map((s) => [s.serverId, StorageClient.connect(s.address)])));
}, 60_000);

afterAll(async () => {
  await supervisor?.close();
  await RingstoreProcess.killAll();
  await removeTempDirs();
});

function client(serverId: string): StorageClient {
  return supervisor.clientIfReady(serverId)!;
}

/** A store knowing the three servers (heard from now) and a chunk of SIZE random bytes. */
function storeWithChunk(replicas: Record<string, 'stored' | 'corrupt'>) {
  const store = new FakeRepairStore();
  for (const s of servers) store.addServer(s.serverId);
  const data = testData(SIZE);
  const chunkId = randomUUID();
  store.addChunk({ chunkId, size: SIZE, checksum: sha256(data), replicas });
  return { store, data, chunkId };
}

function repairJob(store: FakeRepairStore, options: { replicationFactor?: number; config?: Partial<RepairConfig> } = {}): RepairJob {
  const replicationFactor = options.replicationFactor ?? 2;
  return new RepairJob({
    store: store.asStore(),
    replicas: replicasFor(supervisor, store, replicationFactor),
    replicationFactor,
    config: { ...CONFIG, ...options.config },
    log,
  });
}

async function stored(serverId: string, chunkId: string): Promise<Buffer | 'missing'> {
  try {
    return await client(serverId).getChunkBuffer(chunkId);
  } catch (error) {
    if ((error as grpc.ServiceError).code === grpc.status.NOT_FOUND) return 'missing';
    throw error;
  }
}

const ids = () => servers.map((s) => s.serverId);

describe('RepairJob', () => {
  it('copies a missing replica from the healthy one, byte-exact, and records it', async () => {
    const [a] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);

    const report = await repairJob(store).run();

    expect(report).toEqual({ checked: 1, repaired: 1, failed: 0, corruptRemoved: 0, bytesCopied: SIZE });
    const replicas = store.replicasOf(chunkId);
    expect(Object.values(replicas)).toEqual(['stored', 'stored']);
    const copy = Object.keys(replicas).find((id) => id !== a)!;
    expect(sha256((await stored(copy, chunkId)) as Buffer)).toBe(sha256(data));
    // Nothing left to do: a second run finds nothing.
    expect(await repairJob(store).run()).toEqual({ checked: 0, repaired: 0, failed: 0, corruptRemoved: 0, bytesCopied: 0 });
  });

  it('replaces a corrupt replica, then removes its row and deletes it from its server', async () => {
    const [a, b, c] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'corrupt', [b]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);
    await client(b).putChunkBuffer(chunkId, data);
    await xorChunkByte(servers[0].dataDir, chunkId, 5);

    const report = await repairJob(store).run();

    expect(report).toMatchObject({ checked: 1, repaired: 1, failed: 0, corruptRemoved: 1, bytesCopied: SIZE });
    expect(store.replicasOf(chunkId)).toEqual({ [b]: 'stored', [c]: 'stored' });
    expect(sha256((await stored(c, chunkId)) as Buffer)).toBe(sha256(data));
    expect(await stored(a, chunkId)).toBe('missing');
    expect(store.pending).toEqual([]);
  });

  it('removes a corrupt replica left on a chunk that already has its healthy copies', async () => {
    const [a, b, c] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored', [b]: 'stored', [c]: 'corrupt' });
    for (const id of [a, b, c]) await client(id).putChunkBuffer(chunkId, data);
    await xorChunkByte(servers[2].dataDir, chunkId, 5);

    const report = await repairJob(store).run();

    expect(report).toMatchObject({ checked: 1, repaired: 0, failed: 0, corruptRemoved: 1, bytesCopied: 0 });
    expect(store.replicasOf(chunkId)).toEqual({ [a]: 'stored', [b]: 'stored' });
    expect(await stored(c, chunkId)).toBe('missing');
    expect(await repairJob(store).run()).toMatchObject({ checked: 0, corruptRemoved: 0 });
  });

  it('never copies to a server where a copy of the chunk is still being deleted', async () => {
    const [a, b, c] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);
    // Deletes of old copies on b and c that cleanup has not done yet (their servers were down).
    await store.addPendingDeletes([{ chunkId, serverId: b }, { chunkId, serverId: c }]);

    expect(await repairJob(store).run()).toMatchObject({ checked: 1, repaired: 0, failed: 1 });
    expect([await stored(b, chunkId), await stored(c, chunkId)]).toEqual(['missing', 'missing']);

    await store.resolvePendingDelete(chunkId, c); // cleanup got through to c
    expect(await repairJob(store).run()).toMatchObject({ checked: 1, repaired: 1, failed: 0 });
    expect(store.replicasOf(chunkId)).toEqual({ [a]: 'stored', [c]: 'stored' });
    expect(await stored(b, chunkId)).toBe('missing');
  });

  it('marks a source whose bytes turn out bad as corrupt and copies from another replica', async () => {
    // The lowest server id is tried first: make it the one with rotten bytes.
    const [bad, good, target] = [...ids()].sort();
    const { store, data, chunkId } = storeWithChunk({ [bad]: 'stored', [good]: 'stored' });
    await client(bad).putChunkBuffer(chunkId, data);
    await client(good).putChunkBuffer(chunkId, data);
    await xorChunkByte(servers.find((s) => s.serverId === bad)!.dataDir, chunkId, SIZE - 1);

    const report = await repairJob(store, { replicationFactor: 3 }).run();

    // Two healthy copies of the three wanted, and no fourth server to copy to.
    expect(report).toMatchObject({ checked: 1, repaired: 0, failed: 1, bytesCopied: SIZE });
    expect(store.replicasOf(chunkId)).toEqual({ [bad]: 'corrupt', [good]: 'stored', [target]: 'stored' });
    expect(sha256((await stored(target, chunkId)) as Buffer)).toBe(sha256(data));
  });

  it('deletes its copy when the file was deleted while copying', async () => {
    const [a] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);
    store.addReplica = async () => false;

    const report = await repairJob(store).run();

    expect(report).toMatchObject({ checked: 1, repaired: 0, failed: 0, bytesCopied: SIZE });
    for (const serverId of ids().filter((id) => id !== a)) expect(await stored(serverId, chunkId)).toBe('missing');
    expect(store.pending).toEqual([]);
  });

  it('counts a silent server as a restart within the grace period and as a loss after it', async () => {
    const [a, b] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored', [b]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);
    store.addServer(b, new Date(Date.now() - 120_000));

    expect(await repairJob(store, { config: { graceMs: 600_000 } }).run()).toMatchObject({ checked: 0 });
    expect(await repairJob(store, { config: { graceMs: 60_000 } }).run()).toMatchObject({ checked: 1, repaired: 1 });
    const replicas = store.replicasOf(chunkId);
    // The silent server's row stays (what it holds is unknown); a third server got a copy.
    expect(Object.keys(replicas).sort()).toEqual([...ids()].sort());
  });

  it('marks a replica missing from its server and fails the chunk when no replica can be read', async () => {
    const [a] = ids();
    const { store, chunkId } = storeWithChunk({ [a]: 'stored' }); // never actually stored

    const report = await repairJob(store).run();

    expect(report).toMatchObject({ checked: 1, repaired: 0, failed: 1, bytesCopied: 0 });
    expect(store.replicasOf(chunkId)).toEqual({ [a]: 'corrupt' });
  });

  it('reports progress and totals in its status', async () => {
    const [a] = ids();
    const { store, data, chunkId } = storeWithChunk({ [a]: 'stored' });
    await client(a).putChunkBuffer(chunkId, data);
    const job = repairJob(store);
    await job.run();
    const status = job.status();
    expect(status).toMatchObject({ running: false, runs: 1, skipped: 0, under_replicated: 0, last_error: null });
    expect(status.last_run?.report).toMatchObject({ repaired: 1 });
    expect(status.totals).toMatchObject({ repaired: 1, bytesCopied: SIZE });
  });
});
