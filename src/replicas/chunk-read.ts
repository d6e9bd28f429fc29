import type { ConnectionSupervisor } from '../connection/types';
import type { ChunkRecord } from '../metadata/types';
import { withDeadline } from '../util/deadline';
import { errorMessage } from '../util/error-message';
import { ExpiringSet } from '../util/expiring-set';
import type { Logger } from '../util/logger';
import type { StorageClient } from '../rpc/storage-client';
import type { ChunkRange } from '../wire/chunk-range';
import { isPastDeadline, type CallOutcomes } from './call-outcome';
import { ChunkUnreadableError } from './errors';

export interface ChunkReadDeps {
  supervisor: Pick<ConnectionSupervisor, 'getClient' | 'isAvailable'>;
  outcomes: CallOutcomes;
  log: Logger;
  streamIdleTimeoutMs: number;
  /** A replica turned out corrupt or missing: repair should know (it is marked in metadata). */
  onBadReplica(chunkId: string, serverId: string, problem: 'corrupt' | 'missing'): void;
  onRetry?(): void;
}

/** Passes over a chunk's replicas before giving up, with backoff between passes. */
const READ_ROUNDS = 3;
const BACKOFF_BASE_MS = 100;
/**
 * A replica that sends nothing for this long while another replica could serve the bytes is
 * abandoned for that one: the stream idle timeout (30 s) is right for the last replica, far
 * too long when there is a choice.
 */
const REPLICA_STALL_MS = 750;
/**
 * A server that stalled a read is tried last for this long, so one hung server costs a stall
 * to a few requests, not to every one. Not a breaker failure: under heavy load healthy servers
 * stall too, and opening breakers then would turn slowness into 503s.
 */
const STALL_MEMORY_MS = 5_000;
/** Servers that stalled a read lately (this gateway process). */
const recentStalls = new ExpiringSet(STALL_MEMORY_MS);

/** A replica that sent nothing for REPLICA_STALL_MS while another could take over. */
class ReplicaStallError extends Error {}

function stalled(serverId: string, chunkId: string, stallMs: number): ReplicaStallError {
  return new ReplicaStallError(`server ${serverId} sent nothing of chunk ${chunkId} for ${stallMs} ms`);
}

/**
 * One chunk's bytes [offset, offset+length). If a replica fails mid-stream the read resumes on
 * another at the exact byte reached, so the caller sees one seamless stream or an error.
 */
export async function* readChunk(chunk: ChunkRecord, offset: number, length: number, deps: ChunkReadDeps): AsyncGenerator<Buffer> {
  const { supervisor } = deps;
  const bad = new Set<string>();
  let delivered = 0;
  // Made only on failure: an Error's stack trace costs a cold read measurable CPU.
  let lastError: unknown;
  for (let round = 0; round < READ_ROUNDS; round++) {
    if (round > 0) {
      deps.onRetry?.();
      await delay(BACKOFF_BASE_MS * 2 ** (round - 1) * (0.5 + Math.random()));
    }
    const order = replicaOrder(chunk, bad, supervisor);
    for (const [index, serverId] of order.entries()) {
      const client = await supervisor.getClient(serverId).catch((error: unknown) => {
        lastError = error;
        deps.log.warn(`Read of chunk ${chunk.chunkId}: server ${serverId} cannot serve it now: ${errorMessage(error)}; trying another replica`);
        return undefined;
      });
      if (!client) continue;
      // Only while another replica could take over right now, and never in the last round: a
      // stall limit on the only usable copy turns a slow server into a failed download.
      const alternative = order.slice(index + 1).some((id) => supervisor.isAvailable(id));
      const stallMs = alternative && round < READ_ROUNDS - 1 ? REPLICA_STALL_MS : undefined;
      const range = { offset: offset + delivered, length: length - delivered };
      const stream = range.length > UNARY_READ_MAX_BYTES ? client.getChunk(chunk.chunkId, range, { idleTimeoutMs: deps.streamIdleTimeoutMs }) : undefined;
      try {
        const pieces = stream
          ? withStallLimit(stream, stallMs, chunk.chunkId, serverId)
          : [await readWhole(client, serverId, chunk.chunkId, range, stallMs ?? deps.streamIdleTimeoutMs, stallMs !== undefined)];
        for await (const data of pieces) {
          const wanted = length - delivered;
          const piece = data.length > wanted ? data.subarray(0, wanted) : data;
          if (piece.length === 0) continue;
          delivered += piece.length;
          yield piece;
        }
        if (delivered !== length) throw new Error(`replica ended the stream at ${delivered} of ${length} bytes`);
        deps.outcomes.succeeded(serverId);
        recentStalls.delete(serverId);
        return;
      } catch (error) {
        lastError = error;
        if (error instanceof ReplicaStallError) {
          recentStalls.add(serverId);
        } else {
          const { problem } = deps.outcomes.failed(serverId, error);
          if (problem === 'corrupt' || problem === 'missing') {
            bad.add(serverId);
            deps.onBadReplica(chunk.chunkId, serverId, problem);
          }
        }
        deps.log.warn(
          `Read of chunk ${chunk.chunkId} from server ${serverId} failed at byte ${offset + delivered}: ${errorMessage(error)}; trying another replica`,
        );
      } finally {
        stream?.destroy();
      }
    }
  }
  throw new ChunkUnreadableError(chunk, lastError ?? new Error('no replica recorded'));
}

/**
 * Ranges up to this long are read with ReadChunk, longer ones stream (GetChunk), though
 * ReadChunk takes up to 1 MiB: 1 MiB reads cost storage servers and gateway twice the CPU in one
 * reply as in a stream (`bench -- small`: a fresh 1 MiB buffer per reply on both sides, where
 * stream frames are pooled), while 4 and 64 KiB reads cost less.
 */
const UNARY_READ_MAX_BYTES = 64 * 1024;

/**
 * A range of at most UNARY_READ_MAX_BYTES from one replica in one ReadChunk call (no stream on
 * either side). Its deadline is `waitMs`; when that is a stall limit, a replica that has not
 * answered by then is left for another (the call ends itself: no timer or abort of our own).
 */
async function readWhole(client: StorageClient, serverId: string, chunkId: string, range: Required<ChunkRange>, waitMs: number, isStallLimit: boolean): Promise<Buffer> {
  try {
    return await client.readChunk(chunkId, range, { deadlineMs: waitMs });
  } catch (error) {
    throw isStallLimit && isPastDeadline(error) ? stalled(serverId, chunkId, waitMs) : error;
  }
}

/**
 * The stream's items, failing with DEADLINE_EXCEEDED when the next one takes longer than
 * `stallMs` to arrive. Only time spent waiting on the server counts: the clock starts when the
 * consumer asks for the next item.
 */
async function* withStallLimit(source: AsyncIterable<Buffer>, stallMs: number | undefined, chunkId: string, serverId: string): AsyncGenerator<Buffer> {
  if (stallMs === undefined) return yield* source;
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    const next = iterator.next();
    next.catch(() => undefined); // the caller destroys the stream after a stall; that rejection is expected
    const result = await withDeadline(next, stallMs, () => stalled(serverId, chunkId, stallMs));
    if (result.done) return;
    yield result.value;
  }
}

/** Stored replicas not known bad: Ready ones first, those that stalled lately after them. */
function replicaOrder(chunk: ChunkRecord, bad: ReadonlySet<string>, supervisor: ChunkReadDeps['supervisor']): string[] {
  const candidates = chunk.replicas.filter((r) => r.status === 'stored' && !bad.has(r.serverId)).map((r) => r.serverId);
  const rank = (id: string): number => (!supervisor.isAvailable(id) ? 2 : recentStalls.has(id) ? 1 : 0);
  return candidates.map((id) => ({ id, rank: rank(id) })).sort((a, b) => a.rank - b.rank).map(({ id }) => id);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

