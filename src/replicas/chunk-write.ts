import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { ConnectionSupervisor } from '../connection/types';
import { encodePutData, type ChunkWriter, type EncodedPutData } from '../rpc/storage-client';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import { crc32Checksum } from '../wire/crc32';
import { MAX_FRAME_BYTES } from '../wire/frame-pool';
import type { CallOutcomes } from './call-outcome';
import { ChunkCopyError, copyChunk } from './chunk-copy';
import { ChunkWriteError, NoStorageServerError, StorageBusyError } from './errors';
import type { Placement } from './placement';
import type { ChunkLocation, ReplicaDeleter } from './replica-deleter';

/**
 * The gateway spool: the frames of the chunk being written are kept (by reference: they are
 * the very messages sent) while the chunk stays under this size, so a replica lost mid-chunk is
 * replaced by replaying them to the next server. A bigger chunk is completed on the survivors
 * and copied from one of them to the replacement, server to server.
 */
export const SPOOL_LIMIT = 4 * 1024 * 1024;
/**
 * HTTP bodies arrive in pieces of 16-64 KiB. Sending each as its own PutChunk message costs a
 * message, a drain wait and a storage-side disk write per piece; gathering them into frames of
 * this size (the largest frame) cuts that per-byte overhead by 16x or more.
 */
const SEND_FRAME_BYTES = MAX_FRAME_BYTES;
/**
 * Chunks of a known size up to this are sent whole, in one message, through PutSmallChunks:
 * the small puts to a server that end together share one unary call (and the server's group
 * commit) instead of a client stream each, the main cost of a small upload. Under
 * SEND_FRAME_BYTES, so such a chunk is always one message.
 */
export const SMALL_CHUNK_BYTES = 256 * 1024;
/**
 * A chunk short of its quorum once the ring walk ran out, because servers refused it busy, is
 * offered to them again after each of these waits (jittered down to half): a busy server frees
 * a put slot within milliseconds, so a burst is absorbed in under a second instead of answered
 * 503, and a cluster that stays at its limit still sheds load quickly.
 */
const BUSY_RETRY_DELAYS_MS = [25, 50, 100, 200, 400, 800];
/** A copy to a replacement replica is not paced: the upload waits for it. */
const UNPACED = { take: async () => undefined };

export interface ChunkWriteDeps {
  supervisor: Pick<ConnectionSupervisor, 'clientIfReady' | 'getClient'>;
  placement: Placement;
  outcomes: CallOutcomes;
  deleter: ReplicaDeleter;
  log: Logger;
  /** WRITE_QUORUM: fsynced copies of every chunk before it counts as stored. */
  writeQuorum: number;
  /** Servers in the cluster, up or not: caps the quorum for a cluster smaller than it. */
  clusterSize(): number;
  /** A storage stream with no progress for this long is abandoned. */
  streamIdleTimeoutMs: number;
  /** Outcome of each replica write, for metrics. */
  onReplicaOutcome?(outcome: 'stored' | 'failed'): void;
}

/** A chunk durable on its servers. */
export interface WrittenChunk {
  chunkId: string;
  size: number;
  /** `crc32:<8 hex>`: the chunk's CRC-32, checked by every server that stored it. */
  checksum: string;
  /** The servers that fsynced it: at least the write quorum. */
  serverIds: string[];
}

interface ReplicaStream {
  serverId: string;
  writer: ChunkWriter;
  /** Still streaming: neither stored (answered) nor dropped. */
  open: boolean;
}

/**
 * One chunk written to R storage servers at once, as a pipeline that recovers (as HDFS does):
 * data is forwarded as it arrives and write() waits for the slowest replica, so memory stays
 * constant. A replica lost mid-chunk is replaced by the next server of the ring walk, filled
 * from the spool while the chunk is small enough to be kept, then fed with the rest of the
 * stream like the others; a bigger chunk is completed on the survivors and copied from one of
 * them to the replacement. commit() resolves only once WRITE_QUORUM servers fsynced the chunk.
 * Every message and the whole chunk are checked end to end by CRC-32 (see StorageClient.putChunk).
 */
export class ChunkWrite {
  readonly chunkId = randomUUID();
  private size = 0;
  /** The chunk's CRC-32 as the first server that stored it verified it (the same bytes went to all). */
  private crc: number | undefined;
  private replicas: ReplicaStream[] = [];
  /** Servers that failed this chunk: never tried again for it. */
  private readonly failedServers = new Set<string>();
  /** Servers that refused it busy (too many puts in progress), which an error then says. */
  private readonly busyServers = new Set<string>();
  /** Those of them not offered the chunk again until the next wait (BUSY_RETRY_DELAYS_MS) is over. */
  private readonly waitingOut = new Set<string>();
  private busyWaits = 0;
  /** The messages sent so far while the chunk stays under SPOOL_LIMIT; null once it grew past it. */
  private spool: EncodedPutData[] | null = [];
  /** Data taken in but not yet sent: gathered into one frame of up to SEND_FRAME_BYTES. */
  private unsent: Buffer[] = [];
  private unsentBytes = 0;
  /**
   * Copies given up on. A put can land on disk after this side stopped waiting for it (a
   * timeout, a connection dropped at the last moment): such a copy is in no metadata, so it is
   * deleted (or left as a pending delete) rather than left for the hourly orphan scan.
   */
  private readonly dropped: ChunkLocation[] = [];
  private stored: string[] = [];

  private constructor(
    private readonly deps: ChunkWriteDeps,
    /** The chunk's exact size when known (0 otherwise): announced to its servers. */
    private readonly expectedSize: number,
    /** Copies wanted: REPLICATION_FACTOR capped by the ring, and never fewer than the quorum. */
    private readonly wanted: number,
    /** Copies needed before commit() resolves: WRITE_QUORUM capped by the cluster's size. */
    private readonly quorum: number,
  ) {}

  /**
   * Opens put streams to the chunk's servers; throws NoStorageServerError when fewer than the
   * write quorum can take it.
   */
  static async open(deps: ChunkWriteDeps, expectedSize: number): Promise<ChunkWrite> {
    const quorum = Math.max(1, Math.min(deps.writeQuorum, deps.clusterSize()));
    const write = new ChunkWrite(deps, expectedSize, Math.max(quorum, deps.placement.wantedReplicas()), quorum);
    await write.openReplicas();
    return write;
  }

  get bytesWritten(): number {
    return this.size;
  }

  async write(piece: Buffer): Promise<void> {
    this.size += piece.length;
    // Messages of exactly SEND_FRAME_BYTES: a piece that crosses the limit is split.
    for (let rest = piece; rest.length > 0; ) {
      const part = rest.subarray(0, SEND_FRAME_BYTES - this.unsentBytes);
      rest = rest.subarray(part.length);
      this.unsent.push(part);
      this.unsentBytes += part.length;
      if (this.unsentBytes === SEND_FRAME_BYTES) await this.flush();
    }
  }

  /** Sends the data gathered so far as one message, encoded once for every replica. */
  async flush(): Promise<void> {
    if (this.unsentBytes === 0) return;
    const message = encodePutData(this.unsent);
    this.unsent = [];
    this.unsentBytes = 0;
    if (this.spool && this.size <= SPOOL_LIMIT) this.keepInSpool(message);
    else this.dropSpool();
    try {
      await Promise.all(this.live().map((replica) => this.send(replica, [message])));
      await this.replaceLost();
    } finally {
      message.release();
    }
  }

  /**
   * Ends every replica stream and brings the chunk to its wanted copies (replacing the ones
   * lost at the end); resolves once the write quorum has it fsynced.
   */
  async commit(): Promise<WrittenChunk> {
    await this.flush();
    await Promise.all(this.live().map((replica) => this.end(replica)));
    while (this.stored.length < this.wanted) {
      const [target] = this.nextTargets(1);
      if (!target) {
        // Extra copies beyond the quorum are not worth a wait: repair adds them.
        if (this.stored.length < this.quorum && (await this.waitForBusyServers())) continue;
        break;
      }
      if (this.spool) await this.refill(target);
      else if (!(await this.copyToReplacement(target))) break;
    }
    this.dropSpool();
    if (this.stored.length < this.quorum || this.crc === undefined) {
      throw this.cannotStore(`chunk ${this.chunkId} is fsynced on ${this.stored.length} storage server(s) and no other can take it, but WRITE_QUORUM needs ${this.quorum}`);
    }
    if (this.dropped.length > 0) {
      // Off the caller's path: the chunk is stored; these copies are extras in no metadata.
      this.deps.deleter.discard(this.dropped.splice(0)).catch((error) => this.deps.log.warn(`Could not discard dropped replicas: ${errorMessage(error)}`));
    }
    return { chunkId: this.chunkId, size: this.size, checksum: crc32Checksum(this.crc), serverIds: [...this.stored] };
  }

  /** Cancels the streams still open and removes every copy written so far (now, or via pending deletes). */
  async abort(reason: string): Promise<void> {
    this.dropSpool();
    for (const replica of this.live()) replica.writer.abort(reason);
    const copies = [...this.stored.map((serverId) => ({ chunkId: this.chunkId, serverId })), ...this.dropped.splice(0)];
    this.stored = [];
    await this.deps.deleter.discard(copies);
  }

  private live(): ReplicaStream[] {
    return this.replicas.filter((replica) => replica.open);
  }

  /** The first servers of the ring walk that are available, do not have the chunk and are not out of the running for it. */
  private nextTargets(count: number): string[] {
    const taken = new Set([...this.failedServers, ...this.waitingOut, ...this.live().map((r) => r.serverId), ...this.stored]);
    return this.deps.placement.targets(this.chunkId, taken, count);
  }

  /**
   * The ring walk ran out, and servers that refused the chunk busy may have room by now: waits
   * the next of BUSY_RETRY_DELAYS_MS, then lets the walk offer it to them again. False when none
   * refused it busy since the last wait, or the waits are used up.
   */
  private async waitForBusyServers(): Promise<boolean> {
    const waitMs = BUSY_RETRY_DELAYS_MS[this.busyWaits];
    if (this.waitingOut.size === 0 || waitMs === undefined) return false;
    this.busyWaits += 1;
    await delay(waitMs * (0.5 + Math.random() / 2));
    this.waitingOut.clear();
    return true;
  }

  private async openReplicas(): Promise<void> {
    const { placement, supervisor } = this.deps;
    let targets = this.nextTargets(this.wanted);
    if (targets.length < this.quorum) {
      // Not enough Ready right now: give the ring's candidates a bounded chance to reconnect.
      await Promise.allSettled(placement.candidates(this.chunkId, this.failedServers).map((id) => supervisor.getClient(id)));
      targets = this.nextTargets(this.wanted);
    }
    if (targets.length < this.quorum) {
      throw new NoStorageServerError(
        targets.length === 0
          ? 'no storage server is available to store the file; retry shortly'
          : `only ${targets.length} storage server(s) can take the file, but WRITE_QUORUM needs ${this.quorum} copies of every chunk; retry shortly`,
        { ready_servers: targets.length, write_quorum: this.quorum },
      );
    }
    for (const serverId of targets) this.openStream(serverId);
  }

  private openStream(serverId: string): ReplicaStream | undefined {
    const client = this.deps.supervisor.clientIfReady(serverId);
    if (!client) return undefined;
    const options = { idleTimeoutMs: this.deps.streamIdleTimeoutMs };
    const small = this.expectedSize > 0 && this.expectedSize <= SMALL_CHUNK_BYTES;
    const writer = small ? client.putSmallChunk(this.chunkId, this.expectedSize, options) : client.putChunk(this.chunkId, '', this.expectedSize, options);
    const replica = { serverId, writer, open: true };
    this.replicas.push(replica);
    return replica;
  }

  /**
   * Writes messages to one replica; a failure drops it (to be replaced) rather than the write.
   * Holds them all meanwhile: a spool dropped during a replay must not free the frames still to come.
   */
  private async send(replica: ReplicaStream, messages: readonly EncodedPutData[]): Promise<boolean> {
    for (const message of messages) message.hold();
    try {
      for (const message of messages) await replica.writer.write(message);
      return true;
    } catch (error) {
      this.dropReplica(replica, error);
      return false;
    } finally {
      for (const message of messages) message.release();
    }
  }

  /** Keeps a message sent for replays to replacement replicas (see SPOOL_LIMIT). */
  private keepInSpool(message: EncodedPutData): void {
    message.hold();
    this.spool!.push(message);
  }

  /** No replica is filled from the spool any more: its frames may be reused once sent. */
  private dropSpool(): void {
    for (const message of this.spool ?? []) message.release();
    this.spool = null;
  }

  /** Half-closes one replica's stream: the chunk is stored there once the server answers. */
  private async end(replica: ReplicaStream): Promise<void> {
    try {
      const response = await replica.writer.end();
      if (!response.success) throw new Error(response.error_message || 'storage server refused the chunk');
      replica.open = false;
      this.crc = response.crc32;
      this.stored.push(replica.serverId);
      this.deps.outcomes.succeeded(replica.serverId);
      this.deps.onReplicaOutcome?.('stored');
    } catch (error) {
      this.dropReplica(replica, error);
    }
  }

  /**
   * Mid-chunk: every replica lost so far is replaced by the next server of the ring walk, filled
   * from the spool. Without a spool the chunk goes on on the survivors (commit() then copies it
   * to a replacement); with no survivor either, the chunk cannot be written.
   */
  private async replaceLost(): Promise<void> {
    while (this.spool && this.live().length < this.wanted) {
      const targets = this.nextTargets(this.wanted - this.live().length);
      const opened = targets.map((serverId) => this.openStream(serverId)).filter((r): r is ReplicaStream => r !== undefined);
      if (opened.length === 0) {
        // No replica left to carry the stream: a busy server soon will, from the spool.
        if (this.live().length === 0 && (await this.waitForBusyServers())) continue;
        break;
      }
      this.deps.log.warn(`Chunk ${this.chunkId}: replaying ${this.spooledBytes()} spooled bytes to ${opened.map((r) => r.serverId).join(', ')} in place of lost replicas`);
      await Promise.all(opened.map((replica) => this.send(replica, this.spool!)));
    }
    if (this.live().length === 0) {
      throw this.cannotStore(`storage servers failed while storing chunk ${this.chunkId} and none could take it over`);
    }
  }

  /** At the end of a spooled chunk: one more replica, written whole from the spool. */
  private async refill(serverId: string): Promise<void> {
    const replica = this.openStream(serverId);
    if (!replica) {
      this.failedServers.add(serverId);
      return;
    }
    this.deps.log.warn(`Chunk ${this.chunkId}: writing ${this.size} spooled bytes to ${serverId} in place of a lost replica`);
    if (await this.send(replica, this.spool!)) await this.end(replica);
  }

  /**
   * At the end of a chunk too big to spool: a server-to-server copy from a replica that stored
   * it. False when no such replica is reachable now (the quorum check decides then).
   */
  private async copyToReplacement(target: string): Promise<boolean> {
    const { supervisor, outcomes, log, streamIdleTimeoutMs } = this.deps;
    const sourceId = this.stored.find((serverId) => supervisor.clientIfReady(serverId));
    const source = sourceId === undefined ? undefined : supervisor.clientIfReady(sourceId);
    if (!source || this.crc === undefined) return false;
    const checksum = crc32Checksum(this.crc); // the target refuses other bytes
    const targetClient = supervisor.clientIfReady(target);
    if (!targetClient) {
      this.failedServers.add(target);
      return true;
    }
    log.warn(`Chunk ${this.chunkId}: copying ${this.size} bytes from ${sourceId} to ${target} in place of a lost replica`);
    try {
      await copyChunk({ chunkId: this.chunkId, size: this.size, checksum, source, target: targetClient, bandwidth: UNPACED, idleTimeoutMs: streamIdleTimeoutMs });
      this.stored.push(target);
      outcomes.succeeded(target);
      this.deps.onReplicaOutcome?.('stored');
    } catch (error) {
      const failedSide = error instanceof ChunkCopyError && error.side === 'source' ? sourceId! : target;
      const failure = outcomes.failed(failedSide, error instanceof ChunkCopyError ? error.cause : error);
      if (failedSide === target && failure.problem === 'busy') {
        this.refusedBusy(target);
      } else {
        this.failedServers.add(target); // tried once is enough
        this.dropped.push({ chunkId: this.chunkId, serverId: target });
      }
      this.deps.onReplicaOutcome?.('failed');
      log.warn(`Copy of chunk ${this.chunkId} to ${target} failed: ${errorMessage(error)}`);
    }
    return true;
  }

  private spooledBytes(): number {
    return Math.min(this.size, SPOOL_LIMIT);
  }

  /**
   * The chunk cannot get its copies. Said as "busy" when servers refused it for load, which
   * passes in moments (a retry soon will do), rather than as a failure.
   */
  private cannotStore(what: string): ChunkWriteError | StorageBusyError {
    if (this.busyServers.size === 0) return new ChunkWriteError(`${what}; retry the upload`);
    return new StorageBusyError(
      `the storage servers are busy: ${what}, and ${this.busyServers.size} server(s) refused it with too many puts in progress; retry shortly`,
      { busy_servers: this.busyServers.size },
    );
  }

  /** A server refused the chunk busy: it kept nothing (no copy to delete), and may take it after a wait. Expected under a burst. */
  private refusedBusy(serverId: string): void {
    this.busyServers.add(serverId);
    this.waitingOut.add(serverId);
    this.deps.log.info(`Server ${serverId} was busy (too many puts in progress); chunk ${this.chunkId} is offered to the next server`);
  }

  private dropReplica(replica: ReplicaStream, error: unknown): void {
    if (!replica.open) return;
    replica.open = false;
    replica.writer.abort('replica dropped');
    this.deps.onReplicaOutcome?.('failed');
    if (this.deps.outcomes.failed(replica.serverId, error).problem === 'busy') {
      this.refusedBusy(replica.serverId);
      return;
    }
    this.failedServers.add(replica.serverId);
    this.dropped.push({ chunkId: this.chunkId, serverId: replica.serverId });
    this.deps.log.warn(`Replica of chunk ${this.chunkId} on server ${replica.serverId} failed: ${errorMessage(error)}`);
  }
}
