import { createHash, type Hash } from 'node:crypto';
import type { ChunkRecord } from '../metadata/types';
import type { ChunkWrite, WrittenChunk } from '../replicas/chunk-write';
import type { ChunkPlan } from './chunk-plan';

/** A file received so far, ready for its metadata. */
export interface StoredContent {
  size: number;
  /** Hex SHA-256 of the whole file; '' when it was not computed (see Upload's hashContent). */
  checksum: string;
  chunks: ChunkRecord[];
}

/** Opens the write of one chunk of `expectedSize` bytes (0 when unknown) on its replicas. */
export type OpenChunk = (expectedSize: number) => Promise<ChunkWrite>;

/**
 * A file's bytes cut into chunks as they arrive, each chunk written to its replicas while the
 * file's SHA-256 is computed. A chunk is committed (its replicas confirm it) while the next one
 * already streams; the file is stored once every chunk is.
 */
export class Upload {
  private readonly fileHash: Hash | undefined;
  private current: ChunkWrite | null = null;
  private readonly committed: Array<{ chunk: ChunkWrite; offset: number; written: Promise<WrittenChunk> }> = [];
  private size = 0;

  constructor(
    private readonly openChunk: OpenChunk,
    private readonly plan: ChunkPlan,
    /** The exact upload size when known: each chunk's size is announced to its servers. */
    private readonly expectedSize?: number,
    /** False: no SHA-256 of the content, for bytes nothing will check against one. */
    hashContent = true,
  ) {
    this.fileHash = hashContent ? createHash('sha256') : undefined;
  }

  get bytesReceived(): number {
    return this.size;
  }

  async write(data: Buffer): Promise<void> {
    let rest = data;
    while (rest.length > 0) {
      const chunk = this.current ?? (this.current = await this.openChunk(this.nextChunkSize()));
      const chunkSize = this.plan.sizeOf(this.committed.length);
      const room = chunkSize - chunk.bytesWritten;
      const piece = rest.length > room ? rest.subarray(0, room) : rest;
      rest = rest.length > room ? rest.subarray(room) : Buffer.alloc(0);
      this.fileHash?.update(piece);
      this.size += piece.length;
      await chunk.write(piece);
      if (chunk.bytesWritten === chunkSize) {
        await chunk.flush(); // the source waits for the chunk's last frame, as for every other
        this.closeChunk();
      }
    }
  }

  /** Ends the upload: every chunk stored, or the first failure thrown (after removing what was stored). */
  async finish(): Promise<StoredContent> {
    if (this.current) this.closeChunk();
    const outcomes = await Promise.allSettled(this.committed.map((c) => c.written));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await this.abort('another chunk of the upload failed');
      throw failed.reason;
    }
    const chunks = this.committed.map(({ offset }, chunkNumber): ChunkRecord => {
      const written = (outcomes[chunkNumber] as PromiseFulfilledResult<WrittenChunk>).value;
      return {
        chunkNumber,
        chunkId: written.chunkId,
        offset,
        size: written.size,
        checksum: written.checksum,
        replicas: written.serverIds.map((serverId) => ({ serverId, status: 'stored' as const })),
      };
    });
    return { size: this.size, checksum: this.fileHash?.digest('hex') ?? '', chunks };
  }

  /** Cancels the chunk in progress and removes every chunk already stored. */
  async abort(reason = 'upload aborted'): Promise<void> {
    const open = this.current;
    this.current = null;
    const committed = this.committed.splice(0);
    await Promise.all([
      open?.abort(reason),
      ...committed.map(async ({ chunk, written }) => {
        await written.catch(() => undefined);
        await chunk.abort(reason);
      }),
    ]);
  }

  private nextChunkSize(): number {
    if (this.expectedSize === undefined) return 0;
    return Math.min(this.plan.sizeOf(this.committed.length), Math.max(0, this.expectedSize - this.size));
  }

  /** Starts committing the current chunk; finish()/abort() observe the outcome. */
  private closeChunk(): void {
    const chunk = this.current!;
    this.current = null;
    const written = chunk.commit();
    // Until finish()/abort() look at it, a rejection must not count as unhandled (Node would
    // end the whole gateway process).
    written.catch(() => undefined);
    this.committed.push({ chunk, offset: this.size - chunk.bytesWritten, written });
  }
}
