import type { ConnectionSupervisor } from '../../src/connection/types';
import type { ChunkToRepair, MetadataStore, PendingDelete, ScrubCursor, ServerRecord } from '../../src/metadata/types';
import { HashRing } from '../../src/replicas/hash-ring';
import { Placement } from '../../src/replicas/placement';
import { Replicas } from '../../src/replicas/replicas';
import type { StorageClient } from '../../src/rpc/storage-client';
import { createLogger } from '../../src/util/logger';

type ReplicaStatus = 'stored' | 'corrupt';

interface FakeChunk {
  fileId: string;
  chunkId: string;
  size: number;
  checksum: string;
  replicas: Map<string, ReplicaStatus>;
}

/**
 * The repair- and scrub-related part of MetadataStore in memory, with the same semantics as the
 * SQL store (healthy = 'stored' on a live server; addReplica fails once the file is gone).
 */
export class FakeRepairStore {
  readonly chunks = new Map<string, FakeChunk>();
  readonly servers = new Map<string, ServerRecord>();
  readonly pending: PendingDelete[] = [];
  readonly scrubPositions = new Map<string, ScrubCursor>();

  addServer(id: string, lastHeartbeatAt = new Date()): void {
    this.servers.set(id, {
      id,
      address: id,
      joinedAt: new Date(0),
      lastHeartbeatAt,
      availableSpace: null,
      totalSpace: null,
      membership: 'active',
      membershipChangedAt: null,
      drainStart: null,
    });
  }

  addChunk(chunk: { chunkId: string; size: number; checksum: string; replicas: Record<string, ReplicaStatus> }): void {
    this.chunks.set(chunk.chunkId, { fileId: 'file-1', ...chunk, replicas: new Map(Object.entries(chunk.replicas)) });
  }

  replicasOf(chunkId: string): Record<string, ReplicaStatus> {
    return Object.fromEntries(this.chunks.get(chunkId)?.replicas ?? []);
  }

  async listServers(): Promise<ServerRecord[]> {
    return [...this.servers.values()];
  }

  async chunksToRepair(replicationFactor: number, liveServerIds: string[], limit: number): Promise<ChunkToRepair[]> {
    const live = new Set(liveServerIds);
    const found: ChunkToRepair[] = [];
    for (const chunk of this.chunks.values()) {
      const healthy = [...chunk.replicas].filter(([id, status]) => status === 'stored' && live.has(id)).map(([id]) => id);
      const corruptOnLive = [...chunk.replicas].some(([id, status]) => status === 'corrupt' && live.has(id));
      if (healthy.length >= replicationFactor && !corruptOnLive) continue;
      const deleting = this.pending.filter((p) => p.chunkId === chunk.chunkId).map((p) => p.serverId);
      found.push({ ...chunk, healthyServerIds: healthy.sort(), allServerIds: [...chunk.replicas.keys()].sort(), deletingServerIds: deleting.sort() });
    }
    return found.slice(0, limit);
  }

  async addReplica(chunkId: string, serverId: string): Promise<boolean> {
    const chunk = this.chunks.get(chunkId);
    chunk?.replicas.set(serverId, 'stored');
    return chunk !== undefined;
  }

  async markReplicaCorrupt(chunkId: string, serverId: string): Promise<void> {
    const replicas = this.chunks.get(chunkId)?.replicas;
    if (replicas?.get(serverId) === 'stored') replicas.set(serverId, 'corrupt');
  }

  async removeReplica(chunkId: string, serverId: string): Promise<void> {
    this.chunks.get(chunkId)?.replicas.delete(serverId);
  }

  async addPendingDeletes(items: { chunkId: string; serverId: string }[]): Promise<void> {
    for (const item of items) this.pending.push({ ...item, attempts: 0, lastError: null });
  }

  async resolvePendingDelete(chunkId: string, serverId: string): Promise<void> {
    const index = this.pending.findIndex((p) => p.chunkId === chunkId && p.serverId === serverId);
    if (index >= 0) this.pending.splice(index, 1);
  }

  async failPendingDelete(chunkId: string, serverId: string, error: string): Promise<void> {
    const item = this.pending.find((p) => p.chunkId === chunkId && p.serverId === serverId);
    if (item) Object.assign(item, { attempts: item.attempts + 1, lastError: error });
  }

  async withJobLock<T>(_name: string, fn: () => Promise<T>): Promise<T | undefined> {
    return fn();
  }

  /** Typed as the full interface for the jobs; they only call the methods above. */
  async storedChunkIdsOn(serverId: string, after: string, upTo: string | undefined): Promise<string[]> {
    return [...this.chunks.values()]
      .filter((chunk) => chunk.replicas.get(serverId) === 'stored' && chunk.chunkId > after && (upTo === undefined || chunk.chunkId <= upTo))
      .map((chunk) => chunk.chunkId)
      .sort();
  }

  async scrubCursors(): Promise<ScrubCursor[]> {
    return [...this.scrubPositions.values()].map((c) => ({ ...c }));
  }

  async saveScrubCursor(cursor: ScrubCursor): Promise<void> {
    this.scrubPositions.set(cursor.serverId, { ...cursor });
  }

  asStore(): MetadataStore {
    return this as unknown as MetadataStore;
  }
}

/** A supervisor over fixed, always-Ready clients. */
export class FakeSupervisor implements ConnectionSupervisor {
  readonly failures: string[] = [];

  constructor(readonly clients: Map<string, StorageClient>) {}

  update(): void {}
  readyServerIds(): string[] {
    return [...this.clients.keys()];
  }
  isAvailable(serverId: string): boolean {
    return this.clients.has(serverId);
  }
  clientIfReady(serverId: string): StorageClient | undefined {
    return this.clients.get(serverId);
  }
  async getClient(serverId: string): Promise<StorageClient> {
    const client = this.clients.get(serverId);
    if (!client) throw new Error(`server ${serverId} is not available`);
    return client;
  }
  serverAnnounced(): void {}
  recordSuccess(): void {}
  recordFailure(serverId: string): void {
    this.failures.push(serverId);
  }
  snapshot() {
    return [];
  }
  onTransition() {
    return () => undefined;
  }
  onProbe() {
    return () => undefined;
  }
  async close(): Promise<void> {
    for (const client of this.clients.values()) client.close();
  }
}

/** The real replica layer over a fake supervisor (real clients) and the fake store; the ring is every client's server. */
export function replicasFor(supervisor: FakeSupervisor, store: FakeRepairStore, replicationFactor = 2): Replicas {
  const ring = new HashRing([...supervisor.clients.keys()]);
  return new Replicas({
    supervisor,
    placement: new Placement(() => ring, supervisor, replicationFactor),
    store: store.asStore(),
    log: createLogger('replicas-test'),
    writeQuorum: replicationFactor,
    streamIdleTimeoutMs: 10_000,
    callTimeoutMs: 10_000,
  });
}
