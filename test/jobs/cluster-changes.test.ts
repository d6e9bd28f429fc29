import { randomUUID } from 'node:crypto';
import { runCleanup } from '../../src/jobs/cleanup';
import { createClusterChanges, type ClusterChanges } from '../../src/jobs/cluster-changes';
import type { MovesConfig } from '../../src/jobs/config';
import { ReplicaMover } from '../../src/jobs/replica-mover';
import { Upload } from '../../src/files/upload';
import type { MetadataStore } from '../../src/metadata/types';
import { createMetrics } from '../../src/observability/metrics';
import { MembershipError, UnknownServerError } from '../../src/replicas/membership-errors';
import { Placement } from '../../src/replicas/placement';
import { ServerRegistry } from '../../src/replicas/registry';
import { Replicas } from '../../src/replicas/replicas';
import { StorageClient } from '../../src/rpc/storage-client';
import { createLogger } from '../../src/util/logger';
import { chunkIdsOnDisk, sha256, testData } from '../helpers/files';
import { openTestPglite, type TestStore } from '../helpers/metadata';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import { makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { FakeSupervisor } from './fakes';

/**
 * Drain, remove and rebalance through the real replica layer, registry and metadata store
 * (PGlite) against real storage servers: chunks really stream between them. Only the
 * connection supervisor is a fake (always Ready), so the jobs run at once on demand.
 */

const log = createLogger('cluster-changes-test');
const MOVES: MovesConfig = { drainIntervalMs: 0, rebalanceIntervalMs: 0, rebalanceBandPercent: 10, bandwidthBytesPerSec: 0, concurrency: 2, deleteDelayMs: 0 };
const GiB = 1024 ** 3;

let servers: SpawnedStorageServer[];
let supervisor: FakeSupervisor;
let opened: TestStore;
let store: MetadataStore;
let registry: ServerRegistry;
let replicas: Replicas;
let cluster: ClusterChanges;
const files: Array<{ fileId: string; data: Buffer }> = [];

beforeAll(async () => {
  servers = await Promise.all([1, 2, 3, 4].map(async () => spawnStorageServer(await makeTempDir('ringstore-moves-'))));
  supervisor = new FakeSupervisor(new Map(servers.map((s) => [s.serverId, StorageClient.connect(s.address)])));
  opened = await openTestPglite();
  store = opened.store;
  registry = new ServerRegistry(store, supervisor, { ringRefreshIntervalMs: 60_000, serverHeartbeatTimeoutMs: 60_000, placementMinFreeBytes: GiB }, log);
  for (const s of servers) await registry.join({ id: s.serverId, address: s.address, availableSpace: 100 * GiB, totalSpace: 200 * GiB });
  const placement = new Placement(() => registry.currentRing(), supervisor, 2);
  replicas = new Replicas({ supervisor, placement, store, log, writeQuorum: 2, streamIdleTimeoutMs: 10_000, callTimeoutMs: 10_000 });
  cluster = createClusterChanges({ store, replicas, registry, config: MOVES, gatewayId: 'gw-test', metrics: createMetrics() });
}, 120_000);

afterAll(async () => {
  await supervisor?.close();
  await opened?.cleanup();
  await RingstoreProcess.killAll();
  await removeTempDirs();
});

const ids = () => servers.map((s) => s.serverId);
const [drainJob, rebalanceJob] = [() => cluster.jobs[0], () => cluster.jobs[1]];

/** A file stored as the gateway stores one: chunks written to R servers by placement, then its metadata. */
async function storeFile(size: number): Promise<{ fileId: string; data: Buffer }> {
  const data = testData(size);
  const upload = new Upload((expected) => replicas.openChunk(expected), { sizeOf: () => Math.ceil(size / 4) }, size);
  await upload.write(data);
  const content = await upload.finish();
  const file = { fileId: randomUUID(), data };
  await store.completeUpload({ fileId: file.fileId, filename: 'f.bin', contentType: 'application/octet-stream', ...content });
  files.push(file);
  return file;
}

async function readBack(fileId: string): Promise<Buffer> {
  const record = (await store.getFile(fileId))!;
  const pieces: Buffer[] = [];
  for (const chunk of record.chunks) {
    for await (const piece of replicas.readChunk(chunk, 0, chunk.size)) pieces.push(Buffer.from(piece));
  }
  return Buffer.concat(pieces);
}

async function replicaServers(): Promise<string[][]> {
  const all = await Promise.all(files.map((f) => store.getFile(f.fileId)));
  return all.flatMap((record) => record!.chunks.map((chunk) => chunk.replicas.filter((r) => r.status === 'stored').map((r) => r.serverId)));
}

describe('cluster changes', () => {
  it('drains a server: its chunks move to the others, its copies go, and it ends drained', async () => {
    for (let i = 0; i < 6; i++) await storeFile(200_000 + i * 1000);
    const holdings = await cluster.admin.holdings();
    const victim = [...holdings.servers].sort((a, b) => b[1].chunks - a[1].chunks)[0][0];
    const node = servers.find((s) => s.serverId === victim)!;
    expect((await chunkIdsOnDisk(node.dataDir)).size).toBeGreaterThan(0);

    // Named by its address, as an operator may.
    const draining = await cluster.admin.drain(node.address);
    expect(draining).toMatchObject({ id: victim, membership: 'draining' });
    expect(draining.drainStart!.chunks).toBe(holdings.servers.get(victim)!.chunks);
    // New chunks stop going there at once.
    expect(registry.ringServerIds().has(victim)).toBe(false);
    const during = await storeFile(50_000);
    expect((await store.getFile(during.fileId))!.chunks.every((c) => c.replicas.every((r) => r.serverId !== victim))).toBe(true);

    const report = await drainJob().runNow();
    expect(report).toMatchObject({ serversDraining: 1, chunksFailed: 0, serversDrained: 1 });
    expect(report!.chunksMoved).toBe(holdings.servers.get(victim)!.chunks);

    for (const servers of await replicaServers()) {
      expect(servers).not.toContain(victim);
      expect(new Set(servers).size).toBe(2);
    }
    for (const f of files) expect(sha256(await readBack(f.fileId))).toBe(sha256(f.data));
    expect(await chunkIdsOnDisk(node.dataDir)).toEqual(new Set());
    const after = await cluster.admin.holdings();
    expect(after.servers.get(victim)).toMatchObject({ chunks: 0, bytes: 0, copiesToDelete: 0, drain: { chunksLeft: 0, percentDone: 100 } });
    expect(after.runs.drain).toMatchObject({ running: false, outcome: 'finished', gatewayId: 'gw-test' });
    expect(registry.list().find((s) => s.id === victim)!.membership).toBe('drained');
  });

  it('refuses to remove a server that holds chunks, removes a drained one, and refuses its heartbeats', async () => {
    const drained = registry.list().find((s) => s.membership === 'drained')!;
    const busy = registry.list().find((s) => s.membership === 'active')!;
    await expect(cluster.admin.remove(busy.id, false)).rejects.toThrow(MembershipError);
    await expect(cluster.admin.remove('no-such-server', false)).rejects.toThrow(UnknownServerError);
    expect(registry.list().find((s) => s.id === busy.id)!.membership).toBe('active');

    expect(await cluster.admin.remove(drained.id, false)).toMatchObject({ serverId: drained.id, removed: true, chunks: 0 });
    expect(registry.list().find((s) => s.id === drained.id)!.membership).toBe('removed');
    await expect(registry.join({ id: drained.id, address: drained.address })).rejects.toThrow(MembershipError);
    await expect(cluster.admin.drain(drained.id)).rejects.toThrow(MembershipError);

    // Undrain brings it back into the ring.
    expect(await cluster.admin.undrain(drained.id)).toMatchObject({ membership: 'active', drainStart: null });
    await registry.join({ id: drained.id, address: drained.address, availableSpace: 100 * GiB, totalSpace: 200 * GiB });
    expect(registry.ringServerIds().has(drained.id)).toBe(true);
  });

  it('rebalances onto the empty server until every server is within the band, files byte-exact', async () => {
    const before = await cluster.admin.holdings();
    expect(before.balance.balanced).toBe(false);
    const empty = [...before.servers].find(([, h]) => h.chunks === 0)![0];

    const start = await cluster.admin.rebalance();
    expect(['started', 'finished']).toContain(start.state);
    const report = start.state === 'finished' ? start.report : await rebalanceJob().runNow();
    expect(report).toMatchObject({ chunksFailed: 0, serversOutsideBand: 0 });
    expect(report!.chunksMoved).toBeGreaterThan(0);

    const after = await cluster.admin.holdings();
    expect(after.balance).toMatchObject({ balanced: true, serversOutsideBand: 0 });
    for (const id of ids()) expect(Math.abs(after.servers.get(id)!.deviationPercent!)).toBeLessThanOrEqual(10);
    expect(after.servers.get(empty)!.chunks).toBeGreaterThan(0);
    expect(after.runs.rebalance).toMatchObject({ running: false, outcome: 'finished' });
    for (const servers of await replicaServers()) expect(new Set(servers).size).toBe(2);
    for (const f of files) expect(sha256(await readBack(f.fileId))).toBe(sha256(f.data));
    // Nothing left behind: every copy on disk is a recorded replica.
    const recorded = new Map(ids().map((id) => [id, new Set<string>()]));
    for (const f of files) for (const c of (await store.getFile(f.fileId))!.chunks) for (const r of c.replicas) recorded.get(r.serverId)!.add(c.chunkId);
    for (const s of servers) expect(await chunkIdsOnDisk(s.dataDir)).toEqual(recorded.get(s.serverId));

    // A balanced cluster: a rebalance has nothing to do.
    expect(await rebalanceJob().runNow()).toMatchObject({ chunksMoved: 0, bytesToMove: 0, serversOutsideBand: 0 });
  });

  it('keeps a moved copy readable until its delete is due: the orphan scan leaves it to the log', async () => {
    const file = await storeFile(120_000);
    const chunk = (await store.getFile(file.fileId))!.chunks[0];
    const from = chunk.replicas[0].serverId;
    const to = ids().find((id) => !chunk.replicas.some((r) => r.serverId === id))!;
    const onDisk = async (serverId: string) => (await chunkIdsOnDisk(servers.find((s) => s.serverId === serverId)!.dataDir)).has(chunk.chunkId);
    const [moving] = (await store.chunksOnServer(from, ids(), '', 10_000)).filter((c) => c.chunkId === chunk.chunkId);
    const mover = new ReplicaMover({ store, replicas, bandwidth: { take: async () => undefined }, deleteDelayMs: 5_000, log, job: 'test' });
    expect(await mover.move(moving, from, to)).toMatchObject({ outcome: 'moved', bytes: chunk.size });

    // Not due yet: cleanup, orphan scan included, leaves the old copy, and reads still work.
    const cleanup = () => runCleanup({ store, replicas, log, orphanGraceMs: 0 });
    await cleanup();
    expect(await onDisk(from)).toBe(true);
    expect(await store.pendingDeleteChunkIds([chunk.chunkId], from)).toEqual(new Set([chunk.chunkId]));
    expect(sha256(await readBack(file.fileId))).toBe(sha256(file.data));

    // Once due, cleanup deletes it; the new copy stays.
    await waitFor(async () => (await cleanup(), !(await onDisk(from))), { timeoutMs: 20_000, intervalMs: 250, what: 'the old copy deleted once due' });
    expect(await store.pendingDeleteChunkIds([chunk.chunkId], from)).toEqual(new Set());
    expect(await onDisk(to)).toBe(true);
    expect(sha256(await readBack(file.fileId))).toBe(sha256(file.data));
  });

  it('places new chunks by disk size and away from a server low on space', async () => {
    const [big, low] = ids();
    await registry.join({ id: big, address: servers[0].address, availableSpace: 100 * GiB, totalSpace: 600 * GiB });
    await registry.join({ id: low, address: servers[1].address, availableSpace: GiB / 2, totalSpace: 200 * GiB });
    const ring = registry.currentRing();
    expect(ring.isLowOnSpace(low)).toBe(true);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const [first] = replicas.placement.targets(randomUUID(), new Set(), 1);
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(counts.get(low) ?? 0).toBe(0);
    const others = ids().filter((id) => id !== big && id !== low);
    const mean = others.reduce((sum, id) => sum + (counts.get(id) ?? 0), 0) / others.length;
    // Three times the disk of the others (weights 1.8 : 0.6): about three times their share.
    expect(counts.get(big)! / mean).toBeGreaterThan(2.2);
    expect(counts.get(big)! / mean).toBeLessThan(3.8);
    // Back to room: back in the choice.
    await registry.join({ id: low, address: servers[1].address, availableSpace: 100 * GiB, totalSpace: 200 * GiB });
    expect(registry.currentRing().isLowOnSpace(low)).toBe(false);
  });
});
