import fs from 'node:fs/promises';
import { isNodeError } from './chunk-store-error';

/** unlink, where a file already gone is fine (fs.rm would lstat it first: a syscall per put). */
export async function removeFile(file: string): Promise<void> {
  await fs.unlink(file).catch((error: unknown) => {
    if (!isNodeError(error, 'ENOENT')) throw error;
  });
}
