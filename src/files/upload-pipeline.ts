import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { ConnectionSupervisor } from '../connection/types';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import { scavengePacer } from '../wire/scavenge-pacer';
import type { ChunkRecord } from '../metadata/types';
import type { EncodedMessage } from '../wire/bytes-message';
import { encodePutData, type ChunkWriter } from '../rpc/storage-client';
import { MAX_FRAME_BYTES } from '../wire/frame-pool';
import { HttpError } from '../http/http-error';
import type { Placement } from '../replicas/placement';

/** Bytes of the current chunk kept so it can be replayed if every replica fails. */
const REPLAY_LIMIT = 4 * 1024 * 1024;
/**
 * HTTP bodies arrive in pieces of 16-64 KiB. Sending each as its own PutChunk message costs a
 * message, a drain wait and a storage-side disk write per piece; gathering them into frames of
 * this size (the client's largest frame) cuts that per-byte overhead by 16x or more.
 */
const SEND_FRAME_BYTES = MAX_FRAME_BYTES;

export interface ChunkLocation {
  chunkId: string;
  serverId: string;
}

export interface UploadDeps {
  supervisor: ConnectionSupervisor;
  placement: Placement;
  log: Logger;
  streamIdleTimeoutMs: number;
  /** Remove chunks of an upload that will not complete (now, or later via pending deletes). */
  discard(locations: ChunkLocation[]): Promise<void>;
  /** Outcome of each replica write, for metrics. */
  onReplicaOutcome?(outcome: 'stored' | 'failed'): void;
}

export interface StoredUpload {
  size: number;
  checksum: string;
  chunks: ChunkRecord[];
}

interface ReplicaStream {
  serverId: string;
  writer: ChunkWriter;
  failed: boolean;
}

class OpenChunk {
  readonly chunkId = randomUUID();
  readonly hash: Hash = createHash('sha256');
  size = 0;
  replicas: ReplicaStream[] = [];
  /** Servers that already failed this chunk: never retried for it. */
  readonly failedServers = new Set<string>();
  /** The chunk's data while it stays under REPLAY_LIMIT; null once it grew past it. */
  replay: Buffer[] | null = [];
  /** Data taken in but not yet sent: gathered into one frame of up to SEND_FRAME_BYTES. */
  unsent: Buffer[] = [];
  unsentBytes = 0;
  /** Set when the last byte is in: the hex SHA-256 sent with the final message. */
  checksumHex: string | null = null;

  constructor(readonly chunkNumber: number, readonly offset: number, readonly expectedSize: number) {}

  live(): ReplicaStream[] {
    return this.replicas.filter((r) => !r.failed);
  }
}

/**
 * Streams an upload into chunks, each written to several storage servers at once with the
 * chunk's SHA-256 computed on the fly. Memory stays constant: data is forwarded as it
 * arrives and the source waits for the slowest replica. A replica that fails is dropped as
 * long as another copy of the chunk survives; the shortfall is left to repair.
 */
export class UploadPipeline {
  private readonly fileHash = createHash('sha256');
  private current: OpenChunk | null = null;
  private readonly finished: Array<{ chunk: OpenChunk; stored: Promise<string[]> }> = [];
  private size = 0;
  private nextChunkNumber = 0;
  /**
   * Replicas given up on. A put can land on disk after the gateway stopped waiting for it (a
   * timeout, a dropped connection at the last moment): such a copy is in no metadata, so it is
   * deleted (or left as a pending delete) rather than left for the hourly orphan scan.
   */
  private readonly dropped: ChunkLocation[] = [];

  constructor(
    private readonly deps: UploadDeps,
    private readonly chunkSize: number,
    /** The exact upload size when known: each chunk's size is announced to its servers. */
    private readonly expectedSize?: number,
  ) {}

  async write(data: Buffer): Promise<void> {
    let rest = data;
    while (rest.length > 0) {
      const chunk = this.current ?? (this.current = await this.openChunk());
      const room = this.chunkSize - chunk.size;
      const piece = rest.length > room ? rest.subarray(0, room) : rest;
      rest = rest.length > room ? rest.subarray(room) : Buffer.alloc(0);
      await this.writeToChunk(chunk, piece);
      if (chunk.size === this.chunkSize) await this.closeChunk(chunk);
    }
  }

  /** Ends the upload: every chunk stored with at least one copy, or a thrown HttpError. */
  async finish(): Promise<StoredUpload> {
    if (this.current) await this.closeChunk(this.current);
    const chunks: ChunkRecord[] = [];
    const outcomes = await Promise.allSettled(this.finished.map((f) => f.stored));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await this.abort();
      throw failed.reason;
    }
    this.finished.forEach(({ chunk }, index) => {
      const servers = (outcomes[index] as PromiseFulfilledResult<string[]>).value;
      chunks.push({
        chunkNumber: chunk.chunkNumber,
        chunkId: chunk.chunkId,
        offset: chunk.offset,
        size: chunk.size,
        checksum: chunk.checksumHex!,
        replicas: servers.map((serverId) => ({ serverId, status: 'stored' as const })),
      });
    });
    if (this.dropped.length > 0) {
      // Off the response path: the upload is complete; these copies are extras in no metadata.
      this.deps.discard(this.dropped.splice(0)).catch((error) => this.deps.log.warn(`Could not discard dropped replicas: ${errorMessage(error)}`));
    }
    return { size: this.size, checksum: this.fileHash.digest('hex'), chunks };
  }

  /** Cancels open streams and removes every chunk already stored. */
  async abort(): Promise<void> {
    const open = this.current;
    this.current = null;
    open?.live().forEach((r) => r.writer.abort('upload aborted'));
    const outcomes = await Promise.allSettled(this.finished.map((f) => f.stored));
    const stored: ChunkLocation[] = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status !== 'fulfilled') return;
      for (const serverId of outcome.value) stored.push({ chunkId: this.finished[index].chunk.chunkId, serverId });
    });
    this.finished.length = 0;
    stored.push(...this.dropped.splice(0));
    if (stored.length > 0) await this.deps.discard(stored);
  }

  private async openChunk(): Promise<OpenChunk> {
    const offset = this.size;
    const expected = this.expectedSize === undefined ? 0 : Math.min(this.chunkSize, Math.max(0, this.expectedSize - offset));
    const chunk = new OpenChunk(this.nextChunkNumber++, offset, expected);
    await this.addReplicas(chunk);
    return chunk;
  }

  /** Opens put streams to the chunk's targets; throws 503 when no server can take it. */
  private async addReplicas(chunk: OpenChunk): Promise<void> {
    const { placement, supervisor } = this.deps;
    let targets = placement.targets(chunk.chunkId, chunk.failedServers);
    if (targets.length === 0) {
      // Nothing Ready right now: give the ring's candidates a bounded chance to reconnect.
      await Promise.allSettled(placement.candidates(chunk.chunkId, chunk.failedServers).map((id) => supervisor.getClient(id)));
      targets = placement.targets(chunk.chunkId, chunk.failedServers);
    }
    for (const serverId of targets) {
      const client = supervisor.clientIfReady(serverId);
      if (!client) continue;
      const writer = client.putChunk(chunk.chunkId, '', chunk.expectedSize, { idleTimeoutMs: this.deps.streamIdleTimeoutMs });
      chunk.replicas.push({ serverId, writer, failed: false });
    }
    if (chunk.live().length === 0) {
      throw new HttpError(503, 'no storage server is available to store the file; retry shortly', {}, { 'Retry-After': '2' });
    }
  }

  private async writeToChunk(chunk: OpenChunk, piece: Buffer): Promise<void> {
    chunk.hash.update(piece);
    this.fileHash.update(piece);
    chunk.size += piece.length;
    this.size += piece.length;
    if (chunk.replay) {
      if (chunk.size <= REPLAY_LIMIT) chunk.replay.push(piece);
      else chunk.replay = null;
    }
    // Messages of exactly SEND_FRAME_BYTES: a piece that crosses the limit is split.
    for (let rest = piece; rest.length > 0; ) {
      const part = rest.subarray(0, SEND_FRAME_BYTES - chunk.unsentBytes);
      rest = rest.subarray(part.length);
      chunk.unsent.push(part);
      chunk.unsentBytes += part.length;
      if (chunk.unsentBytes === SEND_FRAME_BYTES) await this.flush(chunk);
    }
  }

  /** Sends the gathered data as one message, encoded once for every replica. */
  private async flush(chunk: OpenChunk): Promise<void> {
    if (chunk.unsentBytes === 0) return;
    const message = encodePutData(chunk.unsent);
    const bytes = chunk.unsentBytes;
    chunk.unsent = [];
    chunk.unsentBytes = 0;
    await this.sendToReplicas(chunk, [message]);
    scavengePacer.moved(bytes); // sent on: the socket-read buffers these bytes came in are garbage now
  }

  /** Writes pieces to every live replica; when all fail, replays onto new ones if it can. */
  private async sendToReplicas(chunk: OpenChunk, pieces: Array<Buffer | EncodedMessage>): Promise<void> {
    for (;;) {
      const live = chunk.live();
      await Promise.all(
        live.map(async (replica) => {
          try {
            for (const piece of pieces) await replica.writer.write(piece);
          } catch (error) {
            this.dropReplica(chunk, replica, error);
          }
        }),
      );
      if (chunk.live().length > 0) return;
      await this.reopen(chunk);
      pieces = chunk.replay!;
      // reopen() wrote nothing yet: loop sends the whole replay buffer to the new replicas.
    }
  }

  /** Every replica of the chunk failed: start over on other servers from the replay buffer. */
  private async reopen(chunk: OpenChunk): Promise<void> {
    if (!chunk.replay) {
      throw new HttpError(503, `storage servers failed while storing chunk ${chunk.chunkNumber}; retry the upload`, {}, { 'Retry-After': '2' });
    }
    chunk.replicas = [];
    await this.addReplicas(chunk);
    this.deps.log.warn(`Chunk ${chunk.chunkId} lost every replica mid-stream; replaying ${chunk.size} bytes to ${chunk.live().map((r) => r.serverId).join(', ')}`);
  }

  private dropReplica(chunk: OpenChunk, replica: ReplicaStream, error: unknown): void {
    if (replica.failed) return;
    replica.failed = true;
    chunk.failedServers.add(replica.serverId);
    this.dropped.push({ chunkId: chunk.chunkId, serverId: replica.serverId });
    replica.writer.abort('replica dropped');
    this.deps.supervisor.recordFailure(replica.serverId, error);
    this.deps.placement.writeFailed(replica.serverId, error);
    this.deps.onReplicaOutcome?.('failed');
    this.deps.log.warn(`Replica of chunk ${chunk.chunkId} on server ${replica.serverId} failed: ${errorMessage(error)}`);
  }

  private async closeChunk(chunk: OpenChunk): Promise<void> {
    await this.flush(chunk);
    this.current = null;
    chunk.checksumHex = chunk.hash.digest('hex');
    const stored = this.commitChunk(chunk);
    // finish()/abort() handle the outcome later; until then a rejection must not count as
    // unhandled (Node would end the whole gateway process).
    stored.catch(() => undefined);
    this.finished.push({ chunk, stored });
  }

  /** Ends every replica stream; resolves with the servers that confirmed the chunk. */
  private async commitChunk(chunk: OpenChunk): Promise<string[]> {
    for (;;) {
      const live = chunk.live();
      const results = await Promise.allSettled(live.map((r) => r.writer.end(chunk.checksumHex!)));
      const stored: string[] = [];
      results.forEach((result, index) => {
        const replica = live[index];
        if (result.status === 'fulfilled' && result.value.success) {
          stored.push(replica.serverId);
          this.deps.supervisor.recordSuccess(replica.serverId);
          this.deps.onReplicaOutcome?.('stored');
        } else {
          this.dropReplica(chunk, replica, result.status === 'rejected' ? result.reason : new Error(result.value.error_message));
        }
      });
      if (stored.length > 0) return stored;
      await this.reopen(chunk);
      await this.sendToReplicas(chunk, chunk.replay!);
    }
  }
}

