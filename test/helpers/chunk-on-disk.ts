import fs from 'node:fs/promises';
import path from 'node:path';
import { isNodeError } from '../../src/storage/chunk-store-error';
import { VolumeFile } from '../../src/storage/volume-file';
import { RECORD_HEADER_BYTES } from '../../src/storage/volume-record';
import { scanVolume, type ScannedRecord } from '../../src/storage/volume-scan';

/** Where a stored chunk's bytes (data, block checks, footer: chunk-file-format) are on disk. */
export interface ChunkOnDisk {
  file: string;
  /** Where the chunk's bytes start in `file`: 0 for a chunk file, after the header for a volume record. */
  offset: number;
  length: number;
}

/** A chunk's bytes: its own file, or its record in a volume (the newest record of its id, when a put). */
export async function chunkOnDisk(dataDir: string, chunkId: string): Promise<ChunkOnDisk | undefined> {
  const file = path.join(dataDir, 'chunks', chunkId.slice(0, 2), chunkId.slice(2, 4), chunkId);
  try {
    return { file, offset: 0, length: (await fs.stat(file)).size };
  } catch (error) {
    if (!isNodeError(error, 'ENOENT')) throw error;
  }
  return (await volumeRecords(dataDir)).get(chunkId);
}

/** XORs byte `position` of a stored chunk's bytes with `mask`, wherever they are. */
export async function xorChunkByte(dataDir: string, chunkId: string, position: number, mask = 0xff): Promise<void> {
  const where = await chunkOnDisk(dataDir, chunkId);
  if (!where) throw new Error(`chunk ${chunkId} is not stored in ${dataDir}`);
  const handle = await fs.open(where.file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, where.offset + position);
    byte[0] ^= mask;
    await handle.write(byte, 0, 1, where.offset + position);
  } finally {
    await handle.close();
  }
}

/**
 * The ids of the chunks stored in volume records of a data directory, with where their bytes are.
 * `asServerStarts`: only the records a storage server starting now would index, which checks the
 * payloads of the volume being appended to (a torn or damaged payload there does not count; see
 * scanVolume), where plain reading finds every record whose header holds.
 */
export async function volumeRecords(dataDir: string, { asServerStarts = false } = {}): Promise<Map<string, ChunkOnDisk>> {
  const dir = path.join(dataDir, 'volumes');
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((entry) => VolumeFile.numberIn(entry) !== undefined);
  const last = Math.max(...names.map((name) => VolumeFile.numberIn(name)!));
  const newest = new Map<string, ScannedRecord & { file: string }>();
  for (const name of names) {
    const file = path.join(dir, name);
    const handle = await fs.open(file, 'r');
    try {
      const checkPayloads = asServerStarts && VolumeFile.numberIn(name) === last;
      for (const record of (await scanVolume(handle, (await handle.stat()).size, checkPayloads)).records) {
        const known = newest.get(record.chunkId);
        if (!known || record.sequence > known.sequence) newest.set(record.chunkId, { ...record, file });
      }
    } finally {
      await handle.close();
    }
  }
  const stored = new Map<string, ChunkOnDisk>();
  for (const [chunkId, record] of newest) {
    if (record.kind === 'put') stored.set(chunkId, { file: record.file, offset: record.offset + RECORD_HEADER_BYTES, length: record.payloadLength });
  }
  return stored;
}
