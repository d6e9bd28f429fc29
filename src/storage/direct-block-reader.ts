import { constants } from 'node:fs';
import type fs from 'node:fs/promises';
import { AlignedBufferPool } from './aligned-buffer-pool';
import { BLOCK_SIZE, fileEndsEarly } from './chunk-file-format';
import { isNodeError } from './chunk-store-error';
import { DIRECT_IO_ALIGNMENT, openDirect } from './direct-io';

/** One block each; a read in progress holds two (the block served and the one read ahead). */
export const directReadBuffers = new AlignedBufferPool(BLOCK_SIZE, 8);

/**
 * The data blocks of a large chunk file read with O_DIRECT, beside the buffered handle that
 * read its footer and checks. A chunk read right after its upload is not in the page cache
 * (the upload wrote with O_DIRECT too), and filling the page cache on this VM cost a storage
 * server more CPU than the read itself (fresh guest pages backed on first touch). Blocks are
 * BLOCK_SIZE bytes at multiples of it from the file's start, so every read starts aligned; its
 * length is rounded up to DIRECT_IO_ALIGNMENT, and the bytes past the block (the next block,
 * or the trailer) are not used. Where the file system refuses a direct read (EINVAL), read()
 * answers undefined and the caller reads through the page cache from then on.
 */
export class DirectBlockReader {
  private refused = false;

  private constructor(private readonly file: fs.FileHandle) {}

  /**
   * Opens `filePath` for direct reads when it is still the file behind `opened` (same inode);
   * undefined where O_DIRECT is refused, or the name is gone or names another file now
   * (deleted, put again): `opened` still reads the chunk it opened.
   */
  static async open(filePath: string, opened: { ino: number; dev: number }): Promise<DirectBlockReader | undefined> {
    const file = await openDirect(filePath, constants.O_RDONLY).catch((error: unknown) => {
      if (isNodeError(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (!file) return undefined;
    const stats = await file.stat().catch(async (error: unknown) => {
      await file.close().catch(() => undefined);
      throw error;
    });
    if (stats.ino === opened.ino && stats.dev === opened.dev) return new DirectBlockReader(file);
    await file.close().catch(() => undefined);
    return undefined;
  }

  /** False once the file system refused a direct read. */
  get usable(): boolean {
    return !this.refused;
  }

  /**
   * Reads the `length` bytes at `position` (a block's start) into a pool buffer and returns what
   * `use` makes of them; the buffer goes back to the pool once `use` returns or throws, never
   * while the kernel may still write into it. Undefined when the read was refused (EINVAL).
   */
  async read<T>(position: number, length: number, what: string, use: (bytes: Buffer) => T): Promise<T | undefined> {
    const buffer = directReadBuffers.take();
    try {
      const asked = Math.min(buffer.length, Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await this.file.read(buffer, filled, asked - filled, position + filled);
        filled += bytesRead;
        // A direct read stops short (not at an aligned length) only at the end of the file.
        if (bytesRead === 0 || (filled < length && filled % DIRECT_IO_ALIGNMENT !== 0)) throw fileEndsEarly(what, length - filled);
      }
      return use(buffer.subarray(0, length));
    } catch (error) {
      if (!isNodeError(error, 'EINVAL')) throw error;
      this.refused = true;
      return undefined;
    } finally {
      directReadBuffers.release(buffer);
    }
  }

  close(): Promise<void> {
    return this.file.close().catch(() => undefined);
  }
}
