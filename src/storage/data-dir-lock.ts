import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config/env';

/**
 * One storage server per data directory: two processes on one directory would clear each
 * other's in-flight puts and claim the same server id. A LOCK file holds the owner's pid; a
 * lock left by a process that no longer runs (kill -9) is taken over.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await fs.mkdir(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, 'LOCK');
  for (;;) {
    try {
      await fs.writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await fs.readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
      throw new ConfigError(
        `data directory ${dataDir} is in use by process ${owner}; stop it, or remove ${lockPath} if that process is not a ringstore storage server`,
      );
    }
    await fs.rm(lockPath, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
