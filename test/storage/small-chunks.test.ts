import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import { codeOf, listTree, makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { chunkOnDisk } from '../helpers/chunk-on-disk';
import { corruptMessage, putSmall } from '../helpers/small-chunks';

const KiB = 1024;

describe('PutSmallChunks: several whole chunks in one call', () => {
  let server: SpawnedStorageServer;
  let client: StorageClient;

  beforeAll(async () => {
    server = await spawnStorageServer(path.join(await makeTempDir('ringstore-small-chunks-'), 'data'), { env: { LOG_LEVEL: 'debug' } });
    // PutSmallChunks is what a gateway sends a server without SmallChunkOps.
    client = StorageClient.connect(server.address, { avoidRpcs: ['SmallChunkOps'] });
  });

  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('stores the puts that end together in one call, each durable, listed and read back byte-exact', async () => {
    const chunks = [0, 1, 4 * KiB, 200 * KiB].map((size) => ({ id: randomUUID(), data: randomBytes(size) }));
    const logged = server.process.lines.length;
    const results = await Promise.all(chunks.map(({ id, data }) => putSmall(client, id, encodePutData([data]))));
    expect(results).toEqual(chunks.map(({ id, data }) => ({ chunk_id: id, success: true, error_message: '', crc32: crc32(data) })));
    const calls = await waitFor(() => {
      const stored = server.process.lines.slice(logged).filter((line) => line.event === 'small_chunks_stored');
      return stored.length > 0 ? stored : undefined;
    }, { timeoutMs: 10_000, what: 'the small_chunks_stored log line' });
    expect(calls.map((line) => line.chunks)).toEqual([chunks.length]);

    const listed = new Map<string, number>();
    for await (const info of client.listChunks()) listed.set(info.chunk_id, info.size);
    for (const { id, data } of chunks) {
      expect(listed.get(id)).toBe(data.length);
      expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
      expect(await client.verifyChunk(id)).toMatchObject({ ok: true });
    }
  });

  it('fails a chunk whose data does not match its CRC-32 (DATA_LOSS) or whose id is bad (INVALID_ARGUMENT) alone, keeping nothing of it', async () => {
    const good = { id: randomUUID(), data: randomBytes(8 * KiB) };
    const corruptId = randomUUID();
    const [stored, corrupt, badId] = await Promise.allSettled([
      putSmall(client, good.id, encodePutData([good.data])),
      putSmall(client, corruptId, corruptMessage(randomBytes(8 * KiB))),
      putSmall(client, '../../escape', encodePutData([randomBytes(KiB)])),
    ]);
    expect(stored.status).toBe('fulfilled');
    expect(await codeOf(corrupt.status === 'rejected' ? Promise.reject(corrupt.reason) : Promise.resolve())).toBe(grpc.status.DATA_LOSS);
    expect(await codeOf(badId.status === 'rejected' ? Promise.reject(badId.reason) : Promise.resolve())).toBe(grpc.status.INVALID_ARGUMENT);

    expect(await chunkOnDisk(server.dataDir, good.id)).toBeDefined();
    expect(await chunkOnDisk(server.dataDir, corruptId)).toBeUndefined();
    expect(await listTree(path.join(server.dataDir, 'tmp'))).toEqual([]);
    expect(await codeOf(client.getChunkBuffer(corruptId))).toBe(grpc.status.NOT_FOUND);
  });

  it('refuses, without sending anything, a chunk whose data is not the size announced', async () => {
    const writer = client.putSmallChunk(randomUUID(), 10);
    await writer.write(encodePutData([randomBytes(11)]));
    expect(await codeOf(writer.end())).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('fails every put of a call the server never answers with the call status', async () => {
    const unreachable = StorageClient.connect('127.0.0.1:1', { callTimeoutMs: 2_000 });
    try {
      const outcomes = await Promise.all([1, 2].map(() => codeOf(putSmall(unreachable, randomUUID(), encodePutData([randomBytes(KiB)])))));
      expect(outcomes).toEqual([grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE]);
    } finally {
      unreachable.close();
    }
  });
});
