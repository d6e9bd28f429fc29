import * as grpc from '@grpc/grpc-js';
import type { ConnectionPool } from '../../connection/types';
import type { Logger } from '../../log/logger';
import type { ChunkRecord } from '../../metadata/types';
import type { ByteRange } from '../http/range';

/** Passes over a chunk's replicas before giving up, with backoff between passes. */
const READ_ROUNDS = 3;
const BACKOFF_BASE_MS = 100;

export interface ReadDeps {
  pool: ConnectionPool;
  log: Logger;
  streamIdleTimeoutMs: number;
  /** A replica answered DATA_LOSS (corrupt) or NOT_FOUND (missing): repair should know. */
  onBadReplica(chunkId: string, serverId: string, problem: 'corrupt' | 'missing'): void;
  onRetry?(): void;
}

export class ChunkUnavailableError extends Error {
  constructor(readonly chunk: ChunkRecord, cause: unknown) {
    super(`chunk ${chunk.chunkNumber} (${chunk.chunkId}) could not be read from any replica: ${describe(cause)}`);
    this.name = 'ChunkUnavailableError';
  }
}

/** The bytes of `range` of a file, chunk after chunk, in order. */
export async function* readFileRange(chunks: ChunkRecord[], range: ByteRange, deps: ReadDeps): AsyncGenerator<Buffer> {
  for (const chunk of chunks) {
    const chunkEnd = chunk.offset + chunk.size - 1;
    if (chunk.size === 0 || chunkEnd < range.start || chunk.offset > range.end) continue;
    const from = Math.max(range.start, chunk.offset) - chunk.offset;
    const to = Math.min(range.end, chunkEnd) - chunk.offset;
    yield* readChunk(chunk, from, to - from + 1, deps);
  }
}

/**
 * One chunk's bytes [offset, offset+length). If a replica fails mid-stream the read resumes on
 * another at the exact byte reached, so the caller sees one seamless stream or an error.
 */
export async function* readChunk(chunk: ChunkRecord, offset: number, length: number, deps: ReadDeps): AsyncGenerator<Buffer> {
  const { pool } = deps;
  const bad = new Set<string>();
  let delivered = 0;
  let lastError: unknown = new Error('no replica recorded');
  for (let round = 0; round < READ_ROUNDS; round++) {
    if (round > 0) {
      deps.onRetry?.();
      await delay(BACKOFF_BASE_MS * 2 ** (round - 1) * (0.5 + Math.random()));
    }
    for (const serverId of replicaOrder(chunk, bad, pool)) {
      const client = pool.clientIfReady(serverId) ?? (await pool.getClient(serverId).catch((error) => ((lastError = error), undefined)));
      if (!client) continue;
      const stream = client.getChunk(
        chunk.chunkId,
        { offset: offset + delivered, length: length - delivered },
        { idleTimeoutMs: deps.streamIdleTimeoutMs },
      );
      try {
        for await (const data of stream as AsyncIterable<Buffer>) {
          const wanted = length - delivered;
          const piece = data.length > wanted ? data.subarray(0, wanted) : data;
          if (piece.length === 0) continue;
          delivered += piece.length;
          yield piece;
        }
        if (delivered !== length) throw new Error(`replica ended the stream at ${delivered} of ${length} bytes`);
        pool.recordSuccess(serverId);
        return;
      } catch (error) {
        lastError = error;
        const code = (error as grpc.ServiceError).code;
        if (code === grpc.status.DATA_LOSS || code === grpc.status.NOT_FOUND) {
          bad.add(serverId);
          deps.onBadReplica(chunk.chunkId, serverId, code === grpc.status.DATA_LOSS ? 'corrupt' : 'missing');
        } else {
          pool.recordFailure(serverId, error);
        }
        deps.log.warn(
          `Read of chunk ${chunk.chunkId} from server ${serverId} failed at byte ${offset + delivered}: ${describe(error)}; trying another replica`,
        );
      } finally {
        stream.destroy();
      }
    }
  }
  throw new ChunkUnavailableError(chunk, lastError);
}

/** Stored replicas not known bad, Ready ones first. */
function replicaOrder(chunk: ChunkRecord, bad: ReadonlySet<string>, pool: ConnectionPool): string[] {
  const candidates = chunk.replicas.filter((r) => r.status === 'stored' && !bad.has(r.serverId)).map((r) => r.serverId);
  return [...candidates.filter((id) => pool.isAvailable(id)), ...candidates.filter((id) => !pool.isAvailable(id))];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
