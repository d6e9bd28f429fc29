/** A file of known size is cut into at most this many chunks. */
export const MAX_CHUNK_COUNT = 6;
/** Default MIN_CHUNK_SIZE: a file gets one more chunk per this many bytes, up to MAX_CHUNK_COUNT. */
export const DEFAULT_MIN_CHUNK_SIZE = 1024 * 1024;

/** How an upload is cut into chunks: the size of each chunk by its number. */
export interface ChunkPlan {
  /** Bytes of chunk `chunkNumber` (from 0); a stream may end before it is full. */
  sizeOf(chunkNumber: number): number;
}

export interface ChunkPlanConfig {
  /** MIN_CHUNK_SIZE: the chunk count grows by one per this many bytes. */
  minChunkSize: number;
  /** STREAM_CHUNK_SIZE: the size of every chunk when the upload's size is not known. */
  streamChunkSize: number;
}

/**
 * The plan for an upload of `expectedSize` bytes: `min(6, ceil(size / MIN_CHUNK_SIZE))`
 * near-equal chunks (sizes differ by at most one byte), so a small file is one chunk and every
 * file of 6 * MIN_CHUNK_SIZE or more has six. With no size (or 0: an upload that may still
 * bring bytes, e.g. a multipart body of unknown length) every chunk is STREAM_CHUNK_SIZE.
 * Bytes beyond a known size (an estimate that fell short) go on in chunks of the largest
 * planned size.
 */
export function chunkPlanFor(expectedSize: number | undefined, config: ChunkPlanConfig): ChunkPlan {
  if (expectedSize === undefined || expectedSize <= 0) return { sizeOf: () => config.streamChunkSize };
  const count = Math.min(MAX_CHUNK_COUNT, Math.ceil(expectedSize / config.minChunkSize));
  const base = Math.floor(expectedSize / count);
  const larger = expectedSize % count; // the first `larger` chunks take one byte more
  const largest = larger > 0 ? base + 1 : base;
  return { sizeOf: (chunkNumber) => (chunkNumber < larger ? base + 1 : chunkNumber < count ? base : largest) };
}
