import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import winston from 'winston';
import { BLOCK_SIZE } from '../../src/storage/chunk-file-format';
import { DIRECT_READ_SPAN_BYTES, SPANS_PER_READ, directReadBuffers } from '../../src/storage/direct-block-reader';
import { DIRECT_MIN_CHUNK_BYTES } from '../../src/storage/direct-io';
import { ChunkStore, WHOLE_READ_MAX_FILE_BYTES, putsMayTake, type DiskUsage } from '../../src/storage/chunk-store';
import { ChunkStoreError } from '../../src/storage/chunk-store-error';
import type { VolumeStore } from '../../src/storage/volume-store';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { directRefused, interceptDirectCalls } from './direct-io-calls';

const silent = winston.createLogger({ silent: true });
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function put(store: ChunkStore, chunkId: string, data: Buffer, checksum = sha256(data)): Promise<void> {
  const upload = await store.beginPut(chunkId, checksum, data.length);
  try {
    // Uneven pieces, so block boundaries fall inside writes.
    for (let offset = 0; offset < data.length; offset += 300_001) await upload.write(data.subarray(offset, offset + 300_001));
    await upload.commit();
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

/** A put as ringstore's gateway makes it: a CRC-32 per piece and the chunk's CRC-32 at the end, no SHA-256. */
async function putByCrc(store: ChunkStore, chunkId: string, data: Buffer, chunkCrc = crc32(data)): Promise<void> {
  const upload = await store.beginPut(chunkId, '', data.length, true);
  try {
    for (let offset = 0; offset < data.length; offset += 300_001) {
      const piece = data.subarray(offset, offset + 300_001);
      await upload.write(piece, crc32(piece));
    }
    await upload.commit({ crc32: chunkCrc });
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

async function readAll(store: ChunkStore, chunkId: string, range?: { offset?: number; length?: number }): Promise<Buffer> {
  const read = await store.read(chunkId, range);
  const pieces: Buffer[] = [];
  try {
    for await (const piece of read.blocks()) {
      expect(piece.length).toBeLessThanOrEqual(BLOCK_SIZE);
      pieces.push(piece);
    }
  } finally {
    await read.close();
  }
  return Buffer.concat(pieces);
}

/** Small enough chunks are stored as volume records (see volume-store.test.ts); this size gets a file of its own. */
const FILE_CHUNK_BYTES = WHOLE_READ_MAX_FILE_BYTES;

const chunkPath = (dataDir: string, id: string): string => path.join(dataDir, 'chunks', id.slice(0, 2), id.slice(2, 4), id);

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/**
 * A chunk file built here from the format's description (chunk-file-format.ts), independently
 * of the store's own encoder: data, one check per 1 MiB block, then the 88-byte footer.
 */
function chunkFile(data: Buffer, format: { magic: string; check: (block: Buffer) => Buffer; checksum?: string; wholeCrc?: number }): Buffer {
  const checks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += BLOCK_SIZE) checks.push(format.check(data.subarray(offset, offset + BLOCK_SIZE)));
  const table = Buffer.concat(checks);
  const footer = Buffer.alloc(88);
  footer.write(format.magic, 0, 'ascii');
  footer.writeBigUInt64BE(BigInt(data.length), 8);
  footer.writeUInt32BE(BLOCK_SIZE, 16);
  footer.writeUInt32BE(checks.length, 20);
  if (format.wholeCrc !== undefined) footer.writeUInt32BE(format.wholeCrc >>> 0, 24);
  else Buffer.from(format.checksum ?? sha256(data), 'hex').copy(footer, 24);
  createHash('sha256').update(table).update(footer.subarray(0, 56)).digest().copy(footer, 56);
  return Buffer.concat([data, table, footer]);
}

async function flipByte(file: string, position: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, position);
  byte[0] ^= 0xff;
  await handle.write(byte, 0, 1, position);
  await handle.close();
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof ChunkStoreError)) throw new Error(`expected a ChunkStoreError, got ${String(error)}`);
  return error.reason;
}

describe('ChunkStore', () => {
  let dataDir: string;
  let store: ChunkStore;

  beforeEach(async () => {
    dataDir = await makeTempDir('ringstore-store-');
    store = await ChunkStore.open(dataDir, silent);
  });
  afterEach(() => store.close());
  afterAll(removeTempDirs);

  it('writes every byte when the file system takes only part of each write', async () => {
    const probe = await fs.open(path.join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
    await probe.close();
    type WriteBytes = (this: fs.FileHandle, buffer: Buffer, offset?: number, length?: number, position?: number) => Promise<{ bytesWritten: number; buffer: Buffer }>;
    const write = prototype.write as unknown as WriteBytes;
    // write(2) may write less than asked; this one takes at most 64 KiB - 1 bytes per call.
    const shortWrite: WriteBytes = function (buffer, offset, length, position) {
      return write.call(this, buffer, offset, Math.min(length ?? buffer.length, 65_535), position);
    };
    const short = jest.spyOn(prototype, 'write').mockImplementation(shortWrite as unknown as typeof prototype.write);
    try {
      const data = randomBytes(BLOCK_SIZE + 123_457);
      const id = randomUUID();
      await put(store, id, data);
      expect(short.mock.calls.length).toBeGreaterThan(data.length / 65_535);
      expect((await readAll(store, id)).equals(data)).toBe(true);
      expect((await store.verify(id)).ok).toBe(true);
    } finally {
      short.mockRestore();
    }
  });

  it('stores and reads back chunks byte-exact, in sharded directories', async () => {
    const data = randomBytes(2 * BLOCK_SIZE + 17);
    const id = randomUUID();
    await put(store, id, data);
    expect((await readAll(store, id)).equals(data)).toBe(true);
    await expect(fs.stat(path.join(dataDir, 'chunks', id.slice(0, 2), id.slice(2, 4), id))).resolves.toBeTruthy();
    expect(store.chunkCount).toBe(1);
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });

  it('makes a shard directory once, and again when it was removed by hand', async () => {
    const mkdir = jest.spyOn(fs, 'mkdir');
    try {
      const ids = ['0000', '0000', '0000'].map((shard) => `${shard}${randomUUID().slice(4)}`);
      await putByCrc(store, ids[0], randomBytes(FILE_CHUNK_BYTES));
      await putByCrc(store, ids[1], randomBytes(FILE_CHUNK_BYTES));
      expect(mkdir).toHaveBeenCalledTimes(1);
      await fs.rm(path.join(dataDir, 'chunks', '00'), { recursive: true });
      const data = randomBytes(FILE_CHUNK_BYTES);
      await putByCrc(store, ids[2], data);
      expect(mkdir).toHaveBeenCalledTimes(2);
      expect((await readAll(store, ids[2])).equals(data)).toBe(true);
      expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    } finally {
      mkdir.mockRestore();
    }
  });

  it('serves ranges across and inside blocks, and refuses offsets past the end', async () => {
    const data = randomBytes(3 * BLOCK_SIZE + 5);
    const id = randomUUID();
    await put(store, id, data);
    const ranges = [
      { offset: BLOCK_SIZE, length: BLOCK_SIZE },
      { offset: BLOCK_SIZE - 1, length: 2 },
      { offset: 10, length: 20 },
      { offset: 3 * BLOCK_SIZE, length: 0 },
      { offset: data.length, length: 0 },
      { offset: 5, length: data.length * 2 },
    ];
    for (const range of ranges) {
      const expected = data.subarray(range.offset, range.length ? range.offset + range.length : undefined);
      expect((await readAll(store, id, range)).equals(expected)).toBe(true);
    }
    expect(await reasonOf(store.read(id, { offset: data.length + 1 }))).toBe('OUT_OF_RANGE');
  });

  it('keeps nothing when the checksum does not match', async () => {
    const id = randomUUID();
    expect(await reasonOf(put(store, id, randomBytes(1000), sha256(Buffer.from('other'))))).toBe('DATA_LOSS');
    expect(await reasonOf(store.read(id))).toBe('NOT_FOUND');
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    expect(store.chunkCount).toBe(0);
  });

  it('accepts a retried put with the same checksum and refuses different content', async () => {
    const id = randomUUID();
    const data = randomBytes(5000);
    await put(store, id, data);
    await put(store, id, data);
    expect(await reasonOf(put(store, id, randomBytes(5000)))).toBe('ALREADY_EXISTS');
    expect((await readAll(store, id)).equals(data)).toBe(true);
    expect(store.chunkCount).toBe(1);
  });

  it('lets only one of two racing puts of the same id publish', async () => {
    const id = randomUUID();
    const [a, b] = [randomBytes(4000), randomBytes(4000)];
    const results = await Promise.allSettled([put(store, id, a), put(store, id, b)]);
    const stored = await readAll(store, id);
    const winner = stored.equals(a) ? 0 : 1;
    expect(stored.equals(winner === 0 ? a : b)).toBe(true);
    expect(results[winner].status).toBe('fulfilled');
    expect(results[1 - winner].status).toBe('rejected');
    expect(store.chunkCount).toBe(1);
  });

  it('removes the temp file of an aborted put', async () => {
    const upload = await store.beginPut(randomUUID(), sha256(Buffer.alloc(0)), 0);
    await upload.write(randomBytes(1000));
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toHaveLength(1);
    await upload.abort();
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });

  it('detects a flipped byte: reads stop before the corrupt block and verify names it', async () => {
    const data = randomBytes(3 * BLOCK_SIZE);
    const id = randomUUID();
    await put(store, id, data);
    const file = path.join(dataDir, 'chunks', id.slice(0, 2), id.slice(2, 4), id);
    const handle = await fs.open(file, 'r+');
    await handle.write(Buffer.from([data[BLOCK_SIZE + 7] ^ 0xff]), 0, 1, BLOCK_SIZE + 7);
    await handle.close();

    const read = await store.read(id);
    const delivered: Buffer[] = [];
    const failure = await (async () => {
      for await (const piece of read.blocks()) delivered.push(piece);
    })().then(() => undefined, (error: unknown) => error);
    await read.close();
    expect((failure as ChunkStoreError).reason).toBe('DATA_LOSS');
    expect(Buffer.concat(delivered).equals(data.subarray(0, BLOCK_SIZE))).toBe(true);
    expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: 1 });
    expect((await readAll(store, id, { offset: 2 * BLOCK_SIZE })).equals(data.subarray(2 * BLOCK_SIZE))).toBe(true);
  });

  it('reads and verifies chunks written in the first format (SHA-256 per block), and finds damage in them', async () => {
    const data = randomBytes(2 * BLOCK_SIZE + 5);
    const id = randomUUID();
    const file = chunkPath(dataDir, id);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, chunkFile(data, { magic: 'RSCHUNK1', check: (block) => createHash('sha256').update(block).digest() }));
    const reopened = await ChunkStore.open(dataDir, silent);
    expect(reopened.chunkCount).toBe(1);
    expect((await readAll(reopened, id)).equals(data)).toBe(true);
    expect(await reopened.verify(id)).toEqual({ ok: true });

    await flipByte(file, BLOCK_SIZE + 3);
    expect(await reopened.verify(id)).toMatchObject({ ok: false, corruptBlock: 1 });
  });

  it('writes chunks with a CRC-32 per block, and scrub still catches damage the block checks cannot see', async () => {
    const data = randomBytes(BLOCK_SIZE + 9);
    const id = randomUUID();
    await put(store, id, data);
    const file = chunkPath(dataDir, id);
    expect(await fs.readFile(file)).toEqual(chunkFile(data, { magic: 'RSCHUNK2', check: (block) => uint32(crc32(block)) }));

    // Different data with valid block checks and table: only the whole chunk's SHA-256 tells.
    const forged = Buffer.from(data);
    forged[10] ^= 0xff;
    await fs.writeFile(file, chunkFile(forged, { magic: 'RSCHUNK2', check: (block) => uint32(crc32(block)), checksum: sha256(data) }));
    expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: -1, message: expect.stringMatching(/does not match its SHA-256/) });
  });

  it('stores a put checked by CRC-32 alone in RSCHUNK3, listed as crc32:<hex>, and scrub finds every flipped byte', async () => {
    const data = randomBytes(2 * BLOCK_SIZE + 77);
    const id = randomUUID();
    await putByCrc(store, id, data);
    const file = chunkPath(dataDir, id);
    expect((await fs.readFile(file)).equals(chunkFile(data, { magic: 'RSCHUNK3', check: (block) => uint32(crc32(block)), wholeCrc: crc32(data) }))).toBe(true);
    const listed = [];
    for await (const chunk of store.list()) listed.push(chunk);
    expect(listed).toEqual([expect.objectContaining({ chunkId: id, size: data.length, checksum: `crc32:${crc32(data).toString(16).padStart(8, '0')}` })]);
    expect((await readAll(store, id)).equals(data)).toBe(true);
    expect(await store.verify(id)).toEqual({ ok: true });

    // Every byte of the data is covered by its block's CRC-32: a flip anywhere is found and located.
    for (const position of [0, BLOCK_SIZE - 1, BLOCK_SIZE, 2 * BLOCK_SIZE + 76]) {
      await flipByte(file, position);
      expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: Math.floor(position / BLOCK_SIZE) });
      await flipByte(file, position);
    }
    // A footer whose whole-chunk CRC disagrees with its (signed) block CRCs is damaged too.
    await fs.writeFile(file, chunkFile(data, { magic: 'RSCHUNK3', check: (block) => uint32(crc32(block)), wholeCrc: crc32(data) ^ 1 }));
    expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: -1, message: expect.stringMatching(/does not match its CRC-32/) });
  });

  it('writes a large chunk with O_DIRECT where the file system takes it: byte-exact, and scrub finds every flipped byte', async () => {
    const open = jest.spyOn(fs, 'open');
    try {
      const data = randomBytes(DIRECT_MIN_CHUNK_BYTES + BLOCK_SIZE + 12_345);
      const id = randomUUID();
      await putByCrc(store, id, data);
      const directOpens = open.mock.calls.filter(([, flags]) => typeof flags === 'number' && (flags & constants.O_DIRECT) !== 0);
      expect(directOpens).toHaveLength(1);
      expect((await readAll(store, id)).equals(data)).toBe(true);
      expect(await store.verify(id)).toEqual({ ok: true });
      const file = chunkPath(dataDir, id);
      expect((await fs.readFile(file)).equals(chunkFile(data, { magic: 'RSCHUNK3', check: (block) => uint32(crc32(block)), wholeCrc: crc32(data) }))).toBe(true);
      for (const position of [0, BLOCK_SIZE, DIRECT_MIN_CHUNK_BYTES + BLOCK_SIZE + 12_344]) {
        await flipByte(file, position);
        expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: Math.floor(position / BLOCK_SIZE) });
        await flipByte(file, position);
      }
    } finally {
      open.mockRestore();
    }
  });

  it('goes on through the page cache when a direct write is refused (EINVAL), and keeps every byte', async () => {
    let refused = 0;
    const direct = await interceptDirectCalls(dataDir, 'write', async () => {
      refused += 1;
      throw directRefused('write');
    });
    try {
      const data = randomBytes(DIRECT_MIN_CHUNK_BYTES + 777);
      const id = randomUUID();
      await putByCrc(store, id, data);
      expect(refused).toBe(direct.directOpens() > 0 ? 1 : 0);
      expect((await readAll(store, id)).equals(data)).toBe(true);
      expect(await store.verify(id)).toEqual({ ok: true });
    } finally {
      direct.restore();
    }
  });

  it('leaves no temp file when the O_DIRECT open beside it fails with anything but EINVAL', async () => {
    const open = fs.open;
    const opens = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      if (typeof args[1] === 'number' && (args[1] & constants.O_DIRECT) !== 0) throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
      return open(...args);
    });
    try {
      await expect(putByCrc(store, randomUUID(), randomBytes(DIRECT_MIN_CHUNK_BYTES))).rejects.toMatchObject({ code: 'EMFILE' });
    } finally {
      opens.mockRestore();
    }
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });

  it('reads a large chunk with O_DIRECT: byte-exact whole, in ranges at odd offsets and to the last partial block; every pool buffer back once', async () => {
    const data = randomBytes(DIRECT_MIN_CHUNK_BYTES + BLOCK_SIZE + 12_345);
    const id = randomUUID();
    await putByCrc(store, id, data);
    const open = jest.spyOn(fs, 'open');
    const take = jest.spyOn(directReadBuffers, 'take');
    const release = jest.spyOn(directReadBuffers, 'release');
    try {
      expect((await readAll(store, id)).equals(data)).toBe(true);
      const directReads = open.mock.calls.filter(([, flags]) => typeof flags === 'number' && (flags & constants.O_DIRECT) !== 0 && (flags & (constants.O_WRONLY | constants.O_RDWR)) === 0);
      expect(directReads).toHaveLength(1);
      const spans = Math.ceil(data.length / DIRECT_READ_SPAN_BYTES);
      expect(take).toHaveBeenCalledTimes(spans);
      const ranges = [
        { offset: 1, length: 3 * BLOCK_SIZE + 7 },
        { offset: BLOCK_SIZE - 1, length: 2 },
        { offset: 5 * BLOCK_SIZE + 3 },
        { offset: data.length - 1 },
        { offset: 4 * BLOCK_SIZE + 4095, length: BLOCK_SIZE + 4097 },
      ];
      for (const { offset, length } of ranges) {
        expect((await readAll(store, id, { offset, length })).equals(data.subarray(offset, length === undefined ? undefined : offset + length))).toBe(true);
      }
      const ranged = await store.readRange(id, { offset: 12_345, length: 2 * BLOCK_SIZE }, 4 * BLOCK_SIZE, (length) => Buffer.alloc(length));
      expect(ranged.equals(data.subarray(12_345, 12_345 + 2 * BLOCK_SIZE))).toBe(true);
      // A read given up after its first block, its read-ahead in flight: that buffer comes back too.
      const abandoned = await store.read(id);
      for await (const block of abandoned.blocks()) {
        expect(block.equals(data.subarray(0, BLOCK_SIZE))).toBe(true);
        break;
      }
      await abandoned.close();
      expect(await store.verify(id)).toEqual({ ok: true });
      for (let round = 0; round < 10; round += 1) expect((await readAll(store, id)).length).toBe(data.length);
      expect(take.mock.calls.length).toBeGreaterThan(spans * 12);
      expect(release).toHaveBeenCalledTimes(take.mock.calls.length);
      expect(new Set(release.mock.calls.map(([buffer]) => buffer)).size).toBeLessThanOrEqual(SPANS_PER_READ);
      expect(directReadBuffers.inUse).toBe(0);
    } finally {
      open.mockRestore();
      take.mockRestore();
      release.mockRestore();
    }
  });

  it('serves no byte of a large chunk\'s damaged block: DATA_LOSS once the blocks before it are sent', async () => {
    const data = randomBytes(DIRECT_MIN_CHUNK_BYTES + 777);
    const id = randomUUID();
    await putByCrc(store, id, data);
    await flipByte(chunkPath(dataDir, id), 3 * BLOCK_SIZE + 5);
    for (const { offset, sentBefore } of [{ offset: 0, sentBefore: 3 * BLOCK_SIZE }, { offset: 3 * BLOCK_SIZE + 100, sentBefore: 0 }]) {
      const read = await store.read(id, { offset });
      let sent = 0;
      const reason = await reasonOf((async () => {
        for await (const block of read.blocks()) {
          expect(block.equals(data.subarray(offset + sent, offset + sent + block.length))).toBe(true);
          sent += block.length;
        }
      })());
      await read.close();
      expect(reason).toBe('DATA_LOSS');
      expect(sent).toBe(sentBefore);
    }
    expect(await store.verify(id)).toMatchObject({ ok: false, corruptBlock: 3 });
    expect(directReadBuffers.inUse).toBe(0);
  });

  it('reads a large chunk through the page cache where O_DIRECT is refused (EINVAL) at open or at a read', async () => {
    const data = randomBytes(DIRECT_MIN_CHUNK_BYTES + BLOCK_SIZE + 99);
    const id = randomUUID();
    await putByCrc(store, id, data);
    let refuseOpen = true;
    let refusedReads = 0;
    const direct = await interceptDirectCalls(dataDir, 'read', async () => {
      refusedReads += 1;
      throw directRefused('read');
    }, () => refuseOpen);
    try {
      expect((await readAll(store, id)).equals(data)).toBe(true);
      expect(direct.directOpens()).toBe(0);
      refuseOpen = false;
      expect((await readAll(store, id, { offset: 7 })).equals(data.subarray(7))).toBe(true);
      expect(direct.directOpens()).toBe(1);
      // The refusal answers every read in flight then (the first span and the one read ahead).
      expect(refusedReads).toBe(SPANS_PER_READ);
      expect(await store.verify(id)).toEqual({ ok: true });
      expect(directReadBuffers.inUse).toBe(0);
    } finally {
      direct.restore();
    }
  });

  it('refuses a message whose CRC-32 is wrong, or a wrong chunk CRC-32, and keeps nothing', async () => {
    const data = randomBytes(BLOCK_SIZE + 5);
    const badFrame = randomUUID();
    const upload = await store.beginPut(badFrame, '', data.length, true);
    await upload.write(data.subarray(0, 1000), crc32(data.subarray(0, 1000)));
    expect(await reasonOf(upload.write(data.subarray(1000), crc32(data.subarray(1000)) ^ 4))).toBe('DATA_LOSS');
    await upload.abort();
    const badChunk = randomUUID();
    expect(await reasonOf(putByCrc(store, badChunk, data, crc32(data) ^ 0x80000000))).toBe('DATA_LOSS');
    for (const id of [badFrame, badChunk]) expect(await reasonOf(store.read(id))).toBe('NOT_FOUND');
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    expect(store.chunkCount).toBe(0);
  });

  it('compares a chunk put by SHA-256 and again by CRC-32 by content: the same bytes are accepted, others refused', async () => {
    const data = randomBytes(3000);
    const id = randomUUID();
    await put(store, id, data);
    await putByCrc(store, id, data);
    expect(await reasonOf(putByCrc(store, id, randomBytes(3000)))).toBe('ALREADY_EXISTS');
    const byCrc = randomUUID();
    await putByCrc(store, byCrc, data);
    await put(store, byCrc, data);
    expect(await reasonOf(put(store, byCrc, randomBytes(3000)))).toBe('ALREADY_EXISTS');
    expect(store.chunkCount).toBe(2);
  });

  it('lists chunks in id order with paging, and counts them again on open', async () => {
    const chunks = new Map<string, Buffer>();
    for (let i = 0; i < 7; i += 1) chunks.set(randomUUID(), randomBytes(i * 100));
    for (const [id, data] of chunks) await put(store, id, data);
    const ids = [...chunks.keys()].sort();

    const listed = [];
    for await (const chunk of store.list()) listed.push(chunk);
    expect(listed.map((c) => c.chunkId)).toEqual(ids);
    expect(listed.map((c) => c.size)).toEqual(ids.map((id) => chunks.get(id)!.length));
    expect(listed.map((c) => c.checksum)).toEqual(ids.map((id) => sha256(chunks.get(id)!)));

    const page = [];
    for await (const chunk of store.list(ids[2], 3)) page.push(chunk.chunkId);
    expect(page).toEqual(ids.slice(3, 6));

    await store.delete(ids[0]);
    expect(await reasonOf(store.delete(ids[0]))).toBe('NOT_FOUND');
    expect((await ChunkStore.open(dataDir, silent)).chunkCount).toBe(6);
  });

  it('clears temp files left by an earlier run on open', async () => {
    await fs.writeFile(path.join(dataDir, 'tmp', `${randomUUID()}.leftover`), 'partial');
    await ChunkStore.open(dataDir, silent);
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });

  it('refuses a put announcing more bytes than the disk has, and takes one that fits', async () => {
    // A fixed disk, so nothing else writing to the real one can move the line between checks.
    const available = 10 * 1024 * 1024;
    const fixedDisk = await ChunkStore.open(dataDir, silent, async () => ({ available, used: 0, total: available }));
    expect(await reasonOf(fixedDisk.beginPut(randomUUID(), sha256(Buffer.alloc(0)), available + 1))).toBe('RESOURCE_EXHAUSTED');
    const fits = await fixedDisk.beginPut(randomUUID(), sha256(Buffer.alloc(0)), available / 2);
    await fits.abort();
  });

  it('keeps a reserve free for deletes: a put into it is refused, and a delete of a record still succeeds when puts are refused', async () => {
    const MiB = 1024 * 1024;
    expect(putsMayTake({ available: 10 * MiB, used: 90 * MiB, total: 100 * MiB })).toBe(0);
    expect(putsMayTake({ available: 50 * MiB, used: 50 * MiB, total: 100 * MiB })).toBe(40 * MiB);
    expect(putsMayTake({ available: 100 * 1024 * MiB, used: 0, total: 1024 * 1024 * MiB })).toBe(100 * 1024 * MiB - 32 * MiB);

    let disk: DiskUsage = { available: 50 * MiB, used: 50 * MiB, total: 100 * MiB };
    const fixedDisk = await ChunkStore.open(dataDir, silent, async () => disk);
    const id = randomUUID();
    const data = randomBytes(4096);
    const upload = await fixedDisk.beginPut(id, sha256(data), data.length);
    await upload.write(data);
    await upload.commit();
    await fixedDisk.close();
    // The disk fills up to its reserve (a fresh store: no estimate of the one above is kept).
    disk = { available: 10 * MiB, used: 90 * MiB, total: 100 * MiB };
    const full = await ChunkStore.open(dataDir, silent, async () => disk);
    expect(await reasonOf(full.beginPut(randomUUID(), sha256(data), data.length))).toBe('RESOURCE_EXHAUSTED');
    await full.delete(id);
    expect(await reasonOf(full.read(id))).toBe('NOT_FOUND');
    await full.close();
  });

  it('acknowledges a put that names a stored SHA-256 up front only once the file it rests on is durable', async () => {
    const id = randomUUID();
    const data = randomBytes(512 * 1024); // above the volume records' size: a chunk file
    const chunkDir = path.dirname(chunkPath(dataDir, id));
    // The first put's chunk is named; the fsync of its directory waits for the gate.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => { openGate = resolve; });
    const open = fs.open;
    const opened: string[] = [];
    const openSpy = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      opened.push(String(args[0]));
      if (String(args[0]) === chunkDir) await gate;
      return open(...args);
    });
    try {
      const first = put(store, id, data);
      await waitFor(() => opened.includes(chunkDir), { what: 'the first put fsyncing its chunk directory' });
      opened.length = 0;
      let secondAcked = false;
      const second = store.beginPut(id, sha256(data), data.length).then(async (upload) => {
        await upload.commit();
        secondAcked = true;
      });
      // Every step of the second put that needs no disk runs before the next turn of the loop:
      // it must not have looked at the named but not yet durable file, nor been acknowledged.
      await new Promise(setImmediate);
      expect(opened).not.toContain(chunkPath(dataDir, id));
      expect(secondAcked).toBe(false);
      openGate();
      await first;
      await second;
      expect(secondAcked).toBe(true);
    } finally {
      openGate();
      openSpy.mockRestore();
    }
    expect((await readAll(store, id)).equals(data)).toBe(true);
  });

  it('refuses a small put of other content under the id of a chunk file, one found at start and one stored since', async () => {
    const found = randomUUID();
    await put(store, found, randomBytes(FILE_CHUNK_BYTES + 1));
    await store.close();
    store = await ChunkStore.open(dataDir, silent);
    const storedSince = randomUUID();
    await put(store, storedSince, randomBytes(FILE_CHUNK_BYTES + 1));
    for (const id of [found, storedSince]) {
      expect(await reasonOf(putByCrc(store, id, randomBytes(4096)))).toBe('ALREADY_EXISTS');
      expect(await fs.readdir(path.join(dataDir, 'volumes'))).toEqual([]);
    }
  });

  it('stores one id once when a put of it as a file is being named while a put of it as a record comes: other content refused, a delete deletes', async () => {
    /** A put that does not announce its size: a file of its own, whatever its size. */
    const putUnsized = async (chunkId: string, data: Buffer): Promise<void> => {
      const upload = await store.beginPut(chunkId, '', 0);
      await upload.write(data);
      await upload.commit({ checksum: sha256(data) });
    };
    const link = fs.link;
    const volumes = (store as unknown as { volumes: VolumeStore }).volumes;
    const settled = volumes.settled.bind(volumes);
    for (const sameContent of [false, true]) {
      const id = randomUUID();
      const asFile = randomBytes(10_000);
      const asRecord = sameContent ? asFile : randomBytes(10_000);
      // The file put's link waits until the record put has looked whether the id is free.
      let recordPutLooked!: () => void;
      const looked = new Promise<void>((resolve) => { recordPutLooked = resolve; });
      const linkSpy = jest.spyOn(fs, 'link').mockImplementation(async (from, to) => {
        await looked;
        return link(from, to);
      });
      const settledSpy = jest.spyOn(volumes, 'settled').mockImplementation(async (chunkId) => {
        await settled(chunkId);
        if (chunkId === id) setImmediate(recordPutLooked);
      });
      try {
        const filePut = putUnsized(id, asFile);
        await waitFor(() => linkSpy.mock.calls.length > 0, { what: 'the file put naming its chunk' });
        const recordPut = putByCrc(store, id, asRecord);
        const outcomes = await Promise.allSettled([filePut, recordPut]);
        expect(outcomes[0].status).toBe('fulfilled');
        if (sameContent) expect(outcomes[1].status).toBe('fulfilled');
        else expect(outcomes[1].status === 'rejected' && (outcomes[1].reason as ChunkStoreError).reason).toBe('ALREADY_EXISTS');
      } finally {
        linkSpy.mockRestore();
        settledSpy.mockRestore();
      }
      expect((await readAll(store, id)).equals(asFile)).toBe(true);
      expect(volumes.has(id)).toBe(false);
      await store.delete(id);
      expect(await reasonOf(store.read(id))).toBe('NOT_FOUND');
    }
  });
});
