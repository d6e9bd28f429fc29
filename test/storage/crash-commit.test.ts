import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import * as grpc from '@grpc/grpc-js';
import { codeOf, makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { volumeRecords } from '../helpers/chunk-on-disk';
import { waitFor } from '../helpers/wait';

const KiB = 1024;
const WRITERS = 32;
const KILLS = 3;

/**
 * kill -9 of a storage server while 32 writers put chunks (group commit is batching them), half
 * of them as small puts: as ops of one SmallChunkOps stream (as the gateway sends small chunks)
 * and through PutSmallChunks (several chunks per call, as it sends them to a server without
 * SmallChunkOps); some delete chunks they stored: most chunks are small, so they are records appended to
 * volume files in batches, the rest chunk files. Every acknowledged chunk must come back
 * byte-exact after a restart, every acknowledged delete must stay deleted, and every chunk the
 * restarted server holds must be one that was sent, whole and verified (a put cut by the kill
 * may be there or not, never partly).
 */
describe('storage server killed -9 during group commit', () => {
  let dataDir: string;
  let server: SpawnedStorageServer;

  beforeAll(async () => {
    dataDir = path.join(await makeTempDir('ringstore-crash-commit-'), 'data');
  });

  afterAll(async () => {
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  const start = (port = 0) => spawnStorageServer(dataDir, { port, env: { LOG_LEVEL: 'debug' } });

  it('loses no acknowledged chunk and shows no partial one', async () => {
    const sent = new Map<string, Buffer>();
    const acked = new Set<string>();
    const deleted = new Set<string>();
    server = await start();
    const port = server.port;
    for (let kill = 0; kill < KILLS; kill += 1) {
      const client = StorageClient.connect(server.address, { callTimeoutMs: 10_000 });
      const batchingClient = StorageClient.connect(server.address, { callTimeoutMs: 10_000, avoidRpcs: ['SmallChunkOps'] });
      let stop = false;
      const writers = Array.from({ length: WRITERS }, async (_, writer) => {
        for (let n = 0; !stop; n += 1) {
          const id = randomUUID();
          // Mostly small chunks (the group commit case), some over a block.
          const data = randomBytes(writer % 8 === 0 ? 1024 * KiB + n : 4 * KiB + ((n * 997) % (60 * KiB)));
          sent.set(id, data);
          try {
            if (writer % 2 === 1) {
              const small = (writer % 4 === 1 ? client : batchingClient).putSmallChunk(id, data.length);
              await small.write(encodePutData([data]));
              await small.end();
            } else {
              await client.putChunkBuffer(id, data);
            }
            acked.add(id);
            // Every fourth writer deletes every third chunk it stored, once stored.
            if (writer % 4 === 3 && n % 3 === 0) {
              acked.delete(id);
              await client.deleteChunk(id);
              deleted.add(id);
            }
          } catch {
            stop = true; // the server is gone
          }
        }
      });
      const ackedBefore = acked.size;
      // Kill only once batches of several chunks are being committed (and PutSmallChunks calls
      // carry several chunks) and puts are in flight.
      const batchesBefore = server.process.lines.length;
      const seen = (event: string, chunks: number) => server.process.lines.slice(batchesBefore).some((line) => line.event === event && Number(line.chunks) >= chunks);
      await waitFor(() => seen('group_commit', 4) && seen('small_chunks_stored', 2) && acked.size >= ackedBefore + 50,
        { timeoutMs: 60_000, what: 'batched commits under load' });
      await server.process.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);
      client.close();
      batchingClient.close();
      server = await start(port);
    }

    const client = StorageClient.connect(server.address, { callTimeoutMs: 30_000 });
    try {
      expect(acked.size).toBeGreaterThan(150);
      expect(deleted.size).toBeGreaterThan(5);
      expect((await volumeRecords(dataDir)).size).toBeGreaterThan(100);
      for (const id of acked) expect((await client.getChunkBuffer(id)).equals(sent.get(id)!)).toBe(true);
      for (const id of deleted) expect(await codeOf(client.getChunkBuffer(id))).toBe(grpc.status.NOT_FOUND);
      const held = [];
      for await (const info of client.listChunks()) held.push(info);
      for (const info of held) {
        const data = sent.get(info.chunk_id);
        expect(data).toBeDefined();
        expect(info.size).toBe(data!.length);
        expect(await client.verifyChunk(info.chunk_id)).toMatchObject({ ok: true });
        expect((await client.getChunkBuffer(info.chunk_id)).equals(data!)).toBe(true);
      }
      expect(held.length).toBeGreaterThanOrEqual(acked.size);
      expect(held.filter((info) => deleted.has(info.chunk_id))).toEqual([]);
      expect(await fs.readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    } finally {
      client.close();
    }
  }, 240_000);
});
