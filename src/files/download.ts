import type { ChunkRecord } from '../metadata/types';
import type { ByteRange } from './byte-range';

/** Reads bytes of one chunk (the replica layer's readChunk). */
export type ReadChunk = (chunk: ChunkRecord, offset: number, length: number) => AsyncGenerator<Buffer>;

/**
 * Chunk reads started ahead of the one being streamed. One hides the round trip at each chunk
 * boundary; more (all six chunks of a small file at once) was measured to make things worse
 * under load: six calls per request queue up at the servers, first frames pass the replica
 * stall limit, and the re-reads on other replicas add work to a saturated system.
 */
const CHUNKS_AHEAD = 1;

interface ChunkPart {
  chunk: ChunkRecord;
  offset: number;
  length: number;
}

interface StartedPart {
  reader: AsyncGenerator<Buffer>;
  first: Promise<IteratorResult<Buffer>>;
}

/**
 * The bytes of `range` of a file, chunk after chunk, in order. The next chunk's read starts
 * while the current one streams, so a chunk boundary costs no round trip. A started read holds
 * at most its first frame plus the call's small buffer, so memory stays bounded.
 */
export async function* readFileRange(chunks: ChunkRecord[], range: ByteRange, readChunk: ReadChunk): AsyncGenerator<Buffer> {
  const parts = chunkParts(chunks, range);
  const started: StartedPart[] = [];
  const startUpTo = (last: number) => {
    while (started.length < parts.length && started.length <= last) {
      const { chunk, offset, length } = parts[started.length];
      const reader = readChunk(chunk, offset, length);
      const first = reader.next();
      first.catch(() => undefined); // observed when its turn comes; never an unhandled rejection
      started.push({ reader, first });
    }
  };
  try {
    for (let index = 0; index < parts.length; index++) {
      startUpTo(index + CHUNKS_AHEAD);
      const { reader, first } = started[index];
      for (let next = await first; !next.done; next = await reader.next()) yield next.value;
    }
  } finally {
    // Reads started ahead and never consumed: cancel their calls (without waiting on them).
    for (const { reader } of started) reader.return(undefined).catch(() => undefined);
  }
}

function chunkParts(chunks: ChunkRecord[], range: ByteRange): ChunkPart[] {
  const parts: ChunkPart[] = [];
  for (const chunk of chunks) {
    const chunkEnd = chunk.offset + chunk.size - 1;
    if (chunk.size === 0 || chunkEnd < range.start || chunk.offset > range.end) continue;
    const from = Math.max(range.start, chunk.offset) - chunk.offset;
    const to = Math.min(range.end, chunkEnd) - chunk.offset;
    parts.push({ chunk, offset: from, length: to - from + 1 });
  }
  return parts;
}
