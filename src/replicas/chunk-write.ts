import { randomUUID } from 'node:crypto';
import type { ConnectionSupervisor } from '../connection/types';
import { encodePutData, type ChunkWriter, type EncodedPutData } from '../rpc/storage-client';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import { crc32Checksum } from '../wire/crc32';
import { MAX_FRAME_BYTES } from '../wire/frame-pool';
import { scavengePacer } from '../wire/scavenge-pacer';
import type { CallOutcomes } from './call-outcome';
import { ChunkWriteError, NoStorageServerError } from './errors';
import type { Placement } from './placement';
import type { ChunkLocation, ReplicaDeleter } from './replica-deleter';

/** Bytes of the chunk kept so it can be written again if every replica fails. */
const REPLAY_LIMIT = 4 * 1024 * 1024;
/**
 * HTTP bodies arrive in pieces of 16-64 KiB. Sending each as its own PutChunk message costs a
 * message, a drain wait and a storage-side disk write per piece; gathering them into frames of
 * this size (the largest frame) cuts that per-byte overhead by 16x or more.
 */
const SEND_FRAME_BYTES = MAX_FRAME_BYTES;

export interface ChunkWriteDeps {
  supervisor: Pick<ConnectionSupervisor, 'clientIfReady' | 'getClient'>;
  placement: Placement;
  outcomes: CallOutcomes;
  deleter: ReplicaDeleter;
  log: Logger;
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
  serverIds: string[];
}

interface ReplicaStream {
  serverId: string;
  writer: ChunkWriter;
  failed: boolean;
}

/**
 * One chunk written to several storage servers at once, checked end to end by CRC-32 (each
 * message's, computed once for every replica, and the chunk's: see StorageClient.putChunk).
 * Data is forwarded as it arrives and write() waits for the slowest replica, so memory stays
 * constant. A replica that fails is dropped while another copy survives (repair restores the
 * count later); when every replica fails and the chunk is still small enough to have been
 * kept, it is written again on other servers.
 */
export class ChunkWrite {
  readonly chunkId = randomUUID();
  private size = 0;
  private replicas: ReplicaStream[] = [];
  /** Servers that already failed this chunk: never tried again for it. */
  private readonly failedServers = new Set<string>();
  /** The chunk's data while it stays under REPLAY_LIMIT; null once it grew past it. */
  private replay: Buffer[] | null = [];
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
  ) {}

  /** Opens put streams to the chunk's servers; throws NoStorageServerError when none can take it. */
  static async open(deps: ChunkWriteDeps, expectedSize: number): Promise<ChunkWrite> {
    const write = new ChunkWrite(deps, expectedSize);
    await write.addReplicas();
    return write;
  }

  get bytesWritten(): number {
    return this.size;
  }

  async write(piece: Buffer): Promise<void> {
    this.size += piece.length;
    if (this.replay) {
      if (this.size <= REPLAY_LIMIT) this.replay.push(piece);
      else this.replay = null;
    }
    // Messages of exactly SEND_FRAME_BYTES: a piece that crosses the limit is split.
    for (let rest = piece; rest.length > 0; ) {
      const part = rest.subarray(0, SEND_FRAME_BYTES - this.unsentBytes);
      rest = rest.subarray(part.length);
      this.unsent.push(part);
      this.unsentBytes += part.length;
      if (this.unsentBytes === SEND_FRAME_BYTES) await this.flush();
    }
  }

  /** Ends every replica stream; resolves once at least one server confirmed the whole chunk. */
  async commit(): Promise<WrittenChunk> {
    await this.flush();
    let crc = 0;
    for (;;) {
      const live = this.live();
      const results = await Promise.allSettled(live.map((replica) => replica.writer.end()));
      results.forEach((result, index) => {
        const replica = live[index];
        if (result.status === 'fulfilled' && result.value.success) {
          crc = result.value.crc32; // the same bytes went to every replica
          this.stored.push(replica.serverId);
          this.deps.outcomes.succeeded(replica.serverId);
          this.deps.onReplicaOutcome?.('stored');
        } else {
          this.dropReplica(replica, result.status === 'rejected' ? result.reason : new Error(result.value.error_message));
        }
      });
      if (this.stored.length > 0) break;
      await this.reopen();
      await this.sendToReplicas(this.replay!);
    }
    if (this.dropped.length > 0) {
      // Off the caller's path: the chunk is stored; these copies are extras in no metadata.
      this.deps.deleter.discard(this.dropped.splice(0)).catch((error) => this.deps.log.warn(`Could not discard dropped replicas: ${errorMessage(error)}`));
    }
    return { chunkId: this.chunkId, size: this.size, checksum: crc32Checksum(crc), serverIds: [...this.stored] };
  }

  /** Cancels the streams still open and removes every copy written so far (now, or via pending deletes). */
  async abort(reason: string): Promise<void> {
    for (const replica of this.live()) replica.writer.abort(reason);
    const copies = [...this.stored.map((serverId) => ({ chunkId: this.chunkId, serverId })), ...this.dropped.splice(0)];
    this.stored = [];
    await this.deps.deleter.discard(copies);
  }

  private live(): ReplicaStream[] {
    return this.replicas.filter((replica) => !replica.failed);
  }

  private async addReplicas(): Promise<void> {
    const { placement, supervisor } = this.deps;
    let targets = placement.targets(this.chunkId, this.failedServers);
    if (targets.length === 0) {
      // Nothing Ready right now: give the ring's candidates a bounded chance to reconnect.
      await Promise.allSettled(placement.candidates(this.chunkId, this.failedServers).map((id) => supervisor.getClient(id)));
      targets = placement.targets(this.chunkId, this.failedServers);
    }
    for (const serverId of targets) {
      const client = supervisor.clientIfReady(serverId);
      if (!client) continue;
      const writer = client.putChunk(this.chunkId, '', this.expectedSize, { idleTimeoutMs: this.deps.streamIdleTimeoutMs });
      this.replicas.push({ serverId, writer, failed: false });
    }
    if (this.live().length === 0) throw new NoStorageServerError('no storage server is available to store the file; retry shortly');
  }

  /** Sends the data gathered so far as one message, encoded once for every replica. */
  async flush(): Promise<void> {
    if (this.unsentBytes === 0) return;
    const message = encodePutData(this.unsent);
    const bytes = this.unsentBytes;
    this.unsent = [];
    this.unsentBytes = 0;
    await this.sendToReplicas([message]);
    scavengePacer.moved(bytes); // sent on: the socket-read buffers these bytes came in are garbage now
  }

  /** Writes pieces to every live replica; when all fail, writes the chunk again on others if it can. */
  private async sendToReplicas(pieces: Array<Buffer | EncodedPutData>): Promise<void> {
    for (;;) {
      await Promise.all(
        this.live().map(async (replica) => {
          try {
            for (const piece of pieces) await replica.writer.write(piece);
          } catch (error) {
            this.dropReplica(replica, error);
          }
        }),
      );
      if (this.live().length > 0) return;
      await this.reopen();
      pieces = this.replay!; // reopen() wrote nothing yet: send the whole replay buffer
    }
  }

  /** Every replica failed: start over on other servers from the replay buffer. */
  private async reopen(): Promise<void> {
    if (!this.replay) throw new ChunkWriteError(`storage servers failed while storing chunk ${this.chunkId}; retry the upload`);
    this.replicas = [];
    await this.addReplicas();
    this.deps.log.warn(`Chunk ${this.chunkId} lost every replica mid-stream; replaying ${this.size} bytes to ${this.live().map((r) => r.serverId).join(', ')}`);
  }

  private dropReplica(replica: ReplicaStream, error: unknown): void {
    if (replica.failed) return;
    replica.failed = true;
    this.failedServers.add(replica.serverId);
    this.dropped.push({ chunkId: this.chunkId, serverId: replica.serverId });
    replica.writer.abort('replica dropped');
    this.deps.outcomes.failed(replica.serverId, error);
    this.deps.onReplicaOutcome?.('failed');
    this.deps.log.warn(`Replica of chunk ${this.chunkId} on server ${replica.serverId} failed: ${errorMessage(error)}`);
  }
}
