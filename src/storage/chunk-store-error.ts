/** Why a chunk store operation failed; the gRPC layer maps each reason to its status code. */
export type ChunkStoreErrorReason =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'DATA_LOSS'
  | 'RESOURCE_EXHAUSTED'
  | 'OUT_OF_RANGE'
  /** A client stopped sending in the middle of a put. */
  | 'DEADLINE_EXCEEDED';

export class ChunkStoreError extends Error {
  constructor(readonly reason: ChunkStoreErrorReason, message: string) {
    super(message);
    this.name = 'ChunkStoreError';
  }
}

/** Duck-typed on purpose: errors from another realm (e.g. a test VM) fail `instanceof Error`. */
export function isNodeError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/** A block whose bytes no longer match their stored SHA-256. */
export class CorruptBlockError extends ChunkStoreError {
  constructor(readonly blockIndex: number, what: string) {
    super('DATA_LOSS', `${what} is damaged on disk: block ${blockIndex} does not match its checksum`);
  }
}

/**
 * A put refused because MAX_CONCURRENT_PUTS puts are in progress: RESOURCE_EXHAUSTED as a full
 * disk is, but marked busy on the wire (src/wire/busy-refusal.ts), since it passes in moments.
 */
export class ServerBusyError extends ChunkStoreError {
  constructor(maxConcurrentPuts: number) {
    super('RESOURCE_EXHAUSTED', `too many puts in progress (${maxConcurrentPuts}); retry later`);
  }
}
