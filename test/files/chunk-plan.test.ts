import { createHash } from 'node:crypto';
import { chunkPlanFor, DEFAULT_MIN_CHUNK_SIZE, MAX_CHUNK_COUNT } from '../../src/files/chunk-plan';
import { Upload } from '../../src/files/upload';
import type { ChunkWrite, WrittenChunk } from '../../src/replicas/chunk-write';
import { loadGatewayConfig } from '../../src/gateway/config';

const MiB = 1024 * 1024;
const config = { minChunkSize: DEFAULT_MIN_CHUNK_SIZE, streamChunkSize: 64 * MiB };

/** Stands in for the replica layer: records each chunk's announced and written sizes. */
class RecordingChunk {
  bytesWritten = 0;
  constructor(readonly announced: number) {}
  async write(piece: Buffer): Promise<void> {
    this.bytesWritten += piece.length;
  }
  async flush(): Promise<void> {}
  async commit(): Promise<WrittenChunk> {
    return { chunkId: `chunk-${this.announced}`, size: this.bytesWritten, checksum: 'crc32:00000000', serverIds: ['s1'] };
  }
  async abort(): Promise<void> {}
}

/** Uploads `size` bytes in pieces of `pieceSize` and returns [announced, written] per chunk. */
async function cut(size: number, expected: number | undefined, pieceSize = 64 * 1024): Promise<Array<[number, number]>> {
  const chunks: RecordingChunk[] = [];
  const upload = new Upload(
    async (announced) => {
      const chunk = new RecordingChunk(announced);
      chunks.push(chunk);
      return chunk as unknown as ChunkWrite;
    },
    chunkPlanFor(expected, config),
    expected,
  );
  for (let sent = 0; sent < size; sent += pieceSize) await upload.write(Buffer.alloc(Math.min(pieceSize, size - sent)));
  const stored = await upload.finish();
  expect(stored.size).toBe(size);
  expect(stored.chunks.map((c) => c.size)).toEqual(chunks.map((c) => c.bytesWritten));
  expect(stored.chunks.map((c) => c.offset)).toEqual(chunks.map((_, i) => chunks.slice(0, i).reduce((sum, c) => sum + c.bytesWritten, 0)));
  return chunks.map((c) => [c.announced, c.bytesWritten]);
}

describe('chunk plan: min(6, ceil(size / MIN_CHUNK_SIZE)) near-equal chunks', () => {
  it.each([
    [0, []],
    [1, [1]],
    [MiB, [MiB]],
    [MiB + 1, [MiB / 2 + 1, MiB / 2]],
    [6 * MiB - 1, [MiB, MiB, MiB, MiB, MiB, MiB - 1]],
    [6 * MiB, [MiB, MiB, MiB, MiB, MiB, MiB]],
    [6 * MiB + 1, [MiB + 1, MiB, MiB, MiB, MiB, MiB]],
  ])('a file of %i bytes is cut into chunks of %j bytes, each announced to its servers', async (size, sizes) => {
    const chunks = await cut(size, size);
    expect(chunks).toEqual(sizes.map((s) => [s, s]));
  });

  it('a big file keeps six near-equal chunks', () => {
    const size = 10 * 1024 ** 3 + 5;
    const plan = chunkPlanFor(size, config);
    const sizes = Array.from({ length: MAX_CHUNK_COUNT }, (_, i) => plan.sizeOf(i));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(size);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBe(1);
  });

  it('an unknown size cuts fixed STREAM_CHUNK_SIZE chunks and announces none', async () => {
    const small = { minChunkSize: MiB, streamChunkSize: 100_000 };
    const plan = chunkPlanFor(undefined, small);
    expect([0, 1, 7].map((n) => plan.sizeOf(n))).toEqual([100_000, 100_000, 100_000]);
    expect(chunkPlanFor(0, small).sizeOf(3)).toBe(100_000);
    expect(await cut(250_000, undefined)).toEqual([[0, 250_000]]); // one 64 MiB chunk, not yet full
  });

  it('bytes past an estimated size go on in chunks of the largest planned size', async () => {
    // A multipart estimate of 1 MiB + 1 bytes that turned out 2 MiB: not announced (not exact).
    const chunks: number[] = [];
    const upload = new Upload(
      async () => {
        const chunk = new RecordingChunk(0);
        chunks.push(0);
        return chunk as unknown as ChunkWrite;
      },
      chunkPlanFor(MiB + 1, config),
      undefined,
    );
    await upload.write(Buffer.alloc(2 * MiB));
    const stored = await upload.finish();
    expect(stored.chunks.map((c) => c.size)).toEqual([MiB / 2 + 1, MiB / 2, MiB / 2 + 1, MiB / 2 - 2]);
  });

  it('hashes the content with SHA-256 unless told not to (then the checksum is empty)', async () => {
    const data = Buffer.from('the bytes of a file');
    const open = async (announced: number) => new RecordingChunk(announced) as unknown as ChunkWrite;
    const hashed = new Upload(open, chunkPlanFor(data.length, config), data.length);
    await hashed.write(data);
    expect((await hashed.finish()).checksum).toBe(createHash('sha256').update(data).digest('hex'));
    const unhashed = new Upload(open, chunkPlanFor(data.length, config), data.length, false);
    await unhashed.write(data);
    expect(await unhashed.finish()).toMatchObject({ size: data.length, checksum: '' });
  });

  it('MIN_CHUNK_SIZE is read at start and checked with one line naming it', () => {
    expect(loadGatewayConfig({}).minChunkSize).toBe(MiB);
    expect(loadGatewayConfig({ MIN_CHUNK_SIZE: '4MiB' }).minChunkSize).toBe(4 * MiB);
    expect(() => loadGatewayConfig({ MIN_CHUNK_SIZE: '0' })).toThrow(/^MIN_CHUNK_SIZE must be at least 1 bytes, got 0$/);
    expect(() => loadGatewayConfig({ MIN_CHUNK_SIZE: 'lots' })).toThrow(/^MIN_CHUNK_SIZE must be a size/);
  });
});
