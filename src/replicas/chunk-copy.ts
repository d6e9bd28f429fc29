import type { StorageClient } from '../rpc/storage-client';
import { errorMessage } from '../util/error-message';
import { problemOf, type ReplicaProblem } from './call-outcome';

/** Paces a transfer: resolves once `bytes` may go (src/jobs/rate-limiter.ts is one). */
export interface Bandwidth {
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

export interface ChunkCopy {
  chunkId: string;
  size: number;
  /** Hex SHA-256 of the chunk as recorded in metadata: the target refuses other bytes. */
  checksum: string;
  source: StorageClient;
  target: StorageClient;
  /** Paces the copy in bytes. */
  bandwidth: Bandwidth;
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

/** Which end of a copy failed: decides whether to try another source or another target. */
export class ChunkCopyError extends Error {
  constructor(
    readonly side: 'source' | 'target',
    override readonly cause: unknown,
    chunkId: string,
  ) {
    super(`copy of chunk ${chunkId} failed on the ${side} side: ${errorMessage(cause)}`);
    this.name = 'ChunkCopyError';
  }

  /** What the failure says about the replica on that side. */
  get problem(): ReplicaProblem {
    return problemOf(this.cause);
  }
}

/**
 * Streams a chunk from one storage server to another, frame by frame (never the whole chunk
 * in memory), paced by the bandwidth limiter. The target checks the recorded checksum before
 * it keeps anything, so a bad copy is never published. Returns the bytes copied; an aborted
 * signal rejects with its reason.
 */
export async function copyChunk(copy: ChunkCopy): Promise<number> {
  const { chunkId, signal } = copy;
  const options = { idleTimeoutMs: copy.idleTimeoutMs, signal };
  const writer = copy.target.putChunk(chunkId, copy.checksum, copy.size, options);
  const reader = copy.source.getChunk(chunkId, {}, options);
  let copied = 0;
  try {
    for await (const piece of reader as AsyncIterable<Buffer>) {
      await copy.bandwidth.take(piece.length, signal);
      try {
        await writer.write(piece);
      } catch (error) {
        throw new ChunkCopyError('target', error, chunkId);
      }
      copied += piece.length;
    }
    if (copied !== copy.size) {
      throw new ChunkCopyError('source', new Error(`source sent ${copied} of ${copy.size} bytes`), chunkId);
    }
  } catch (error) {
    writer.abort(errorMessage(error));
    signal?.throwIfAborted();
    throw error instanceof ChunkCopyError ? error : new ChunkCopyError('source', error, chunkId);
  } finally {
    reader.destroy();
  }
  try {
    const response = await writer.end();
    if (!response.success) throw new Error(response.error_message || 'storage server refused the chunk');
  } catch (error) {
    signal?.throwIfAborted();
    throw new ChunkCopyError('target', error, chunkId);
  }
  return copied;
}
