import { randomBytes, randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import winston from 'winston';
import { VolumeStore } from '../../src/storage/volume-store';
import { VolumeFile } from '../../src/storage/volume-file';
import { RECORD_HEADER_BYTES, parseHeader, sealRecord } from '../../src/storage/volume-record';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

const silent = winston.createLogger({ silent: true });
const KiB = 1024;
const what = 'test chunk';

/** A record as ChunkStore hands it over: header room, then the payload. */
function recordOf(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(RECORD_HEADER_BYTES), payload]);
}

const volumePath = (dataDir: string, number: number): string => path.join(dataDir, 'volumes', VolumeFile.nameOf(number));

describe('VolumeStore', () => {
  let dataDir: string;
  const open: VolumeStore[] = [];
  const openStore = async (maxVolumeBytes?: number): Promise<VolumeStore> => {
    const store = await VolumeStore.open(dataDir, silent, (error) => error, maxVolumeBytes);
    open.push(store);
    return store;
  };
  /** Every stored chunk's payload, by id. */
  const contents = (store: VolumeStore): Map<string, Buffer> => new Map(store.ids().map((id) => [id, store.payload(id, what)!]));
  /** The store holds exactly `chunks`, and so does the directory opened again after it is closed. */
  const expectHeldAcrossRestart = async (store: VolumeStore, chunks: Array<{ id: string; payload: Buffer }>): Promise<void> => {
    const expected = new Map(chunks.map(({ id, payload }) => [id, payload]));
    expect(contents(store)).toEqual(expected);
    await store.close();
    expect(contents(await openStore())).toEqual(expected);
  };

  beforeEach(async () => {
    dataDir = await makeTempDir('ringstore-volumes-');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
  });
  afterAll(removeTempDirs);

  it('appends records of puts made together in one batch, and finds them all again after a restart', async () => {
    const store = await openStore();
    const chunks = Array.from({ length: 20 }, (_, n) => ({ id: randomUUID(), payload: randomBytes(n * 997 + 1) }));
    await Promise.all(chunks.map(({ id, payload }) => store.put(id, recordOf(payload))));
    const volume = await fs.readFile(volumePath(dataDir, 1));
    expect(volume.length).toBe(chunks.reduce((sum, { payload }) => sum + RECORD_HEADER_BYTES + payload.length, 0));
    for (const { id, payload } of chunks) expect(store.payload(id, what)!.equals(payload)).toBe(true);

    const reopened = await openStore();
    expect(reopened.chunkCount).toBe(chunks.length);
    expect(reopened.ids()).toEqual(chunks.map(({ id }) => id).sort());
    for (const { id, payload } of chunks) expect(reopened.payload(id, what)!.equals(payload)).toBe(true);
  });

  it('writes the puts of one turn of the event loop in one batch, even when the first comes before the others', async () => {
    const batches: number[] = [];
    const logger = Object.assign(winston.createLogger({ silent: true }), {
      debug: (_message: string, meta: { event?: string; chunks?: number }) => {
        if (meta.event === 'group_commit') batches.push(meta.chunks!);
      },
    });
    const store = await VolumeStore.open(dataDir, logger as unknown as winston.Logger, (error) => error);
    open.push(store);
    // As a PutSmallChunks call's chunks come: each after a few awaits of its own (its checks), in the same turn.
    await Promise.all([0, 1, 2].map(async (awaits) => {
      for (let n = 0; n < awaits * 3; n++) await Promise.resolve();
      await store.put(randomUUID(), recordOf(randomBytes(4 * KiB)));
    }));
    expect(batches).toEqual([3]);
  });

  it('acknowledges a put, and lets it be read, only once its batch\'s fdatasync has returned', async () => {
    const store = await openStore();
    const probe = await fs.open(path.join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
    await probe.close();
    const datasync = prototype.datasync;
    let release!: () => void;
    const synced = new Promise<void>((resolve) => { release = resolve; });
    const held = jest.spyOn(prototype, 'datasync').mockImplementation(async function (this: fs.FileHandle) {
      await synced;
      return datasync.call(this);
    });
    try {
      const chunk = { id: randomUUID(), payload: randomBytes(4 * KiB) };
      let acknowledged = false;
      const put = store.put(chunk.id, recordOf(chunk.payload)).then(() => { acknowledged = true; });
      await waitFor(() => held.mock.calls.length > 0, { what: 'the batch\'s fdatasync' });
      expect(acknowledged).toBe(false);
      expect(store.payload(chunk.id, what)).toBeUndefined();
      release();
      await put;
      expect(store.payload(chunk.id, what)!.equals(chunk.payload)).toBe(true);
    } finally {
      held.mockRestore();
    }
  });

  it('cuts a batch whose write fails back off its volume, and starts a new volume after a failed fdatasync', async () => {
    const store = await openStore();
    const probe = await fs.open(path.join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
    await probe.close();
    type WriteBytes = (fd: number, buffer: Buffer, offset: number, length: number, position: number) => number;
    const write = fsSync.writeSync as unknown as WriteBytes;
    const chunk = () => ({ id: randomUUID(), payload: randomBytes(8 * KiB) });
    const [first, unwritten, unsynced, next] = [chunk(), chunk(), chunk(), chunk()];
    await store.put(first.id, recordOf(first.payload));
    const firstEnd = (await fs.stat(volumePath(dataDir, 1))).size;

    // The disk fills halfway through the batch's write (a batch this small is written synchronously).
    const failedWrite = jest.spyOn(fsSync, 'writeSync').mockImplementationOnce(((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
      write(fd, buffer, offset, Math.floor(length / 2), position);
      throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    }) as unknown as typeof fsSync.writeSync);
    await expect(store.put(unwritten.id, recordOf(unwritten.payload))).rejects.toThrow('no space left');
    failedWrite.mockRestore();
    expect((await fs.stat(volumePath(dataDir, 1))).size).toBe(firstEnd);

    const failedSync = jest.spyOn(prototype, 'datasync').mockRejectedValueOnce(Object.assign(new Error('i/o error'), { code: 'EIO' }));
    await expect(store.put(unsynced.id, recordOf(unsynced.payload))).rejects.toThrow('i/o error');
    failedSync.mockRestore();
    expect((await fs.stat(volumePath(dataDir, 1))).size).toBe(firstEnd);
    await store.put(next.id, recordOf(next.payload));
    expect(await fs.readdir(path.join(dataDir, 'volumes'))).toEqual([VolumeFile.nameOf(1), VolumeFile.nameOf(2)]);
    await expectHeldAcrossRestart(store, [first, next]);
  });

  it('cuts a batch over 256 KiB, written asynchronously, back off its volume when its write fails', async () => {
    const store = await openStore();
    const probe = await fs.open(path.join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
    await probe.close();
    type WriteBytes = (this: fs.FileHandle, buffer: Buffer, offset: number, length: number, position: number) => Promise<unknown>;
    const write = prototype.write as unknown as WriteBytes;
    const [first, unwritten, next] = [8 * KiB, 300 * KiB, 8 * KiB].map((bytes) => ({ id: randomUUID(), payload: randomBytes(bytes) }));
    await store.put(first.id, recordOf(first.payload));
    const firstEnd = (await fs.stat(volumePath(dataDir, 1))).size;

    const failedWrite = jest.spyOn(prototype, 'write').mockImplementationOnce(async function (this: fs.FileHandle, buffer: Buffer, offset: number, length: number, position: number) {
      await write.call(this, buffer, offset, Math.floor(length / 2), position);
      throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    } as unknown as typeof prototype.write);
    await expect(store.put(unwritten.id, recordOf(unwritten.payload))).rejects.toThrow('no space left');
    expect(failedWrite).toHaveBeenCalled();
    failedWrite.mockRestore();
    expect((await fs.stat(volumePath(dataDir, 1))).size).toBe(firstEnd);

    await store.put(next.id, recordOf(next.payload));
    await expectHeldAcrossRestart(store, [first, next]);
  });

  it('cuts a torn tail left by a crash mid-batch (a cut record, or one whose payload never reached the disk), and appends after what is intact', async () => {
    const store = await openStore();
    const kept = { id: randomUUID(), payload: randomBytes(10 * KiB) };
    const torn = { id: randomUUID(), payload: randomBytes(10 * KiB) };
    await store.put(kept.id, recordOf(kept.payload));
    await store.put(torn.id, recordOf(torn.payload));
    await store.close();
    const file = volumePath(dataDir, 1);
    const intactEnd = RECORD_HEADER_BYTES + kept.payload.length;

    for (const tear of [
      (bytes: Buffer) => bytes.subarray(0, bytes.length - 100), // the write was cut
      (bytes: Buffer) => Buffer.concat([bytes.subarray(0, bytes.length - 4 * KiB), Buffer.alloc(4 * KiB)]), // a page never written
      (bytes: Buffer) => bytes.subarray(0, intactEnd + 20), // half a header
    ]) {
      const whole = await fs.readFile(file);
      await fs.writeFile(file, tear(Buffer.concat([whole.subarray(0, intactEnd), recordAt(await firstStoreBytes(torn))])));
      const reopened = await openStore();
      expect(reopened.ids()).toEqual([kept.id]);
      expect(reopened.payload(kept.id, what)!.equals(kept.payload)).toBe(true);
      expect((await fs.stat(file)).size).toBe(intactEnd);
      await reopened.close();
    }

    const after = { id: randomUUID(), payload: randomBytes(3 * KiB) };
    const reopened = await openStore();
    await reopened.put(after.id, recordOf(after.payload));
    const again = await openStore();
    expect(contents(again)).toEqual(new Map([[kept.id, kept.payload], [after.id, after.payload]]));
  });

  it('never takes bytes inside a torn or damaged record for records: a chunk\'s data may hold some', async () => {
    const store = await openStore();
    const kept = { id: randomUUID(), payload: randomBytes(10 * KiB) };
    await store.put(kept.id, recordOf(kept.payload));
    await store.close();
    const file = volumePath(dataDir, 1);
    const intactEnd = RECORD_HEADER_BYTES + kept.payload.length;
    const before = await fs.readFile(file);
    // A chunk whose data holds a tombstone of `kept` (a user's file may hold a volume's bytes).
    const embedded = sealRecord(Buffer.alloc(RECORD_HEADER_BYTES), 'delete', kept.id, 1_000_000, Date.now());
    const carrier = sealRecord(recordOf(Buffer.concat([randomBytes(KiB), embedded, randomBytes(10 * KiB)])), 'put', randomUUID(), 2, Date.now());
    const after = sealRecord(recordOf(randomBytes(KiB)), 'put', randomUUID(), 3, Date.now());
    const damaged = Buffer.from(carrier);
    damaged[RECORD_HEADER_BYTES + 5] ^= 0xff;

    for (const [tail, expectedIds] of [
      [carrier.subarray(0, RECORD_HEADER_BYTES + KiB + embedded.length + 100), [kept.id]], // torn by a crash after the tombstone's bytes
      [Buffer.concat([damaged, after]), [kept.id, parseHeader(after)!.chunkId].sort()], // a damaged payload with a record after it
    ] as Array<[Buffer, string[]]>) {
      await fs.writeFile(file, Buffer.concat([before, tail]));
      const reopened = await openStore();
      expect(reopened.ids()).toEqual(expectedIds);
      expect(reopened.payload(kept.id, what)!.equals(kept.payload)).toBe(true);
      await reopened.close();
    }
    await fs.writeFile(file, Buffer.concat([before, carrier.subarray(0, carrier.length - 1)]));
    await (await openStore()).close();
    expect((await fs.stat(file)).size).toBe(intactEnd);
  });

  it('skips a damaged record in the middle of an older volume and keeps every record after it', async () => {
    const store = await openStore(64 * KiB);
    const chunks = Array.from({ length: 12 }, () => ({ id: randomUUID(), payload: randomBytes(10 * KiB) }));
    for (const { id, payload } of chunks) await store.put(id, recordOf(payload));
    await store.close();
    // Volume 1 holds the first six; damage the header of its third record.
    const third = 2 * (RECORD_HEADER_BYTES + 10 * KiB);
    const handle = await fs.open(volumePath(dataDir, 1), 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, third + 30);
    await handle.close();

    const reopened = await openStore(64 * KiB);
    expect(reopened.ids()).toEqual(chunks.filter((_, n) => n !== 2).map(({ id }) => id).sort());
    for (const { id, payload } of chunks.filter((_, n) => n !== 2)) expect(reopened.payload(id, what)!.equals(payload)).toBe(true);
    expect((await fs.stat(volumePath(dataDir, 1))).size).toBe(6 * (RECORD_HEADER_BYTES + 10 * KiB)); // nothing cut from an older volume
  });

  it('keeps a deleted chunk deleted after a restart, and a chunk put again after its delete stored', async () => {
    const store = await openStore();
    const [gone, back, stays] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [gone, back, stays]) await store.put(id, recordOf(randomBytes(KiB)));
    expect(await store.delete(gone)).toBe(true);
    expect(await store.delete(back)).toBe(true);
    expect(await store.delete(randomUUID())).toBe(false);
    const again = randomBytes(2 * KiB);
    await store.put(back, recordOf(again));
    expect(store.ids()).toEqual([back, stays].sort());

    const reopened = await openStore();
    expect(reopened.ids()).toEqual([back, stays].sort());
    expect(reopened.payload(gone, what)).toBeUndefined();
    expect(reopened.payload(back, what)!.equals(again)).toBe(true);
    expect(reopened.chunkCount).toBe(2);
  });

  it('compacts a mostly deleted volume: live records move with their numbers, a tombstone outlives the older put it hides, the file goes', async () => {
    const maxVolumeBytes = 64 * KiB;
    const store = await openStore(maxVolumeBytes);
    const chunks = Array.from({ length: 12 }, () => ({ id: randomUUID(), payload: randomBytes(10 * KiB) }));
    for (const { id, payload } of chunks) await store.put(id, recordOf(payload));
    // Volumes 1 and 2 hold six each. The tombstones go at the end of volume 2: one for a put in
    // volume 1, three for puts in volume 2, which makes volume 2 mostly dead.
    const deleted = [chunks[0], chunks[6], chunks[7], chunks[8]];
    for (const { id } of deleted) await store.delete(id);
    expect(await fs.readdir(path.join(dataDir, 'volumes'))).toEqual([VolumeFile.nameOf(1), VolumeFile.nameOf(2)]);
    // The next put starts volume 3, which seals volume 2: it is compacted, and the tombstone of
    // chunks[0] must move on with its live records, as volume 1 still holds that put.
    const last = { id: randomUUID(), payload: randomBytes(10 * KiB) };
    await store.put(last.id, recordOf(last.payload));
    await store.compacted();
    expect(await fs.readdir(path.join(dataDir, 'volumes'))).toEqual([VolumeFile.nameOf(1), VolumeFile.nameOf(3)]);
    const expected = new Map([...chunks.filter((chunk) => !deleted.includes(chunk)), last].map(({ id, payload }) => [id, payload]));
    expect(contents(store)).toEqual(expected);
    await store.close();

    const reopened = await openStore(maxVolumeBytes);
    expect(contents(reopened)).toEqual(expected);
  });

  it('a delete whose volume is compacted away while its tombstone is written does not bring the chunk back when the tombstone fails', async () => {
    const store = await openStore(64 * KiB);
    const chunks = Array.from({ length: 12 }, () => ({ id: randomUUID(), payload: randomBytes(10 * KiB) }));
    for (const { id, payload } of chunks) await store.put(id, recordOf(payload));
    const appender = (store as unknown as { appender: { append(record: Buffer): Promise<unknown> } }).appender;
    const append = appender.append.bind(appender);
    const doomed = chunks[3].id;
    // The disk fills while the tombstone of `doomed` waits: it fails once volume 1 has been compacted.
    jest.spyOn(appender, 'append').mockImplementation(async (record) => {
      if (parseHeader(record)?.kind !== 'delete' || parseHeader(record)?.chunkId !== doomed) return append(record);
      await store.compacted();
      throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
    });
    await store.delete(chunks[0].id);
    await store.delete(chunks[1].id);
    await store.delete(chunks[2].id); // half of volume 1 dead: its compaction starts, and meanwhile
    await expect(store.delete(doomed)).rejects.toThrow('no space left');
    expect(await fs.readdir(path.join(dataDir, 'volumes'))).not.toContain(VolumeFile.nameOf(1));
    // Its put went with volume 1: the chunk is not stored, whatever the failed delete said.
    expect(store.ids()).not.toContain(doomed);
    expect(store.payload(doomed, what)).toBeUndefined();
    expect(contents(store)).toEqual(new Map(chunks.slice(4).map(({ id, payload }) => [id, payload])));
  });

  it('gives the same answers after a crash mid-compaction: the old volume still there, its copies whole or cut', async () => {
    const maxVolumeBytes = 64 * KiB;
    const store = await openStore(maxVolumeBytes);
    const chunks = Array.from({ length: 18 }, () => ({ id: randomUUID(), payload: randomBytes(10 * KiB) }));
    for (const { id, payload } of chunks) await store.put(id, recordOf(payload));
    const oldVolume = await fs.readFile(volumePath(dataDir, 1));
    // The third delete makes half of volume 1 dead: compaction starts once its tombstone is durable,
    // so the copies are the last records written, and the cuts below tear only them.
    const deleted = [chunks[0], chunks[2], chunks[3]];
    for (const { id } of deleted) await store.delete(id);
    await store.compacted();
    await store.close();
    const expected = new Map(chunks.filter((chunk) => !deleted.includes(chunk)).map(({ id, payload }) => [id, payload]));
    const last = Math.max(...(await fs.readdir(path.join(dataDir, 'volumes'))).map((name) => VolumeFile.numberIn(name)!));
    const lastVolume = await fs.readFile(volumePath(dataDir, last));

    // The crash came before the old volume was removed (copies whole), or during the copy (cut).
    for (const copied of [lastVolume.length, lastVolume.length - 5 * KiB, lastVolume.length - 15 * KiB]) {
      for (const name of await fs.readdir(path.join(dataDir, 'volumes'))) {
        if (VolumeFile.numberIn(name)! > last) await fs.rm(path.join(dataDir, 'volumes', name));
      }
      await fs.writeFile(volumePath(dataDir, 1), oldVolume);
      await fs.writeFile(volumePath(dataDir, last), lastVolume.subarray(0, copied));
      const reopened = await openStore(maxVolumeBytes);
      expect(contents(reopened)).toEqual(expected);
      await reopened.compacted();
      expect(contents(reopened)).toEqual(expected);
      await reopened.close();
      const again = await openStore(maxVolumeBytes);
      expect(contents(again)).toEqual(expected);
      await again.close();
    }
  });
});

/** The bytes a put of `chunk` appends (header and payload), from a store of its own. */
async function firstStoreBytes(chunk: { id: string; payload: Buffer }): Promise<Buffer> {
  const dir = await makeTempDir('ringstore-volumes-one-');
  const store = await VolumeStore.open(dir, silent, (error) => error);
  await store.put(chunk.id, recordOf(chunk.payload));
  await store.close();
  return fs.readFile(volumePath(dir, 1));
}

/** A record's bytes, checked to be one. */
function recordAt(bytes: Buffer): Buffer {
  expect(parseHeader(bytes)).toBeDefined();
  return bytes;
}
