import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { isNodeError } from './chunk-store-error';

/**
 * Chunks at least this big are written and read with O_DIRECT: the page cache costs more than
 * it saves on them (see chunk-file-writer.ts, direct-block-reader.ts). Below it a chunk is
 * mostly its tail, and a second open would cost more than it saves.
 */
export const DIRECT_MIN_CHUNK_BYTES = 4 * 1024 * 1024;

/** Direct reads' offsets and lengths are multiples of this: the largest logical block size of a disk. */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * Opens `filePath` with O_DIRECT added to `flags`; undefined where the file system refuses it
 * (EINVAL: tmpfs) or the platform has no O_DIRECT, so the caller goes through the page cache.
 */
export async function openDirect(filePath: string, flags: number): Promise<fs.FileHandle | undefined> {
  if (constants.O_DIRECT === undefined) return undefined;
  try {
    return await fs.open(filePath, flags | constants.O_DIRECT);
  } catch (error) {
    if (isNodeError(error, 'EINVAL')) return undefined;
    throw error;
  }
}
