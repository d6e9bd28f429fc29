import { randomBytes, randomUUID } from 'node:crypto';
import { MessageBufferPool } from '../../src/wire/message-buffer-pool';
import { installMessageDecoder, MessageDecoder } from '../../src/wire/message-decoder';
import { isPageAligned, pageAlignedUpTo } from '../../src/storage/aligned-buffer-pool';
import { encodePutData } from '../../src/rpc/storage-client';
import { FRAME_BUFFER_BYTES, newFramePool } from '../../src/wire/frame-pool';
import { storageServiceDefinition, type PutChunkRequest } from '../../src/wire/storage-service';
import { StorageClient } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer } from '../helpers/storage-server';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A gRPC length-prefixed message: flag byte 0, 4-byte big-endian length, body. */
function framed(body: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** `stream` cut at pseudo-random points (seeded: a failure replays), pieces of 1 byte to 100 KiB. */
function cut(stream: Buffer, seed: number): Buffer[] {
  const pieces: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < stream.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const length = state % 4 === 0 ? 1 + (state % 7) : 1 + (state % (100 * KiB));
    pieces.push(stream.subarray(at, at + length));
    at += length;
  }
  return pieces;
}

describe('MessageDecoder', () => {
  const bodies = [0, 1, 5, 300 * KiB, 600 * KiB, MiB, 3, MiB - 1].map((size) => randomBytes(size));
  const stream = Buffer.concat(bodies.map(framed));

  it.each([1, 2, 3, 4, 5])('returns every message whole and in order however the stream is cut (seed %i)', (seed) => {
    const decoder = new MessageDecoder(-1);
    const messages = cut(stream, seed).flatMap((piece) => decoder.write(piece));
    expect(messages.map((m) => m.length)).toEqual(bodies.map((b) => b.length + 5));
    messages.forEach((message, i) => expect(message.equals(framed(bodies[i]))).toBe(true));
  });

  it('decodes a stream written byte by byte across prefixes and bodies', () => {
    const small = Buffer.concat([framed(Buffer.from('ab')), framed(Buffer.alloc(0)), framed(Buffer.from('xyz'))]);
    const decoder = new MessageDecoder(-1);
    const messages = [...small].flatMap((byte) => decoder.write(Buffer.from([byte])));
    expect(messages.map((m) => m.subarray(5).toString())).toEqual(['ab', '', 'xyz']);
  });

  it('takes the memory of messages that fit the pool from it, and no other', () => {
    const pool = new MessageBufferPool(MiB + 16, 8);
    const decoder = new MessageDecoder(-1, pool);
    const messages = decoder.write(stream);
    for (const message of messages) pool.release(message);
    // 600 KiB, 1 MiB and 1 MiB - 1 are over half a pool buffer; 300 KiB and the tiny ones are not.
    expect(pool.freeCount).toBe(3);
  });

  it('places a PutChunk data frame in page-aligned pool memory so that its data starts page-aligned (written with O_DIRECT as it is)', () => {
    const deserialize = storageServiceDefinition.PutChunk.requestDeserialize as (bytes: Buffer) => PutChunkRequest;
    const decoder = new MessageDecoder(-1, newFramePool(pageAlignedUpTo(2, FRAME_BUFFER_BYTES)));
    for (const size of [MiB, 700 * KiB]) {
      const data = randomBytes(size);
      const [message] = decoder.write(framed(Buffer.from(encodePutData([data]).bytes)));
      const request = deserialize(message.subarray(5));
      expect(request.data.equals(data)).toBe(true);
      expect(isPageAligned(request.data)).toBe(true);
    }
  });

  it('refuses a message over the limit, as grpc-js does', () => {
    const decoder = new MessageDecoder(1000);
    expect(() => decoder.write(framed(Buffer.alloc(1001)))).toThrow('Received message larger than max (1001 vs 1000)');
    expect(new MessageDecoder(1000).write(framed(Buffer.alloc(1000)))[0]).toHaveLength(1005);
  });
});

describe('MessageBufferPool', () => {
  it('lends released memory again, and never the same memory twice at once', () => {
    const pool = new MessageBufferPool(1000, 4);
    const first = pool.take(900);
    expect(first).toHaveLength(900);
    pool.release(first.subarray(10, 20)); // any view into the buffer gives it back
    pool.release(first); // a second release of the same loan is ignored
    expect(pool.freeCount).toBe(1);
    const second = pool.take(600);
    const third = pool.take(600);
    expect(second.buffer).toBe(first.buffer);
    expect(third.buffer).not.toBe(first.buffer);
  });

  it('ignores memory it did not lend and keeps at most maxFree buffers', () => {
    const pool = new MessageBufferPool(1000, 2);
    pool.release(Buffer.alloc(1000));
    expect(pool.freeCount).toBe(0);
    const loans = [pool.take(800), pool.take(800), pool.take(800)];
    for (const loan of loans) pool.release(loan);
    expect(pool.freeCount).toBe(2);
    expect(pool.fits(500)).toBe(false);
    expect(pool.fits(501)).toBe(true);
    expect(pool.fits(1001)).toBe(false);
  });

  it('tells onTake the size of every loan, fresh or reused', () => {
    const taken: number[] = [];
    const pool = new MessageBufferPool(1000, 2, (bytes) => taken.push(bytes));
    pool.release(pool.take(700));
    pool.take(900);
    expect(taken).toEqual([700, 900]);
  });
});

describe('installMessageDecoder on real GetChunk calls', () => {
  const pool = new MessageBufferPool(MiB + 16, 8);
  let client: StorageClient;
  const chunk = { id: randomUUID(), data: randomBytes(3 * MiB + 12_345) };

  beforeAll(async () => {
    expect(installMessageDecoder(pool)).toBe(true);
    const server = await spawnStorageServer(await makeTempDir('ringstore-decoder-'));
    client = StorageClient.connect(server.address);
    await client.putChunkBuffer(chunk.id, chunk.data);
  });

  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  async function read(): Promise<Buffer[]> {
    const pieces: Buffer[] = [];
    for await (const piece of client.getChunk(chunk.id)) pieces.push(piece as Buffer);
    return pieces;
  }

  it('receives the data frames in pool memory, and reads right again in memory given back', async () => {
    const first = await read();
    expect(Buffer.concat(first).equals(chunk.data)).toBe(true);
    for (const piece of first) pool.release(piece);
    expect(pool.freeCount).toBe(3); // the three 1 MiB frames; the 12,345-byte tail is too small
    const reused = new Set(first.map((piece) => piece.buffer));

    const second = await read();
    expect(Buffer.concat(second).equals(chunk.data)).toBe(true);
    expect(second.filter((piece) => reused.has(piece.buffer))).toHaveLength(3);
  });
});
