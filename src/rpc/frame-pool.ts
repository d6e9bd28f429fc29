import { MessageBufferPool } from './message-buffer-pool';
import { MAX_FRAME_BYTES } from './storage-client';

/** A data frame's bytes beyond its data: gRPC's 5-byte prefix, the bytes field's key and length. */
const FRAME_OVERHEAD = 16;

/**
 * A pool for the 1 MiB data frames of PutChunk and GetChunk: received into (MessageDecoder) or
 * read from disk into (allocateForBytesMessage), and given back once their bytes are used.
 */
export function createFramePool(maxFree: number): MessageBufferPool {
  return new MessageBufferPool(MAX_FRAME_BYTES + FRAME_OVERHEAD, maxFree);
}
