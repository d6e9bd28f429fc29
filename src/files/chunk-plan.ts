/** Files of known size are cut into this many near-equal chunks. */
export const TARGET_CHUNK_COUNT = 6;

/**
 * Chunk size for an upload: 6 near-equal chunks when the size is known (files under 6 bytes
 * get one byte per chunk), the fixed stream chunk size otherwise.
 */
export function chunkSizeFor(expectedSize: number | undefined, streamChunkSize: number): number {
  if (expectedSize === undefined || expectedSize <= 0) return streamChunkSize;
  return Math.max(1, Math.ceil(expectedSize / TARGET_CHUNK_COUNT));
}
