import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { crc32Checksum } from '../../src/wire/crc32';
import { RingstoreProcess } from '../helpers/process';
import { codeOf, makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { chunkOnDisk, xorChunkByte } from '../helpers/chunk-on-disk';
import { RECORD_HEADER_BYTES } from '../../src/storage/volume-record';

const KiB = 1024;

/**
 * Small chunks (a put that announces its size, stored bytes up to 256 KiB) are records in volume
 * files, large ones and puts of unknown size files of their own: every RPC serves both alike.
 */
describe('small chunks as volume records, through a real storage server', () => {
  let dataDir: string;
  let server: SpawnedStorageServer;
  let client: StorageClient;

  const start = async (): Promise<void> => {
    server = await spawnStorageServer(dataDir, { port: server?.port ?? 0 });
    client = StorageClient.connect(server.address);
  };
  const restart = async (): Promise<void> => {
    client.close();
    await server.process.kill('SIGTERM');
    await start();
  };
  const putSmall = async (id: string, data: Buffer): Promise<unknown> => {
    const writer = client.putSmallChunk(id, data.length);
    await writer.write(encodePutData([data]));
    return writer.end();
  };
  /** A put that does not announce its size: always a file of its own. */
  const putUnsized = async (id: string, data: Buffer): Promise<unknown> => {
    const writer = client.putChunk(id, '', 0);
    await writer.write(data);
    return writer.end();
  };
  const listed = async (request: { after?: string; limit?: number } = {}) => {
    const chunks = [];
    for await (const info of client.listChunks(request)) chunks.push(info);
    return chunks;
  };

  beforeAll(async () => {
    dataDir = path.join(await makeTempDir('ringstore-volume-records-'), 'data');
    await start();
  });
  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('serves records and files alike through every RPC, byte-exact, before and after a restart', async () => {
    const records = [1, 4 * KiB, 64 * KiB, 255 * KiB].map((size) => ({ id: randomUUID(), data: randomBytes(size) }));
    const files = [{ id: randomUUID(), data: randomBytes(300 * KiB) }, { id: randomUUID(), data: randomBytes(5 * KiB) }];
    await Promise.all(records.map(({ id, data }, n) => (n % 2 === 0 ? putSmall(id, data) : client.putChunkBuffer(id, data))));
    await client.putChunkBuffer(files[0].id, files[0].data);
    await putUnsized(files[1].id, files[1].data);
    for (const { id } of records) expect((await chunkOnDisk(dataDir, id))?.file).toMatch(/volumes\/\d{6}\.vol$/);
    for (const { id } of files) expect((await chunkOnDisk(dataDir, id))?.file).toContain(`chunks/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`);

    const all = [...records, ...files].sort((a, b) => a.id.localeCompare(b.id));
    for (let round = 0; round < 2; round += 1) {
      for (const { id, data } of all) {
        expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
        expect((await client.getChunkBuffer(id, { offset: Math.floor(data.length / 3) })).equals(data.subarray(Math.floor(data.length / 3)))).toBe(true);
        const range = { offset: Math.floor(data.length / 2), length: Math.min(1000, data.length - Math.floor(data.length / 2)) };
        expect((await client.readChunk(id, range)).equals(data.subarray(range.offset, range.offset + range.length))).toBe(true);
        expect(await client.verifyChunk(id)).toMatchObject({ ok: true });
      }
      const infos = await listed();
      expect(infos.map((info) => info.chunk_id)).toEqual(all.map(({ id }) => id));
      for (const [n, info] of infos.entries()) {
        expect(info).toMatchObject({ size: all[n].data.length, checksum: crc32Checksum(crc32(all[n].data)) });
        expect(Number(info.modified_at_ms)).toBeGreaterThan(Date.now() - 600_000);
      }
      // Paging walks both kinds in one order.
      expect((await listed({ after: all[1].id, limit: 3 })).map((info) => info.chunk_id)).toEqual(all.slice(2, 5).map(({ id }) => id));
      expect((await client.healthCheck()).chunk_count).toBe(all.length);
      await restart();
    }
  });

  it('keeps ALREADY_EXISTS semantics: the same content again succeeds, other content is refused, across both kinds', async () => {
    const record = { id: randomUUID(), data: randomBytes(8 * KiB) };
    const file = { id: randomUUID(), data: randomBytes(8 * KiB) };
    await putSmall(record.id, record.data);
    await putUnsized(file.id, file.data);
    for (const { id, data } of [record, file]) {
      await expect(putSmall(id, data)).resolves.toMatchObject({ success: true });
      await expect(client.putChunkBuffer(id, data)).resolves.toMatchObject({ success: true });
      await expect(putUnsized(id, data)).resolves.toMatchObject({ success: true });
      const other = randomBytes(data.length);
      expect(await codeOf(putSmall(id, other))).toBe(grpc.status.ALREADY_EXISTS);
      expect(await codeOf(putUnsized(id, other))).toBe(grpc.status.ALREADY_EXISTS);
      // A put checked by SHA-256 up front is compared before its data is sent.
      const sha = createHash('sha256').update(data).digest('hex');
      const same = client.putChunk(id, sha, data.length);
      await same.write(data);
      await expect(same.end()).resolves.toMatchObject({ success: true });
      expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
    }
    // Racing puts of one new id: one record, every racer told it is stored.
    const raced = { id: randomUUID(), data: randomBytes(4 * KiB) };
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, n) => (n % 2 ? putSmall(raced.id, raced.data) : client.putChunkBuffer(raced.id, raced.data))));
    expect(outcomes).toEqual(Array(8).fill(expect.objectContaining({ success: true })));
    expect((await listed()).filter((info) => info.chunk_id === raced.id)).toHaveLength(1);
  });

  it('finds a damaged byte of a record: reads end with DATA_LOSS, verify names the block (or -1 for the footer)', async () => {
    const chunks = [0, 1].map(() => ({ id: randomUUID(), data: randomBytes(20 * KiB) }));
    for (const { id, data } of chunks) await putSmall(id, data);
    await xorChunkByte(dataDir, chunks[0].id, 12_345, 0x01);
    await xorChunkByte(dataDir, chunks[1].id, 20 * KiB + 4 + 30); // inside the footer
    for (const { id } of chunks) {
      expect(await codeOf(client.getChunkBuffer(id))).toBe(grpc.status.DATA_LOSS);
      expect(await codeOf(client.readChunk(id, { offset: 0, length: 10 }))).toBe(grpc.status.DATA_LOSS);
    }
    expect(await client.verifyChunk(chunks[0].id)).toMatchObject({ ok: false, corrupt_block: 0 });
    expect(await client.verifyChunk(chunks[1].id)).toMatchObject({ ok: false, corrupt_block: -1 });
    await xorChunkByte(dataDir, chunks[0].id, 12_345, 0x01);
    await xorChunkByte(dataDir, chunks[1].id, 20 * KiB + 4 + 30);
    for (const { id } of chunks) expect(await client.verifyChunk(id)).toMatchObject({ ok: true });
  });

  it('finds a damaged byte in a record\'s header, which reads never look at but the next start would skip the record for', async () => {
    const chunk = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await putSmall(chunk.id, chunk.data);
    const where = (await chunkOnDisk(dataDir, chunk.id))!;
    // A byte of the record's sequence number, before the chunk's bytes (found once: a scan skips the record after).
    const flipSequenceByte = async (): Promise<void> => {
      const handle = await fs.open(where.file, 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, where.offset - RECORD_HEADER_BYTES + 30);
      byte[0] ^= 0x01;
      await handle.write(byte, 0, 1, where.offset - RECORD_HEADER_BYTES + 30);
      await handle.close();
    };
    await flipSequenceByte();
    expect((await client.getChunkBuffer(chunk.id)).equals(chunk.data)).toBe(true);
    expect(await client.verifyChunk(chunk.id)).toMatchObject({ ok: false, corrupt_block: -1 });
    await flipSequenceByte();
    expect(await client.verifyChunk(chunk.id)).toMatchObject({ ok: true });
  });

  it('keeps a deleted record deleted after a restart, and counts and lists it no more', async () => {
    const kept = { id: randomUUID(), data: randomBytes(4 * KiB) };
    const gone = { id: randomUUID(), data: randomBytes(4 * KiB) };
    for (const { id, data } of [kept, gone]) await putSmall(id, data);
    const count = (await client.healthCheck()).chunk_count;
    await client.deleteChunk(gone.id);
    expect(await codeOf(client.getChunkBuffer(gone.id))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client.deleteChunk(gone.id))).toBe(grpc.status.NOT_FOUND);
    await restart();
    expect(await codeOf(client.getChunkBuffer(gone.id))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client.verifyChunk(gone.id))).toBe(grpc.status.NOT_FOUND);
    expect((await listed()).map((info) => info.chunk_id)).not.toContain(gone.id);
    expect((await client.healthCheck()).chunk_count).toBe(count - 1);
    expect((await client.getChunkBuffer(kept.id)).equals(kept.data)).toBe(true);
    // Put again after its delete: stored again, and so after a restart.
    await putSmall(gone.id, gone.data);
    await restart();
    expect((await client.getChunkBuffer(gone.id)).equals(gone.data)).toBe(true);
    expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });
});
