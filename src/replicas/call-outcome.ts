import * as grpc from '@grpc/grpc-js';
import type { ConnectionSupervisor } from '../connection/types';
import { errorMessage } from '../util/error-message';
import { saysBusy } from '../wire/busy-refusal';

/**
 * What a failed call to one storage server says. The only place gRPC status codes are read:
 * - missing:     NOT_FOUND, the server does not have the chunk
 * - corrupt:     DATA_LOSS, its copy (or what it received) is damaged
 * - busy:        RESOURCE_EXHAUSTED marked busy (src/wire/busy-refusal.ts): MAX_CONCURRENT_PUTS
 *                puts were in progress; nothing kept, and it takes puts again in moments
 * - full:        RESOURCE_EXHAUSTED otherwise (an older server marks nothing): no room for a new chunk
 * - refused:     INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE: it said no
 *                to this one request
 * - cancelled:   CANCELLED, this side gave up on the call
 * - unreachable: anything else (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, a stream cut short):
 *                the server's own health is in doubt
 * UNIMPLEMENTED never comes here: StorageClient serves a server without a newer RPC through the
 * older one (NewerRpcSupport).
 */
export type ReplicaProblem = 'missing' | 'corrupt' | 'busy' | 'full' | 'refused' | 'cancelled' | 'unreachable';

const PROBLEM_BY_CODE = new Map<number, ReplicaProblem>([
  [grpc.status.NOT_FOUND, 'missing'],
  [grpc.status.DATA_LOSS, 'corrupt'],
  [grpc.status.RESOURCE_EXHAUSTED, 'full'],
  [grpc.status.INVALID_ARGUMENT, 'refused'],
  [grpc.status.ALREADY_EXISTS, 'refused'],
  [grpc.status.FAILED_PRECONDITION, 'refused'],
  [grpc.status.OUT_OF_RANGE, 'refused'],
  [grpc.status.CANCELLED, 'cancelled'],
]);

export function problemOf(error: unknown): ReplicaProblem {
  if (error instanceof ReplicaCallError) return error.problem;
  const { code, metadata } = (error ?? {}) as { code?: unknown; metadata?: unknown };
  if (code === grpc.status.RESOURCE_EXHAUSTED && saysBusy(metadata)) return 'busy';
  return (typeof code === 'number' && PROBLEM_BY_CODE.get(code)) || 'unreachable';
}

/** The call ran out of its deadline (DEADLINE_EXCEEDED), set on this side. */
export function isPastDeadline(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === grpc.status.DEADLINE_EXCEEDED;
}

/** A call to one storage server failed; `problem` says what that means for its replica. */
export class ReplicaCallError extends Error {
  readonly problem: ReplicaProblem;

  constructor(readonly serverId: string, cause: unknown) {
    super(errorMessage(cause), { cause });
    this.name = 'ReplicaCallError';
    this.problem = problemOf(cause);
  }
}

/**
 * Feeds the outcome of every storage call to the connection layer, which keeps each server's
 * breaker and probe schedule. Only failures that speak to the server's health count against
 * its breaker: a busy or full server, a missing or damaged chunk or a cancelled call answer for
 * one request, and an open breaker would also stop the reads that server can still serve. Only
 * a full disk pauses the server for new chunks: a busy one takes puts again in moments, and
 * pausing it would move its load onto the others until they are busy too.
 */
export class CallOutcomes {
  constructor(
    private readonly supervisor: Pick<ConnectionSupervisor, 'recordSuccess' | 'recordFailure'>,
    /** Told about every server that refused a write for lack of space (placement pauses it). */
    private readonly onFull: (serverId: string) => void = () => undefined,
  ) {}

  succeeded(serverId: string): void {
    this.supervisor.recordSuccess(serverId);
  }

  /** Records the failure and returns it as a ReplicaCallError. */
  failed(serverId: string, error: unknown): ReplicaCallError {
    const failure = error instanceof ReplicaCallError ? error : new ReplicaCallError(serverId, error);
    if (failure.problem === 'unreachable') this.supervisor.recordFailure(serverId, failure.cause);
    if (failure.problem === 'full') this.onFull(serverId);
    return failure;
  }
}
