import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { crc32Checksum } from '../../src/wire/crc32';
import { codeOf, listTree, storageServerForTests } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { BAD_CHUNK_IDS } from './bad-chunk-ids';
import { RawPutChunkCall } from './raw-grpc-call';
import { chunkOnDisk, xorChunkByte } from '../helpers/chunk-on-disk';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Where a large chunk's file lies in a data directory. */
function chunkPath(dataDir: string, chunkId: string): string {
  return path.join(dataDir, 'chunks', chunkId.slice(0, 2), chunkId.slice(2, 4), chunkId);
}

describe('ringstore storage', () => {
  const { server, client, parentDir } = storageServerForTests('ringstore-storage-');

  it.each([0, 1, MiB + 1, 64 * MiB])('round-trips a %i byte chunk byte-exact (put, get, list, delete)', async (size) => {
    const id = randomUUID();
    const data = randomBytes(size);
    expect(await client().putChunkBuffer(id, data)).toMatchObject({ chunk_id: id, success: true, crc32: crc32(data) });
    expect(sha256(await client().getChunkBuffer(id))).toBe(sha256(data));

    const listed = [];
    for await (const info of client().listChunks()) listed.push(info);
    expect(listed.find((info) => info.chunk_id === id)).toMatchObject({ size, checksum: crc32Checksum(crc32(data)) });

    expect(await client().deleteChunk(id)).toMatchObject({ success: true });
    expect(await codeOf(client().getChunkBuffer(id))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client().deleteChunk(id))).toBe(grpc.status.NOT_FOUND);
  });

  it('serves byte ranges at block boundaries and inside blocks', async () => {
    const id = randomUUID();
    const data = randomBytes(3 * MiB + 123);
    await client().putChunkBuffer(id, data);
    const ranges: Array<[number, number]> = [
      [0, MiB], [MiB, MiB], [MiB - 1, 2], [MiB + 10, 100], [2 * MiB - 5, MiB + 10], [3 * MiB, 0], [100, 0], [data.length, 0],
    ];
    for (const [offset, length] of ranges) {
      const expected = data.subarray(offset, length ? offset + length : undefined);
      expect((await client().getChunkBuffer(id, { offset, length })).equals(expected)).toBe(true);
    }
    expect(await codeOf(client().getChunkBuffer(id, { offset: data.length + 1 }))).toBe(grpc.status.OUT_OF_RANGE);
  });

  it('answers ReadChunk with a range of up to 1 MiB in one reply, of small chunks (read whole) and big ones alike', async () => {
    const small = { id: randomUUID(), data: randomBytes(4096 + 17) };
    const big = { id: randomUUID(), data: randomBytes(3 * MiB + 123) };
    for (const { id, data } of [small, big]) await client().putChunkBuffer(id, data);
    const cases: Array<[typeof small, number, number]> = [
      [small, 0, small.data.length], [small, 0, 0], [small, 1, 100], [small, 4000, 1000], [small, small.data.length, 0],
      [big, 0, MiB], [big, MiB - 1, 2], [big, 2 * MiB - 5, MiB], [big, 3 * MiB, 0], [big, big.data.length, 0],
    ];
    for (const [{ id, data }, offset, length] of cases) {
      const expected = data.subarray(offset, length ? offset + length : undefined);
      expect((await client().readChunk(id, { offset, length })).equals(expected)).toBe(true);
    }
    // More than one reply holds: refused before anything is read (the whole of a big chunk, or a long range).
    expect(await codeOf(client().readChunk(big.id, { offset: 0, length: 0 }))).toBe(grpc.status.OUT_OF_RANGE);
    expect(await codeOf(client().readChunk(big.id, { offset: 5, length: MiB + 1 }))).toBe(grpc.status.OUT_OF_RANGE);
    expect(await codeOf(client().readChunk(small.id, { offset: small.data.length + 1, length: 0 }))).toBe(grpc.status.OUT_OF_RANGE);
    expect(await codeOf(client().readChunk(randomUUID(), { offset: 0, length: 0 }))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client().readChunk('../../etc/passwd', { offset: 0, length: 0 }))).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('never answers ReadChunk with the bytes of a corrupt block: DATA_LOSS, while ranges of intact blocks are served', async () => {
    const small = { id: randomUUID(), data: randomBytes(10_000) };
    const big = { id: randomUUID(), data: randomBytes(3 * MiB) };
    for (const { id, data } of [small, big]) await client().putChunkBuffer(id, data);
    for (const [{ id }, flipAt] of [[small, 5000], [big, 2 * MiB + 1234]] as const) await xorChunkByte(server().dataDir, id, flipAt, 0x01);
    // A range that does not touch the flipped byte is still refused: its block is checked whole.
    expect(await codeOf(client().readChunk(small.id, { offset: 0, length: 10 }))).toBe(grpc.status.DATA_LOSS);
    expect(await codeOf(client().readChunk(big.id, { offset: 2 * MiB + 5000, length: 10 }))).toBe(grpc.status.DATA_LOSS);
    expect((await client().readChunk(big.id, { offset: MiB, length: MiB })).equals(big.data.subarray(MiB, 2 * MiB))).toBe(true);
  });

  it('reports real disk figures, its server id and the chunk count', async () => {
    const health = await client().healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.server_id).toBe(server().serverId);
    expect(health.total_space).toBeGreaterThan(0);
    expect(health.available_space).toBeGreaterThan(0);
    expect(health.available_space).toBeLessThanOrEqual(health.total_space);
    expect(health.used_space).toBeGreaterThan(0);
    const listed = [];
    for await (const info of client().listChunks()) listed.push(info);
    expect(health.chunk_count).toBe(listed.length);
  });

  it('refuses every malformed or path-escaping id with INVALID_ARGUMENT and touches nothing', async () => {
    const before = await listTree(parentDir());
    const checksum = sha256(Buffer.from('x'));
    for (const id of BAD_CHUNK_IDS) {
      const label = JSON.stringify(id);
      const writer = client().putChunk(id, checksum, 1);
      await writer.write(Buffer.from('x')).catch(() => undefined);
      expect([label, await codeOf(writer.end())]).toEqual([label, grpc.status.INVALID_ARGUMENT]);
      expect([label, await codeOf(client().getChunkBuffer(id))]).toEqual([label, grpc.status.INVALID_ARGUMENT]);
      expect([label, await codeOf(client().deleteChunk(id))]).toEqual([label, grpc.status.INVALID_ARGUMENT]);
      expect([label, await codeOf(client().verifyChunk(id))]).toEqual([label, grpc.status.INVALID_ARGUMENT]);
    }
    expect(await listTree(parentDir())).toEqual(before);
  });

  it('refuses a malformed checksum with INVALID_ARGUMENT', async () => {
    const writer = client().putChunk(randomUUID(), 'abc', 1);
    await writer.write(Buffer.from('x')).catch(() => undefined);
    expect(await codeOf(writer.end())).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('keeps nothing on a checksum mismatch; same id and checksum again is fine, different content is not', async () => {
    const id = randomUUID();
    const data = randomBytes(2 * MiB);
    const wrong = client().putChunk(id, sha256(Buffer.from('something else')), data.length);
    await wrong.write(data);
    expect(await codeOf(wrong.end())).toBe(grpc.status.DATA_LOSS);
    expect(await codeOf(client().getChunkBuffer(id))).toBe(grpc.status.NOT_FOUND);
    await expect(fs.stat(chunkPath(server().dataDir, id))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fs.readdir(path.join(server().dataDir, 'tmp'))).toEqual([]);

    await client().putChunkBuffer(id, data);
    expect(await client().putChunkBuffer(id, data)).toMatchObject({ success: true });
    expect(await codeOf(client().putChunkBuffer(id, randomBytes(10)))).toBe(grpc.status.ALREADY_EXISTS);
    expect((await client().getChunkBuffer(id)).equals(data)).toBe(true);
  });

  it('keeps nothing and removes its temp file when the client cancels mid-put', async () => {
    const id = randomUUID();
    const writer = client().putChunk(id, sha256(Buffer.alloc(8 * MiB)), 8 * MiB);
    await writer.write(randomBytes(3 * MiB));
    const tmpDir = path.join(server().dataDir, 'tmp');
    await waitFor(async () => (await fs.readdir(tmpDir)).length === 1, { what: 'the put to reach a temp file' });
    writer.abort('test cancels');
    expect(await codeOf(writer.end())).toBe(grpc.status.CANCELLED);
    await waitFor(async () => (await fs.readdir(tmpDir)).length === 0, { what: 'the temp file to be removed' });
    expect(await codeOf(client().getChunkBuffer(id))).toBe(grpc.status.NOT_FOUND);
  });

  it('never sends the bytes of a corrupt block: GetChunk ends with DATA_LOSS and VerifyChunk names the block', async () => {
    const id = randomUUID();
    const data = randomBytes(4 * MiB);
    await client().putChunkBuffer(id, data);
    const flipAt = 2 * MiB + 1234;
    const handle = await fs.open(chunkPath(server().dataDir, id), 'r+');
    await handle.write(Buffer.from([data[flipAt] ^ 0x01]), 0, 1, flipAt);
    await handle.close();

    const received: Buffer[] = [];
    const stream = client().getChunk(id);
    const failure = await (async () => {
      for await (const piece of stream) received.push(piece as Buffer);
    })().then(() => undefined, (error: grpc.ServiceError) => error);
    expect(failure?.code).toBe(grpc.status.DATA_LOSS);
    const delivered = Buffer.concat(received);
    expect(delivered.length).toBeLessThanOrEqual(2 * MiB);
    expect(delivered.equals(data.subarray(0, delivered.length))).toBe(true);

    expect(await client().verifyChunk(id)).toMatchObject({ chunk_id: id, ok: false, corrupt_block: 2 });
    expect((await client().getChunkBuffer(id, { offset: 0, length: 2 * MiB })).equals(data.subarray(0, 2 * MiB))).toBe(true);
    expect(await codeOf(client().getChunkBuffer(id, { offset: 2 * MiB + 5000, length: 10 }))).toBe(grpc.status.DATA_LOSS);
  });

  it('reports an intact chunk as ok', async () => {
    const id = randomUUID();
    await client().putChunkBuffer(id, randomBytes(MiB + 7));
    expect(await client().verifyChunk(id)).toMatchObject({ chunk_id: id, ok: true });
  });

  it('handles 20 concurrent puts and gets of different chunks byte-exact', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => ({ id: randomUUID(), data: randomBytes(100_000 + i * 150_000) }));
    await Promise.all(chunks.map(({ id, data }) => client().putChunkBuffer(id, data)));
    const got = await Promise.all(chunks.map(({ id }) => client().getChunkBuffer(id)));
    got.forEach((data, i) => expect(sha256(data)).toBe(sha256(chunks[i].data)));
  });
});

describe('PutChunk end-to-end checks: CRC-32 per message and per chunk, SHA-256 for the original clients', () => {
  const { server, client } = storageServerForTests('ringstore-crc-');

  /** A put spoken message by message, as a client other than StorageClient might. */
  async function rawPut(messages: Array<Record<string, unknown>>): Promise<{ code: number; details: string }> {
    const call = new RawPutChunkCall(RawPutChunkCall.connect(server().address));
    for (const message of messages) call.send(message);
    call.end();
    return call.status;
  }

  async function expectNothingKept(id: string): Promise<void> {
    expect(await codeOf(client().getChunkBuffer(id))).toBe(grpc.status.NOT_FOUND);
    expect(await chunkOnDisk(server().dataDir, id)).toBeUndefined();
    await waitFor(async () => (await fs.readdir(path.join(server().dataDir, 'tmp'))).length === 0, { what: 'no temp file left' });
  }

  const data = randomBytes(2 * MiB + 17);
  const first = data.subarray(0, MiB);
  const rest = data.subarray(MiB);

  it('refuses a message whose data does not match its data_crc32 with DATA_LOSS, keeping nothing', async () => {
    const id = randomUUID();
    const status = await rawPut([
      { chunk_id: id, data_crc32: 0 },
      { data: first, data_crc32: crc32(first) },
      { data: rest, data_crc32: crc32(rest) ^ 0x100 },
      { chunk_crc32: crc32(data) },
    ]);
    expect(status.code).toBe(grpc.status.DATA_LOSS);
    expect(status.details).toMatch(/message 3 .* has CRC-32/);
    await expectNothingKept(id);
  });

  it('refuses a chunk whose bytes do not match chunk_crc32 with DATA_LOSS, keeping nothing', async () => {
    const id = randomUUID();
    const status = await rawPut([
      { chunk_id: id, data_crc32: 0 },
      { data: first, data_crc32: crc32(first) },
      { data: rest, data_crc32: crc32(rest), chunk_crc32: crc32(data) ^ 1 },
    ]);
    expect(status.code).toBe(grpc.status.DATA_LOSS);
    await expectNothingKept(id);
    // The client refuses bytes that differ from an expected crc32: checksum the same way.
    const writer = client().putChunk(id, crc32Checksum(crc32(data) ^ 1), data.length);
    await writer.write(data);
    expect(await codeOf(writer.end())).toBe(grpc.status.DATA_LOSS);
    await expectNothingKept(id);
  });

  it('refuses data without data_crc32 once the first message had one, and a trailing SHA-256 it did not hash for', async () => {
    const unchecked = randomUUID();
    expect((await rawPut([{ chunk_id: unchecked, data_crc32: 0 }, { data: first }, { chunk_crc32: crc32(first) }])).code).toBe(grpc.status.INVALID_ARGUMENT);
    await expectNothingKept(unchecked);
    const trailingSha = randomUUID();
    expect((await rawPut([{ chunk_id: trailingSha, data_crc32: 0 }, { data: first, data_crc32: crc32(first) }, { checksum: sha256(first) }])).code).toBe(grpc.status.INVALID_ARGUMENT);
    await expectNothingKept(trailingSha);
  });

  it('still verifies the SHA-256 of the original clients (first message or last) and keeps nothing on a mismatch', async () => {
    const wrongFirst = randomUUID();
    expect((await rawPut([{ chunk_id: wrongFirst, checksum: sha256(rest) }, { data: first }, { data: rest }])).code).toBe(grpc.status.DATA_LOSS);
    await expectNothingKept(wrongFirst);
    const wrongLast = randomUUID();
    expect((await rawPut([{ chunk_id: wrongLast }, { data: first }, { data: rest, checksum: sha256(first) }])).code).toBe(grpc.status.DATA_LOSS);
    await expectNothingKept(wrongLast);
    // A SHA-256 put that also sends CRC-32s is checked against both.
    const bothWrongCrc = randomUUID();
    expect((await rawPut([{ chunk_id: bothWrongCrc, checksum: sha256(data), data_crc32: 0 }, { data, data_crc32: crc32(data) }, { chunk_crc32: crc32(data) ^ 2 }])).code).toBe(grpc.status.DATA_LOSS);
    await expectNothingKept(bothWrongCrc);

    const good = randomUUID();
    expect((await rawPut([{ chunk_id: good, checksum: sha256(data) }, { data: first }, { data: rest }])).code).toBe(grpc.status.OK);
    expect((await client().getChunkBuffer(good)).equals(data)).toBe(true);
    const listed = [];
    for await (const info of client().listChunks()) listed.push(info);
    expect(listed.find((info) => info.chunk_id === good)).toMatchObject({ checksum: sha256(data) });
    expect(await client().verifyChunk(good)).toMatchObject({ ok: true });
    // ringstore copies such a chunk by its recorded SHA-256 (repair): the same bytes are accepted.
    expect((await client().putChunkBuffer(good, data)).success).toBe(true);
  });
});
