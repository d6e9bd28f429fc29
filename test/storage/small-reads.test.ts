import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ChunkRecord } from '../../src/metadata/types';
import { CallOutcomes } from '../../src/replicas/call-outcome';
import { readChunk, type ChunkReadDeps } from '../../src/replicas/chunk-read';
import { StorageClient } from '../../src/rpc/storage-client';
import { createLogger } from '../../src/util/logger';
import { xorChunkByte } from '../helpers/chunk-on-disk';
import { RingstoreProcess } from '../helpers/process';
import { codeOf, makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

const KiB = 1024;

/** The `chunks` of each small_chunks_read line a server logged after line `from`: one per ReadSmallChunks call. */
async function readCalls(server: SpawnedStorageServer, from: number, reads: number): Promise<number[]> {
  return waitFor(() => {
    const calls = server.process.lines.slice(from).filter((line) => line.event === 'small_chunks_read').map((line) => line.chunks as number);
    return calls.reduce((sum, n) => sum + n, 0) >= reads ? calls : undefined;
  }, { timeoutMs: 10_000, what: `small_chunks_read lines for ${reads} reads` });
}

describe('ReadSmallChunks: concurrent small reads to one server share a call', () => {
  const servers: SpawnedStorageServer[] = [];
  const clients: StorageClient[] = [];

  beforeAll(async () => {
    for (const name of ['a', 'b']) {
      const server = await spawnStorageServer(path.join(await makeTempDir(`ringstore-small-reads-${name}-`), 'data'), { env: { LOG_LEVEL: 'debug' } });
      servers.push(server);
      clients.push(StorageClient.connect(server.address, { avoidRpcs: ['SmallChunkOps'] }));
    }
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('sends the reads asked together in one call and answers each with its own bytes, a missing or corrupt chunk failing alone', async () => {
    const [server] = servers;
    const [client] = clients;
    const chunks = [1, 4 * KiB, 64 * KiB, 300 * KiB].map((size) => ({ id: randomUUID(), data: randomBytes(size) }));
    for (const { id, data } of chunks) await client.putChunkBuffer(id, data);
    const corrupt = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await client.putChunkBuffer(corrupt.id, corrupt.data);
    await xorChunkByte(server.dataDir, corrupt.id, 100, 0x01);

    const logged = server.process.lines.length;
    const reads = [
      ...chunks.map(({ id, data }) => client.readChunk(id, { offset: 0, length: data.length })),
      client.readChunk(chunks[3].id, { offset: 1000, length: 64 * KiB }),
      client.readChunk(randomUUID(), { offset: 0, length: 10 }),
      client.readChunk(corrupt.id, { offset: 0, length: 10 }),
    ];
    const [missing, damaged] = await Promise.all(reads.slice(-2).map(codeOf));
    expect([missing, damaged]).toEqual([grpc.status.NOT_FOUND, grpc.status.DATA_LOSS]);
    const served = await Promise.all(reads.slice(0, -2));
    served.slice(0, chunks.length).forEach((bytes, n) => expect(bytes.equals(chunks[n].data)).toBe(true));
    expect(served[chunks.length].equals(chunks[3].data.subarray(1000, 1000 + 64 * KiB))).toBe(true);
    expect(await readCalls(server, logged, reads.length)).toEqual([reads.length]);
  });

  it('sends a lone read at once, and the reads asked one by one while its call is outstanding together in the next call', async () => {
    const [server] = servers;
    const [client] = clients;
    const chunks = Array.from({ length: 6 }, () => ({ id: randomUUID(), data: randomBytes(4 * KiB) }));
    for (const { id, data } of chunks) await client.putChunkBuffer(id, data);
    const logged = server.process.lines.length;
    const read = ({ id, data }: { id: string; data: Buffer }) => client.readChunk(id, { offset: 0, length: data.length });
    // The server stopped holds the first call out while the others are asked, each in a turn of its own.
    process.kill(server.process.pid, 'SIGSTOP');
    const pending: Array<Promise<Buffer>> = [];
    try {
      for (const chunk of chunks) {
        pending.push(read(chunk));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      process.kill(server.process.pid, 'SIGCONT');
    }
    const all = await Promise.all(pending);
    all.forEach((bytes, n) => expect(bytes.equals(chunks[n].data)).toBe(true));
    // The lone read went as a ReadChunk call (not logged), the others in one ReadSmallChunks call.
    expect(await readCalls(server, logged, chunks.length - 1)).toEqual([chunks.length - 1]);
  });

  it("falls through to the next replica for the chunk a batch lacks, while the batch's other reads are served", async () => {
    const [first, second] = clients;
    const present = Array.from({ length: 3 }, () => ({ id: randomUUID(), data: randomBytes(4 * KiB) }));
    const lost = { id: randomUUID(), data: randomBytes(4 * KiB) };
    for (const { id, data } of present) await first.putChunkBuffer(id, data);
    for (const { id, data } of [...present, lost]) await second.putChunkBuffer(id, data);

    const calls: string[] = [];
    const bad: string[] = [];
    const byId: Record<string, StorageClient> = { a: first, b: second };
    const deps: ChunkReadDeps = {
      supervisor: { getClient: async (id) => byId[id], isAvailable: () => true },
      outcomes: new CallOutcomes({ recordSuccess: (id) => calls.push(`${id} ok`), recordFailure: (id) => calls.push(`${id} failed`) }),
      log: createLogger('test'),
      streamIdleTimeoutMs: 30_000,
      onBadReplica: (chunkId, serverId, problem) => bad.push(`${chunkId} ${serverId} ${problem}`),
    };
    const record = ({ id, data }: { id: string; data: Buffer }): ChunkRecord => ({
      chunkId: id,
      chunkNumber: 0,
      offset: 0,
      size: data.length,
      checksum: '',
      replicas: [{ serverId: 'a', status: 'stored' }, { serverId: 'b', status: 'stored' }],
    } as ChunkRecord);
    const readAll = async (chunk: { id: string; data: Buffer }) => {
      const pieces: Buffer[] = [];
      for await (const piece of readChunk(record(chunk), 0, chunk.data.length, deps)) pieces.push(piece);
      return Buffer.concat(pieces);
    };
    const logged = servers[0].process.lines.length;
    const all = [...present, lost];
    const bytes = await Promise.all(all.map(readAll));
    bytes.forEach((read, n) => expect(read.equals(all[n].data)).toBe(true));
    expect(await readCalls(servers[0], logged, all.length)).toEqual([all.length]);
    expect(bad).toEqual([`${lost.id} a missing`]);
    expect(calls.filter((call) => call.startsWith('b'))).toEqual(['b ok']);
  });
});
