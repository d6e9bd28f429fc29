import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { StorageClient } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';

const MiB = 1024 * 1024;

async function failureOf(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => { throw new Error('expected the call to fail'); },
    (error: grpc.ServiceError) => error,
  );
}

describe('StorageClient deadlines, idle watchdog and cancellation', () => {
  let server: SpawnedStorageServer;
  let client: StorageClient;
  const stored = { id: randomUUID(), data: randomBytes(3 * MiB) };

  beforeAll(async () => {
    server = await spawnStorageServer(await makeTempDir('ringstore-client-'));
    client = StorageClient.connect(server.address);
    await client.putChunkBuffer(stored.id, stored.data);
  });

  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('cuts a stream from a server that stopped answering, and a unary call at its deadline', async () => {
    server.process.signal('SIGSTOP');
    try {
      const stalledGet = await failureOf(client.getChunkBuffer(stored.id, {}, { idleTimeoutMs: 300 }));
      expect(stalledGet.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(stalledGet.details).toMatch(/sent nothing for 300 ms/);

      const stalledPut = client.putChunk(randomUUID(), createHash('sha256').update(stored.data).digest('hex'), stored.data.length, { idleTimeoutMs: 300 });
      // Writes are accepted into the call's buffers until backpressure; the server never drains them.
      const putFailure = await failureOf((async () => {
        for (let i = 0; i < 64; i += 1) await stalledPut.write(stored.data.subarray(0, MiB));
        return stalledPut.end();
      })());
      expect(putFailure.code).toBe(grpc.status.DEADLINE_EXCEEDED);

      expect((await failureOf(client.healthCheck({ deadlineMs: 300 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      server.process.signal('SIGCONT');
    }
    expect((await client.healthCheck()).status).toBe('healthy');
  });

  it('cancels calls through an AbortSignal with CANCELLED', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user went away'));
    const unary = await failureOf(client.healthCheck({ signal: controller.signal }));
    expect(unary.code).toBe(grpc.status.CANCELLED);
    expect(unary.details).toMatch(/user went away/);
    expect((await failureOf(client.getChunkBuffer(stored.id, {}, { signal: controller.signal }))).code).toBe(grpc.status.CANCELLED);
  });

  it('streams frames of at most 1 MiB, and the channel stays usable after a reader stops early', async () => {
    const stream = client.getChunk(stored.id);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.length).toBeLessThanOrEqual(MiB);
    stream.destroy();
    // The channel stays usable after the early cancel.
    expect((await client.getChunkBuffer(stored.id, { offset: MiB, length: 10 })).equals(stored.data.subarray(MiB, MiB + 10))).toBe(true);
  });
});

describe('PutChunk with the checksum in the last message (hash-while-streaming writers)', () => {
  let client: StorageClient;

  beforeAll(async () => {
    const server = await spawnStorageServer(await makeTempDir('ringstore-trailing-'));
    client = StorageClient.connect(server.address);
  });

  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  async function putTrailing(id: string, data: Buffer, checksum: string | undefined) {
    const writer = client.putChunk(id, '', data.length);
    await writer.write(data);
    return writer.end(checksum);
  }

  it('stores the chunk when the trailing checksum matches, idempotently', async () => {
    const id = randomUUID();
    const data = randomBytes(2 * MiB + 3);
    expect((await putTrailing(id, data, sha(data))).success).toBe(true);
    expect((await putTrailing(id, data, sha(data))).success).toBe(true);
    expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
  });

  it('refuses a wrong or missing trailing checksum and keeps nothing', async () => {
    const data = randomBytes(1000);
    const wrong = randomUUID();
    expect((await failureOf(putTrailing(wrong, data, sha(Buffer.from('other'))))).code).toBe(grpc.status.DATA_LOSS);
    expect((await failureOf(client.getChunkBuffer(wrong))).code).toBe(grpc.status.NOT_FOUND);
    const missing = randomUUID();
    expect((await failureOf(putTrailing(missing, data, undefined))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await failureOf(client.getChunkBuffer(missing))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('refuses different content under an existing id with ALREADY_EXISTS', async () => {
    const id = randomUUID();
    const data = randomBytes(5000);
    await putTrailing(id, data, sha(data));
    const other = randomBytes(5000);
    expect((await failureOf(putTrailing(id, other, sha(other)))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
  });
});
