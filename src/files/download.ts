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
/**
 * A chunk's read starts once the chunk before it has at most this many bytes left to hand over,
 * not as soon as that one starts. A started call is sent up to its HTTP/2 window (4 MiB,
 * src/wire/http2-window.ts) at once, and those bytes wait in Node's socket-read buffers until
 * their turn. Started with the chunk before it (853 MiB of a 5 GiB file), they waited for
 * seconds, outlived the forced scavenges into the old generation, and stayed resident until a
 * full GC: the gateway's Buffers grew from 11 to 41 MB over a 5 GiB download, to a peak RSS of
 * 142 MB; with this they stay at 5-8 MB (docs/performance.md, 2026-12-07). Within the last
 * 2 MiB they wait about one forced scavenge (one per 2 MiB moved, src/wire/scavenge-pacer.ts),
 * and the call's start is still hidden behind the bytes left. After a chunk of this size or
 * less the next read starts at once, as before: a small file's chunks are still read ahead.
 */
export const READ_AHEAD_BYTES = 2 * 1024 * 1024;

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
 * while the current one hands over its last READ_AHEAD_BYTES, so a chunk boundary costs no
 * round trip, and what that read receives early waits only briefly.
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
      let left = parts[index].length;
      startUpTo(left <= READ_AHEAD_BYTES ? index + CHUNKS_AHEAD : index);
      const { reader, first } = started[index];
      for (let next = await first; !next.done; next = await reader.next()) {
        left -= next.value.length;
        if (left <= READ_AHEAD_BYTES) startUpTo(index + CHUNKS_AHEAD);
        yield next.value;
      }
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
