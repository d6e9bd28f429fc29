import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

type WriteResult = Promise<{ bytesWritten: number; buffer: Buffer }>;

/**
 * Sends every FileHandle.write on a descriptor opened with O_DIRECT through `direct`, which gets
 * the real write to run (or not); other writes go as they are. `directOpens()` counts the
 * O_DIRECT descriptors opened (0 where the file system refuses O_DIRECT). `dir`: any writable one.
 */
export async function interceptDirectWrites(dir: string, direct: (write: () => WriteResult) => WriteResult): Promise<{ directOpens(): number; restore(): void }> {
  const probe = await fs.open(path.join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
  await probe.close();
  const directHandles = new Set<fs.FileHandle>();
  const open = fs.open;
  const opens = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
    const handle = await open(...args);
    if (typeof args[1] === 'number' && (args[1] & constants.O_DIRECT) !== 0) directHandles.add(handle);
    return handle;
  });
  const write = prototype.write as (...args: unknown[]) => WriteResult;
  const writes = jest.spyOn(prototype, 'write').mockImplementation(function (this: fs.FileHandle, ...args: unknown[]) {
    return directHandles.has(this) ? direct(() => write.apply(this, args)) : write.apply(this, args);
  } as typeof prototype.write);
  return {
    directOpens: () => directHandles.size,
    restore: () => {
      writes.mockRestore();
      opens.mockRestore();
    },
  };
}
