import { createHash, randomBytes, randomUUID } from 'node:crypto';
import winston from 'winston';
import { ChunkStore } from '../../src/storage/chunk-store';
import { volumeRecords, xorChunkByte } from '../helpers/chunk-on-disk';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { scanDataDir } from './disk-scan';

const silent = winston.createLogger({ silent: true });

async function putSmall(store: ChunkStore, data: Buffer): Promise<string> {
  const chunkId = randomUUID();
  const upload = await store.beginPut(chunkId, createHash('sha256').update(data).digest('hex'), data.length);
  await upload.write(data);
  await upload.commit();
  return chunkId;
}

async function listed(store: ChunkStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const chunk of store.list()) ids.push(chunk.chunkId);
  return ids.sort();
}

describe('scanDataDir (the chaos checks read of what a server holds)', () => {
  afterAll(removeTempDirs);

  it('counts what the server holds after a restart: not a record whose payload went bad in the volume being appended to', async () => {
    const dataDir = await makeTempDir('ringstore-disk-scan-');
    let store = await ChunkStore.open(dataDir, silent);
    const damaged = await putSmall(store, randomBytes(4096));
    const intact = await putSmall(store, randomBytes(4096));
    await store.close();
    await xorChunkByte(dataDir, damaged, 100);

    // The damaged record's bytes are still there to be found (the bitflip fault finds them so)...
    expect([...(await volumeRecords(dataDir)).keys()].sort()).toEqual([damaged, intact].sort());
    // ...but a server starting on this directory drops it, and the scan says what the server holds.
    store = await ChunkStore.open(dataDir, silent);
    try {
      expect(await listed(store)).toEqual([intact]);
      expect([...(await scanDataDir(dataDir)).chunks]).toEqual([intact]);
    } finally {
      await store.close();
    }
  });
});
