import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { chunkOnDisk, xorChunkByte } from '../helpers/chunk-on-disk';
import { RingstoreProcess } from '../helpers/process';
import { corruptMessage, putSmall } from '../helpers/small-chunks';
import { codeOf, listTree, makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { storageServiceDefinition, type SmallChunkOpResult, type SmallChunkOpResults } from '../../src/wire/storage-service';

const KiB = 1024;

/** A client to `server` that counts the calls it starts, by method. */
function countingClient(server: SpawnedStorageServer): { client: StorageClient; started: string[] } {
  const started: string[] = [];
  const count: grpc.Interceptor = (options, nextCall) => {
    started.push(options.method_definition.path.split('/').pop()!);
    return new grpc.InterceptingCall(nextCall(options));
  };
  return { client: StorageClient.connect(server.address, { channelOptions: { interceptors: [count] } }), started };
}

describe('SmallChunkOps: small puts and reads on one stream to a real storage server', () => {
  const clients: StorageClient[] = [];

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  const spawn = async (name: string, env: Record<string, string> = {}, port?: number, dataDir?: string) =>
    spawnStorageServer(dataDir ?? path.join(await makeTempDir(`ringstore-small-ops-${name}-`), 'data'), { env, port });

  it('carries many puts and reads in one call, each answered alone: stored durably and byte-exact, a corrupt or missing one failing by itself', async () => {
    const server = await spawn('many');
    const { client, started } = countingClient(server);
    clients.push(client);
    const chunks = [0, 1, 4 * KiB, 64 * KiB, 900 * KiB, ...Array.from({ length: 30 }, () => 4 * KiB)].map((size) => ({ id: randomUUID(), data: randomBytes(size) }));
    const corruptId = randomUUID();
    const outcomes = await Promise.allSettled([
      ...chunks.map(({ id, data }) => putSmall(client, id, encodePutData([data]))),
      putSmall(client, corruptId, corruptMessage(randomBytes(8 * KiB))),
    ]);
    expect(outcomes.slice(0, -1).map((outcome) => outcome.status)).toEqual(chunks.map(() => 'fulfilled'));
    expect(await codeOf(Promise.all(outcomes.slice(-1).map((outcome) => (outcome.status === 'rejected' ? Promise.reject(outcome.reason) : outcome.value))))).toBe(grpc.status.DATA_LOSS);
    expect(await chunkOnDisk(server.dataDir, corruptId)).toBeUndefined();
    expect(await listTree(path.join(server.dataDir, 'tmp'))).toEqual([]);

    const damaged = chunks[2];
    await xorChunkByte(server.dataDir, damaged.id, 10, 0x01);
    const reads = chunks.map(({ id, data }) => client.readChunk(id, { offset: 0, length: data.length }));
    const [missing, corrupt] = await Promise.all([codeOf(client.readChunk(randomUUID(), { offset: 0, length: 10 })), codeOf(reads[2])]);
    expect([missing, corrupt]).toEqual([grpc.status.NOT_FOUND, grpc.status.DATA_LOSS]);
    const served = await Promise.all(reads.filter((_, n) => n !== 2));
    served.forEach((bytes, n) => expect(bytes.equals(chunks.filter((_, m) => m !== 2)[n].data)).toBe(true));
    expect(started).toEqual(['SmallChunkOps']);
  });

  it('answers many large reads asked together in messages a client with default limits takes (4 MiB)', async () => {
    const server = await spawn('large-reads');
    const client = StorageClient.connect(server.address);
    clients.push(client);
    // Volume records, each read by one synchronous pread: their answers are ready in the same turn.
    const chunks = Array.from({ length: 30 }, () => ({ id: randomUUID(), data: randomBytes(200 * KiB) }));
    for (const { id, data } of chunks) await client.putChunkBuffer(id, data);
    const reads = await Promise.all(chunks.map(({ id, data }) => client.readChunk(id, { offset: 0, length: data.length })));
    reads.forEach((bytes, n) => expect(bytes.equals(chunks[n].data)).toBe(true));
  });

  it('refuses each op of a message carrying more than 256, and goes on serving the stream, pausing it while 256 ops run', async () => {
    const server = await spawn('too-many');
    const client = StorageClient.connect(server.address);
    clients.push(client);
    const stored = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await client.putChunkBuffer(stored.id, stored.data);
    const method = storageServiceDefinition.SmallChunkOps;
    const call = client.grpcClient.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), {});
    const answers = new Map<number, SmallChunkOpResult>();
    call.on('data', ({ results }: SmallChunkOpResults) => results.forEach((result) => answers.set(result.tag, result)));
    const read = { chunk_id: stored.id, offset: 0, length: stored.data.length };
    call.write({ ops: Array.from({ length: 300 }, (_, tag) => ({ tag, read })) });
    await waitFor(() => answers.size === 300 || undefined, { what: '300 answers' });
    expect(new Set([...answers.values()].map((answer) => answer.code))).toEqual(new Set([grpc.status.INVALID_ARGUMENT]));
    expect(answers.get(0)!.error_message).toMatch(/at most 256 ops, this one 300/);
    call.write({ ops: [{ tag: 1000, read }] });
    const served = await waitFor(() => answers.get(1000), { what: 'the answer to a lawful message' });
    expect(served.code).toBe(grpc.status.OK);
    expect(served.data.equals(stored.data)).toBe(true);
    // 600 ops in three messages: past 256 running the stream is paused, then read on as they are answered.
    for (let message = 0; message < 3; message += 1) call.write({ ops: Array.from({ length: 200 }, (_, n) => ({ tag: 2000 + message * 200 + n, read })) });
    await waitFor(() => answers.size === 301 + 600 || undefined, { what: '600 more answers' });
    expect([...answers.entries()].filter(([tag, answer]) => tag >= 2000 && answer.code !== grpc.status.OK)).toEqual([]);
    // Ended by this side with nothing running, the server ends it too.
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.end();
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('fails the ops a SIGSTOPped server holds at their own deadline, and serves new ones once it runs again', async () => {
    const server = await spawn('stopped');
    const { client } = countingClient(server);
    clients.push(client);
    const before = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await putSmall(client, before.id, encodePutData([before.data]));
    server.process.signal('SIGSTOP');
    try {
      const held = [putSmall(client, randomUUID(), encodePutData([randomBytes(4 * KiB)]), 300), client.readChunk(before.id, { offset: 0, length: 4 * KiB }, { deadlineMs: 300 })];
      expect(await Promise.all(held.map(codeOf))).toEqual([grpc.status.DEADLINE_EXCEEDED, grpc.status.DEADLINE_EXCEEDED]);
    } finally {
      server.process.signal('SIGCONT');
    }
    const after = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await putSmall(client, after.id, encodePutData([after.data]));
    for (const { id, data } of [before, after]) expect((await client.readChunk(id, { offset: 0, length: data.length })).equals(data)).toBe(true);
  });

  it('lets a storage server stop while a gateway keeps a stream to it busy: the server ends the stream, it does not wait it out', async () => {
    const server = await spawn('graceful', { SHUTDOWN_GRACE_MS: '60000' });
    const { client } = countingClient(server);
    clients.push(client);
    const stored = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await putSmall(client, stored.id, encodePutData([stored.data]));
    // Reads one after another: the stream is never idle, so only the server can end it.
    let stopped = false;
    const outcomes: string[] = [];
    const reader = (async () => {
      while (!stopped) {
        outcomes.push(await client.readChunk(stored.id, { offset: 0, length: 4 * KiB }).then((data) => (data.equals(stored.data) ? 'read' : 'wrong bytes'), (error: grpc.ServiceError) => grpc.status[error.code]));
      }
    })();
    let line;
    try {
      await waitFor(() => outcomes.length >= 20 || undefined, { what: 'reads flowing' });
      server.process.signal('SIGTERM');
      line = await server.process.waitForLine((l) => l.event === 'state' && l.to === 'stopped', 20_000, 'the server stopped, well within its 60 s grace');
    } finally {
      stopped = true;
      await reader;
    }
    expect(line.message).toMatch(/every call finished/);
    expect(new Set(outcomes)).toEqual(new Set(['read', 'UNAVAILABLE']));
  });

  it('fails the ops out on a server killed -9 with UNAVAILABLE, keeps what it acknowledged, and opens a new stream to it once restarted', async () => {
    const dataDir = path.join(await makeTempDir('ringstore-small-ops-killed-'), 'data');
    const server = await spawn('killed', {}, undefined, dataDir);
    const { client, started } = countingClient(server);
    clients.push(client);
    const acknowledged: Array<{ id: string; data: Buffer }> = [];
    let killed = false;
    const writer = async (): Promise<number[]> => {
      const codes: number[] = [];
      while (!killed || codes.length === 0) {
        const chunk = { id: randomUUID(), data: randomBytes(4 * KiB) };
        try {
          await putSmall(client, chunk.id, encodePutData([chunk.data]), 10_000);
          acknowledged.push(chunk);
        } catch (error) {
          codes.push((error as grpc.ServiceError).code);
          if (!killed) throw error;
        }
      }
      return codes;
    };
    const writers = Array.from({ length: 8 }, writer);
    await waitFor(() => acknowledged.length >= 200 || undefined, { timeoutMs: 20_000, what: '200 acknowledged puts' });
    killed = true;
    await server.process.kill('SIGKILL');
    const failures = (await Promise.all(writers)).flat();
    expect(new Set(failures)).toEqual(new Set([grpc.status.UNAVAILABLE]));

    await spawn('killed', {}, server.port, dataDir);
    const again = { id: randomUUID(), data: randomBytes(4 * KiB) };
    await waitFor(async () => (await putSmall(client, again.id, encodePutData([again.data])).then(() => true, () => undefined)), { timeoutMs: 20_000, what: 'a put to the restarted server' });
    for (const { id, data } of [...acknowledged, again]) expect((await client.readChunk(id, { offset: 0, length: data.length })).equals(data)).toBe(true);
    expect(started.filter((method) => method === 'SmallChunkOps').length).toBeGreaterThanOrEqual(2);
  });
});
