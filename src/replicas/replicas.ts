import type { ConnectionSupervisor } from '../connection/types';
import type { ChunkRecord, MetadataStore } from '../metadata/types';
import type { StorageClient } from '../rpc/storage-client';
import type { Logger } from '../util/logger';
import { framePool } from '../wire/frame-pool';
import { installPrefixInPlace } from '../wire/prefix-in-place';
import { CallOutcomes, ReplicaCallError } from './call-outcome';
import { ChunkCopyError, copyChunk, type Bandwidth } from './chunk-copy';
import { readChunk, type ChunkReadDeps } from './chunk-read';
import { ChunkWrite, type ChunkWriteDeps } from './chunk-write';
import type { Placement } from './placement';
import { ReplicaDeleter, type ChunkLocation, type PendingDeleteLog } from './replica-deleter';

export interface ReplicaEvents {
  replicaWrite?(outcome: 'stored' | 'failed'): void;
  readRetry?(): void;
  chunkDelete?(outcome: 'deleted' | 'failed'): void;
}

export interface ReplicasDeps {
  supervisor: ConnectionSupervisor;
  placement: Placement;
  /** Pending deletes, and replicas found bad on read. */
  store: PendingDeleteLog & Pick<MetadataStore, 'markReplicaCorrupt'>;
  log: Logger;
  /** WRITE_QUORUM: fsynced copies of every chunk before a write counts as stored. */
  writeQuorum: number;
  /**
   * Servers that are members of the cluster, up or not (default: the ring's): the write quorum
   * is capped by it, so a cluster smaller than WRITE_QUORUM still stores, while servers that
   * are down never lower it.
   */
  clusterSize?: () => number;
  /** A storage stream with no progress for this long is abandoned. */
  streamIdleTimeoutMs: number;
  /** Deadline of unary storage calls (delete). */
  callTimeoutMs: number;
  events?: ReplicaEvents;
}

/** A chunk as a storage server lists it. */
export interface ListedChunk {
  chunkId: string;
  size: number;
  modifiedAtMs: number;
  checksum: string;
}

export type VerifyOutcome = { ok: true } | { ok: false; corruptBlock: number; message: string };

/**
 * The replica (block) layer: chunks on storage servers. Writes a chunk to its replicas, reads
 * one from the best replica (resuming at the exact byte when one fails), copies and deletes
 * replicas, and lists or verifies what a server holds. Every call's outcome is fed to the
 * connection layer's breakers here (CallOutcomes); callers see domain errors, never gRPC.
 */
export class Replicas {
  readonly placement: Placement;
  private readonly outcomes: CallOutcomes;
  private readonly deleter: ReplicaDeleter;
  private readonly writeDeps: ChunkWriteDeps;
  private readonly readDeps: ChunkReadDeps;

  constructor(private readonly deps: ReplicasDeps) {
    const { supervisor, placement, store, log, events } = deps;
    // The upload frames this layer sends (encodePutData) reach grpc-js with room for its prefix.
    if (!installPrefixInPlace()) {
      log.warn('grpc-js has no IdentityHandler where ringstore expects one (a grpc-js other than 1.14?): every upload frame is copied once more per replica');
    }
    this.placement = placement;
    this.outcomes = new CallOutcomes(supervisor, (serverId) => placement.pauseFull(serverId));
    this.deleter = new ReplicaDeleter({
      supervisor,
      outcomes: this.outcomes,
      pendingDeletes: store,
      log,
      callTimeoutMs: deps.callTimeoutMs,
      onDelete: events?.chunkDelete,
    });
    this.writeDeps = {
      supervisor,
      placement,
      outcomes: this.outcomes,
      deleter: this.deleter,
      log,
      writeQuorum: deps.writeQuorum,
      clusterSize: deps.clusterSize ?? (() => placement.wantedReplicas()),
      streamIdleTimeoutMs: deps.streamIdleTimeoutMs,
      onReplicaOutcome: events?.replicaWrite,
    };
    this.readDeps = {
      supervisor,
      outcomes: this.outcomes,
      log,
      streamIdleTimeoutMs: deps.streamIdleTimeoutMs,
      onBadReplica: (chunkId, serverId, problem) => this.markBad(chunkId, serverId, problem),
      onRetry: events?.readRetry,
    };
  }

  /** Copies every chunk should have: the replication factor, capped by the servers in the ring. */
  wantedCopies(): number {
    return this.placement.wantedReplicas();
  }

  /** Starts writing a new chunk of `expectedSize` bytes (0 when unknown) to its replicas. */
  openChunk(expectedSize: number): Promise<ChunkWrite> {
    return ChunkWrite.open(this.writeDeps, expectedSize);
  }

  /** Bytes [offset, offset+length) of a stored chunk; give each piece back with release() once written on. */
  readChunk(chunk: ChunkRecord, offset: number, length: number): AsyncGenerator<Buffer> {
    return readChunk(chunk, offset, length, this.readDeps);
  }

  /** A piece from readChunk is no longer read: its memory may be reused. */
  release(piece: Buffer): void {
    framePool.release(piece);
  }

  /** Deletes copies written down as pending deletes; returns those that failed (still pending). */
  delete(items: ChunkLocation[]): Promise<ChunkLocation[]> {
    return this.deleter.delete(items);
  }

  /** Removes copies no metadata references: now if possible, else through pending deletes. */
  discard(locations: ChunkLocation[]): Promise<void> {
    return this.deleter.discard(locations);
  }

  /** A replica turned out corrupt or missing (a read, a copy or scrub): repair will replace it. */
  async markBad(chunkId: string, serverId: string, problem: 'corrupt' | 'missing'): Promise<void> {
    this.deps.log.warn(`Replica of chunk ${chunkId} on server ${serverId} is ${problem}; marked for repair`);
    await this.deps.store.markReplicaCorrupt(chunkId, serverId).catch((e) => this.deps.log.warn(`Could not mark replica: ${e}`));
  }

  readyServerIds(): string[] {
    return this.deps.supervisor.readyServerIds();
  }

  isAvailable(serverId: string): boolean {
    return this.deps.supervisor.isAvailable(serverId);
  }

  /** Whether the server is (or becomes, within waitMs) available; a non-Ready one is asked to reconnect. */
  async waitUntilAvailable(serverId: string, waitMs: number): Promise<boolean> {
    return this.deps.supervisor.getClient(serverId, waitMs).then(
      () => true,
      () => false,
    );
  }

  /**
   * Streams a chunk from one server to another (see copyChunk), both of which must be
   * available; the target checks the recorded checksum before it keeps anything. Outcomes
   * are recorded for both servers; a failure is a ChunkCopyError naming the side.
   */
  async copyChunk(copy: {
    chunkId: string;
    size: number;
    checksum: string;
    sourceServerId: string;
    targetServerId: string;
    bandwidth: Bandwidth;
    signal?: AbortSignal;
  }): Promise<number> {
    const source = this.clientOf(copy.sourceServerId);
    const target = this.clientOf(copy.targetServerId);
    if (!target) throw new ChunkCopyError('target', new Error(`server ${copy.targetServerId} is not available`), copy.chunkId);
    if (!source) throw new ChunkCopyError('source', new Error(`server ${copy.sourceServerId} is not available`), copy.chunkId);
    try {
      const bytes = await copyChunk({ ...copy, source, target, idleTimeoutMs: this.deps.streamIdleTimeoutMs });
      this.outcomes.succeeded(copy.sourceServerId);
      this.outcomes.succeeded(copy.targetServerId);
      return bytes;
    } catch (error) {
      if (error instanceof ChunkCopyError) this.outcomes.failed(error.side === 'target' ? copy.targetServerId : copy.sourceServerId, error.cause);
      throw error;
    }
  }

  /** The chunks a server holds, in chunk id order after `after`; fails with a ReplicaCallError. */
  async *listChunks(serverId: string, range: { after?: string; limit?: number }, options: { idleTimeoutMs: number; signal?: AbortSignal }): AsyncGenerator<ListedChunk> {
    const client = this.readyClient(serverId);
    try {
      for await (const info of client.listChunks(range, options)) {
        yield { chunkId: info.chunk_id, size: Number(info.size), modifiedAtMs: Number(info.modified_at_ms), checksum: info.checksum };
      }
    } catch (error) {
      throw this.outcomes.failed(serverId, error);
    }
  }

  /** Has the server re-read the chunk against its checksums; a chunk it lacks fails with problem 'missing'. */
  async verifyChunk(serverId: string, chunkId: string, options: { deadlineMs: number; signal?: AbortSignal }): Promise<VerifyOutcome> {
    const client = this.readyClient(serverId);
    try {
      const result = await client.verifyChunk(chunkId, options);
      return result.ok ? { ok: true } : { ok: false, corruptBlock: Number(result.corrupt_block), message: result.error_message };
    } catch (error) {
      throw this.outcomes.failed(serverId, error);
    }
  }

  private clientOf(serverId: string): StorageClient | undefined {
    return this.deps.supervisor.clientIfReady(serverId);
  }

  private readyClient(serverId: string): StorageClient {
    const client = this.clientOf(serverId);
    if (!client) throw new ReplicaCallError(serverId, new Error(`storage server ${serverId} is not available`));
    return client;
  }
}
