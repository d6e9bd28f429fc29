import { readFileRange, READ_AHEAD_BYTES, type ReadChunk } from '../../src/files/download';
import type { ChunkRecord } from '../../src/metadata/types';

const MiB = 1024 * 1024;

function chunksOf(sizes: number[]): ChunkRecord[] {
  let offset = 0;
  return sizes.map((size, chunkNumber) => {
    const chunk = { chunkNumber, chunkId: `chunk-${chunkNumber}`, offset, size, checksum: '', replicas: [] };
    offset += size;
    return chunk;
  });
}

/**
 * Stands in for the replica layer: each chunk in 1 MiB pieces (the size of a data frame), and a
 * note of how many bytes all reads had delivered when each chunk's read started.
 */
function recordingReader() {
  const startedAt = new Map<number, number>();
  let delivered = 0;
  const readChunk: ReadChunk = async function* (chunk, offset, length) {
    startedAt.set(chunk.chunkNumber, delivered);
    for (let at = 0; at < length; at += MiB) {
      const piece = Buffer.alloc(Math.min(MiB, length - at), chunk.chunkNumber);
      delivered += piece.length;
      yield piece;
    }
  };
  return { readChunk, startedAt };
}

async function readAll(chunks: ChunkRecord[], reader: ReturnType<typeof recordingReader>, end = chunks.at(-1)!.offset + chunks.at(-1)!.size - 1): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of readFileRange(chunks, { start: 0, end }, reader.readChunk)) pieces.push(piece);
  return Buffer.concat(pieces);
}

describe('readFileRange', () => {
  it('starts a large chunk\'s next read only within its last READ_AHEAD_BYTES, so early bytes wait briefly', async () => {
    const chunks = chunksOf([40 * MiB, 40 * MiB, 40 * MiB]);
    const reader = recordingReader();
    const body = await readAll(chunks, reader);
    expect(body.length).toBe(120 * MiB);
    expect(reader.startedAt.get(0)).toBe(0);
    for (const n of [1, 2]) {
      const chunkEnd = chunks[n - 1].offset + chunks[n - 1].size;
      // Not before the chunk before it is down to its last READ_AHEAD_BYTES...
      expect(reader.startedAt.get(n)).toBeGreaterThanOrEqual(chunkEnd - READ_AHEAD_BYTES);
      // ...and before its last piece is delivered, so the boundary costs no round trip.
      expect(reader.startedAt.get(n)).toBeLessThan(chunkEnd);
    }
  });

  it('starts the next read at once after a chunk of READ_AHEAD_BYTES or less', async () => {
    const chunks = chunksOf([MiB, MiB, MiB, READ_AHEAD_BYTES]);
    const reader = recordingReader();
    await readAll(chunks, reader);
    // Each read starts as the one before it delivers its first piece.
    expect([...reader.startedAt]).toEqual([[0, 0], [1, MiB], [2, 2 * MiB], [3, 3 * MiB]]);
  });

  it('reads a range in order, across chunk boundaries', async () => {
    const chunks = chunksOf([5 * MiB, 5 * MiB]);
    const reader = recordingReader();
    const body = await readAll(chunks, reader, 6 * MiB);
    expect(body.length).toBe(6 * MiB + 1);
    expect(body[5 * MiB - 1]).toBe(0);
    expect(body[5 * MiB]).toBe(1);
  });
});
