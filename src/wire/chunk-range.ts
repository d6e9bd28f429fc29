/** The bytes of one chunk that a GetChunk asks for (GetChunkRequest offset and length). */
export interface ChunkRange {
  /** First byte; absent = 0. */
  offset?: number;
  /** 0 or absent = to the end of the chunk; longer than the chunk = to the end. */
  length?: number;
}
