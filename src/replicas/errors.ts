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

/** No replica of a chunk could serve it (all down, corrupt or missing). */
export class ChunkUnreadableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 2;

  constructor(readonly chunk: Pick<ChunkRecord, 'chunkNumber' | 'chunkId'>, cause: unknown) {
    super(`chunk ${chunk.chunkNumber} (${chunk.chunkId}) could not be read from any replica: ${errorMessage(cause)}`, {}, { cause });
  }
}
