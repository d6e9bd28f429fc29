import type { ChunkRecord } from '../metadata/types';
import { DomainError } from '../util/domain-error';
import { errorMessage } from '../util/error-message';

/** No storage server can take a new chunk right now (none Ready, or fewer than the write needs). */
export class NoStorageServerError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 2;
}

/** Every replica of a chunk failed while it was being written, and it could not be written again. */
export class ChunkWriteError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 2;
}

/**
 * A chunk could not get its copies because storage servers refused it busy (MAX_CONCURRENT_PUTS
 * puts in progress): a burst that passes in moments, so the client is told to come back soon.
 */
export class StorageBusyError extends DomainError {
  readonly kind = 'busy';
  override readonly retryAfterSeconds = 1;
}

/** No replica of a chunk could serve it (all down, corrupt or missing). */
export class ChunkUnreadableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 2;

  constructor(readonly chunk: Pick<ChunkRecord, 'chunkNumber' | 'chunkId'>, cause: unknown) {
    super(`chunk ${chunk.chunkNumber} (${chunk.chunkId}) could not be read from any replica: ${errorMessage(cause)}`, {}, { cause });
  }
}
