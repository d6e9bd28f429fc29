import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { volumeRecords } from '../helpers/chunk-on-disk';

export interface DiskContents {
  /** Chunk ids published under chunks/xx/yy/ or as volume records (those a server starting now would index). */
  chunks: Set<string>;
  /** Files left in tmp/ (puts that never finished). */
  temp: number;
}

/** What a storage server really holds on disk, read straight from its data directory. */
export async function scanDataDir(dataDir: string): Promise<DiskContents> {
  const chunks = new Set<string>();
  for (const a of await names(path.join(dataDir, 'chunks'))) {
    for (const b of await names(path.join(dataDir, 'chunks', a))) {
      for (const id of await names(path.join(dataDir, 'chunks', a, b))) chunks.add(id);
    }
  }
  // A record whose payload went bad in the volume being appended to is dropped by the server's
  // next start (scrub then finds the replica missing and repair copies it elsewhere): its bytes
  // are dead space in the volume, not a chunk the server holds.
  for (const id of (await volumeRecords(dataDir, { asServerStarts: true })).keys()) chunks.add(id);
  return { chunks, temp: (await names(path.join(dataDir, 'tmp'))).length };
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
