import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { volumeRecords } from '../helpers/chunk-on-disk';

export interface DiskContents {
  /** Chunk ids published under chunks/xx/yy/ or as volume records. */
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
  for (const id of (await volumeRecords(dataDir)).keys()) chunks.add(id);
  return { chunks, temp: (await names(path.join(dataDir, 'tmp'))).length };
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
