import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pageAlignedBuffer } from '../../src/storage/aligned-buffer-pool';
import { ChunkFileWriter } from '../../src/storage/chunk-file-writer';
import { DIRECT_MIN_CHUNK_BYTES } from '../../src/storage/direct-io';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { interceptDirectCalls } from './direct-io-calls';

const MiB = 1024 * 1024;

/** Direct writes under `dir`: the first waits for release() before the disk reads its buffer; the others go at once. */
async function holdFirstDirectWrite(dir: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  const direct = await interceptDirectCalls(dir, 'write', async (write) => {
    if (!held) {
      held = true;
      await gate;
    }
    return write();
  });
  return { direct, isHeld: () => held, release };
}

describe('ChunkFileWriter', () => {
  afterAll(removeTempDirs);

  it('keeps its aligned buffer from other puts until the direct write from it has finished, even when closed meanwhile (an abort)', async () => {
    const dir = await makeTempDir('ringstore-writer-');
    const { direct, isHeld, release } = await holdFirstDirectWrite(dir);
    try {
      const first = await ChunkFileWriter.create(path.join(dir, 'first'), DIRECT_MIN_CHUNK_BYTES);
      if (direct.directOpens() === 0) return; // no O_DIRECT on this file system: no buffer to share
      const a = randomBytes(MiB);
      const firstWrite = first.write(a);
      await new Promise(setImmediate);
      expect(isHeld()).toBe(true);
      const closed = first.closeDirect(); // an abort beside the write in flight

      const second = await ChunkFileWriter.create(path.join(dir, 'second'), DIRECT_MIN_CHUNK_BYTES);
      await second.write(randomBytes(MiB)); // would fill the first one's buffer, were it back in the pool
      release();
      await Promise.all([firstWrite, closed, second.closeDirect()]);
      await Promise.all([first.file.close(), second.file.close()]);
      expect((await fs.readFile(path.join(dir, 'first'))).equals(a)).toBe(true);
    } finally {
      direct.restore();
    }
  });

  it('writes a page-aligned MiB (a received frame) with O_DIRECT from the caller\'s memory, and other data through its aligned buffer', async () => {
    const dir = await makeTempDir('ringstore-writer-');
    const { direct, isHeld, release } = await holdFirstDirectWrite(dir);
    try {
      const writer = await ChunkFileWriter.create(path.join(dir, 'chunk'), DIRECT_MIN_CHUNK_BYTES);
      if (direct.directOpens() === 0) return; // no O_DIRECT on this file system
      const frame = pageAlignedBuffer(MiB);
      randomBytes(MiB).copy(frame);
      const writing = writer.write(frame);
      await new Promise(setImmediate);
      expect(isHeld()).toBe(true);
      // Changed while the disk has not read it yet: on disk only if written from this very memory.
      frame[0] ^= 0xff;
      release();
      await writing;
      const plain = randomBytes(MiB);
      await writer.write(plain);
      await writer.finish(Buffer.alloc(0));
      await writer.file.close();
      const onDisk = await fs.readFile(path.join(dir, 'chunk'));
      expect(onDisk.subarray(0, MiB).equals(frame)).toBe(true);
      expect(onDisk.subarray(MiB).equals(plain)).toBe(true);
    } finally {
      direct.restore();
    }
  });
});
