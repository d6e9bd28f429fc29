import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import winston from 'winston';
import { BLOCK_SIZE } from '../../src/storage/chunk-file-format';
import { ChunkStore, type ChunkRead } from '../../src/storage/chunk-store';
import { ChunkStoreError } from '../../src/storage/chunk-store-error';
import { DIRECT_READ_SPAN_BYTES, SPANS_PER_READ, SPANS_PER_SERVER, directReadBuffers } from '../../src/storage/direct-block-reader';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { interceptDirectCalls } from './direct-io-calls';

/** Three spans and a bit (two blocks and a partial one). */
const CHUNK_BYTES = 3 * DIRECT_READ_SPAN_BYTES + 2 * BLOCK_SIZE + 12_345;

interface DirectRead {
  buffer: Buffer;
  position: number;
  done: boolean;
}

/**
 * Direct reads of large chunks (DirectBlocks behind ChunkStore.read), watched at the system
 * call: every read's buffer and position, and every pool take and release, so each test can
 * also check that no pool buffer is handed out or given back while a read still fills it.
 */
describe('Direct read-ahead of large chunks', () => {
  let dataDir: string;
  let store: ChunkStore;
  let data: Buffer;
  let id: string;
  let reads: DirectRead[];
  /** Runs before each direct read; a test may hold a read back with it. */
  let beforeRead: (read: DirectRead) => Promise<void>;
  /** A buffer taken or given back while a read into it was in flight. */
  let reusedWhileFilling: string[];
  let restore: () => void;

  beforeAll(async () => {
    dataDir = await makeTempDir('ringstore-read-ahead-');
    store = await ChunkStore.open(dataDir, winston.createLogger({ silent: true }));
    data = randomBytes(CHUNK_BYTES);
    id = randomUUID();
    const upload = await store.beginPut(id, '', data.length, true);
    for (let offset = 0; offset < data.length; offset += BLOCK_SIZE) {
      const piece = data.subarray(offset, offset + BLOCK_SIZE);
      await upload.write(piece, crc32(piece));
    }
    await upload.commit({ crc32: crc32(data) });
  });
  afterAll(removeTempDirs);

  beforeEach(async () => {
    reads = [];
    reusedWhileFilling = [];
    beforeRead = async () => undefined;
    const filling = (buffer: Buffer) => reads.some((read) => !read.done && read.buffer.buffer === buffer.buffer);
    const direct = await interceptDirectCalls(dataDir, 'read', async (call, [buffer, , , position]) => {
      const read: DirectRead = { buffer: buffer as Buffer, position: position as number, done: false };
      reads.push(read);
      try {
        await beforeRead(read);
        return await call();
      } finally {
        read.done = true;
      }
    });
    const take = directReadBuffers.take.bind(directReadBuffers);
    const release = directReadBuffers.release.bind(directReadBuffers);
    const takes = jest.spyOn(directReadBuffers, 'take').mockImplementation(() => {
      const buffer = take();
      if (filling(buffer)) reusedWhileFilling.push('taken');
      return buffer;
    });
    const releases = jest.spyOn(directReadBuffers, 'release').mockImplementation((buffer) => {
      if (filling(buffer)) reusedWhileFilling.push('released');
      release(buffer);
    });
    restore = () => {
      direct.restore();
      takes.mockRestore();
      releases.mockRestore();
    };
  });

  afterEach(() => {
    restore();
    expect(reusedWhileFilling).toEqual([]);
    expect(directReadBuffers.inUse).toBe(0);
  });

  async function readAll(range?: { offset?: number; length?: number }): Promise<Buffer> {
    return served(await store.read(id, range));
  }

  /** Every byte a read serves; it is closed after. */
  async function served(read: ChunkRead): Promise<Buffer> {
    const pieces: Buffer[] = [];
    try {
      for await (const piece of read.blocks()) pieces.push(piece);
    } finally {
      await read.close();
    }
    return Buffer.concat(pieces);
  }

  it('keeps reads of whole spans in flight ahead and serves the blocks in order, even when a later span is read first', async () => {
    // The first span's read waits until the second one has finished.
    const secondDone = () => reads.some((r) => r.position === DIRECT_READ_SPAN_BYTES && r.done);
    beforeRead = async (read) => {
      if (read.position === 0) await waitFor(secondDone, { timeoutMs: 10_000, what: 'the second span read' });
    };
    const blocks: Buffer[] = [];
    const read = await store.read(id);
    try {
      for await (const block of read.blocks()) {
        blocks.push(block);
        if (blocks.length === 1) expect(reads.map((r) => r.position)).toEqual([0, DIRECT_READ_SPAN_BYTES]);
      }
    } finally {
      await read.close();
    }
    expect(blocks.every((block) => block.length <= BLOCK_SIZE)).toBe(true);
    expect(Buffer.concat(blocks).equals(data)).toBe(true);
    expect(reads.map((r) => r.position)).toEqual(Array.from({ length: Math.ceil(CHUNK_BYTES / DIRECT_READ_SPAN_BYTES) }, (_, span) => span * DIRECT_READ_SPAN_BYTES));
  });

  it('reads ranges at odd offsets byte-exact, reading only the blocks they touch', async () => {
    const ranges = [
      { offset: 1, length: DIRECT_READ_SPAN_BYTES + 7 },
      { offset: DIRECT_READ_SPAN_BYTES - 1, length: 2 },
      { offset: 2 * DIRECT_READ_SPAN_BYTES + BLOCK_SIZE + 4095, length: 3 * BLOCK_SIZE + 4097 },
      { offset: CHUNK_BYTES - 1 },
      { offset: 5 * BLOCK_SIZE + 3 },
    ];
    for (const { offset, length } of ranges) {
      reads = [];
      const end = length === undefined ? CHUNK_BYTES : offset + length;
      expect((await readAll({ offset, length })).equals(data.subarray(offset, end))).toBe(true);
      expect(reads[0].position).toBe(Math.floor(offset / BLOCK_SIZE) * BLOCK_SIZE);
      const lastBlockEnd = Math.min(CHUNK_BYTES, Math.ceil(end / BLOCK_SIZE) * BLOCK_SIZE);
      expect(reads.every((r) => r.position < lastBlockEnd)).toBe(true);
    }
  });

  it('serves no byte of a damaged block that was read ahead: DATA_LOSS once every block before it is sent', async () => {
    const damaged = DIRECT_READ_SPAN_BYTES / BLOCK_SIZE + 2;
    const file = await fs.open(path.join(dataDir, 'chunks', id.slice(0, 2), id.slice(2, 4), id), 'r+');
    const flip = async () => {
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, damaged * BLOCK_SIZE + 77);
      byte[0] ^= 0xff;
      await file.write(byte, 0, 1, damaged * BLOCK_SIZE + 77);
    };
    await flip();
    try {
      for (const { offset, sentBefore } of [{ offset: 0, sentBefore: damaged * BLOCK_SIZE }, { offset: damaged * BLOCK_SIZE + 100, sentBefore: 0 }]) {
        const read = await store.read(id, { offset });
        let sent = 0;
        const failure = await (async () => {
          for await (const block of read.blocks()) {
            expect(block.equals(data.subarray(offset + sent, offset + sent + block.length))).toBe(true);
            sent += block.length;
          }
        })().then(() => undefined, (error: unknown) => error);
        await read.close();
        expect(failure).toBeInstanceOf(ChunkStoreError);
        expect((failure as ChunkStoreError).reason).toBe('DATA_LOSS');
        expect(sent).toBe(sentBefore);
      }
    } finally {
      await flip();
      await file.close();
    }
  });

  it('gives every buffer back when a read stops early, each only once its read has finished', async () => {
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    beforeRead = async (read) => {
      if (read.position === DIRECT_READ_SPAN_BYTES) await gate;
    };
    const read = await store.read(id);
    const stopped = (async () => {
      for await (const block of read.blocks()) {
        expect(block.equals(data.subarray(0, BLOCK_SIZE))).toBe(true);
        break; // the second span's read is still held at the gate
      }
      await read.close();
    })();
    await waitFor(() => reads.length === SPANS_PER_READ, { timeoutMs: 10_000, what: 'the read-ahead started' });
    expect(directReadBuffers.inUse).toBe(SPANS_PER_READ);
    openGate();
    await stopped;
    expect(reads.every((r) => r.done)).toBe(true);
  });

  it('lends at most its per-server buffers to reading ahead: reads past them read one span at a time', async () => {
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    beforeRead = () => gate;
    const readers = SPANS_PER_SERVER;
    const opened = await Promise.all(Array.from({ length: readers }, () => store.read(id)));
    const all = opened.map(served);
    await waitFor(() => reads.length >= readers, { timeoutMs: 10_000, what: 'every read started' });
    expect(directReadBuffers.inUse).toBeGreaterThanOrEqual(readers);
    expect(directReadBuffers.inUse).toBeLessThan(readers * SPANS_PER_READ);
    expect(directReadBuffers.inUse).toBeLessThanOrEqual(SPANS_PER_SERVER + readers / SPANS_PER_READ);
    openGate();
    for (const whole of await Promise.all(all)) expect(whole.equals(data)).toBe(true);
  });
});
