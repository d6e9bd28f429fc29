import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { crc32 } from 'node:zlib';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { ChunkStore } from '../../src/storage/chunk-store';
import { createStorageHandlers } from '../../src/storage/storage-handlers';
import { createLogger } from '../../src/util/logger';
import { crc32Checksum } from '../../src/wire/crc32';
import { framePool } from '../../src/wire/frame-pool';
import { storageServerDefinition } from '../../src/wire/storage-service';
import { makeTempDir, removeTempDirs, storageServerForTests } from '../helpers/storage-server';

const MiB = 1024 * 1024;

async function failureOf(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  return promise.then(
    () => { throw new Error('expected the call to fail'); },
    (error: grpc.ServiceError) => error,
  );
}

describe('StorageClient deadlines, idle watchdog and cancellation', () => {
  const stored = { id: randomUUID(), data: randomBytes(3 * MiB) };
  const { server, client } = storageServerForTests('ringstore-client-', { putFirst: stored });

  it('cuts a stream from a server that stopped answering, and a unary call at its deadline', async () => {
    server().process.signal('SIGSTOP');
    try {
      const stalledGet = await failureOf(client().getChunkBuffer(stored.id, {}, { idleTimeoutMs: 300 }));
      expect(stalledGet.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(stalledGet.details).toMatch(/sent nothing for 300 ms/);

      const stalledPut = client().putChunk(randomUUID(), createHash('sha256').update(stored.data).digest('hex'), stored.data.length, { idleTimeoutMs: 300 });
      // Writes are accepted into the call's buffers until backpressure; the server never drains them.
      const putFailure = await failureOf((async () => {
        for (let i = 0; i < 64; i += 1) await stalledPut.write(stored.data.subarray(0, MiB));
        return stalledPut.end();
      })());
      expect(putFailure.code).toBe(grpc.status.DEADLINE_EXCEEDED);

      expect((await failureOf(client().healthCheck({ deadlineMs: 300 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      server().process.signal('SIGCONT');
    }
    expect((await client().healthCheck()).status).toBe('healthy');
  });

  it('cancels calls through an AbortSignal with CANCELLED', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user went away'));
    const unary = await failureOf(client().healthCheck({ signal: controller.signal }));
    expect(unary.code).toBe(grpc.status.CANCELLED);
    expect(unary.details).toMatch(/user went away/);
    expect((await failureOf(client().getChunkBuffer(stored.id, {}, { signal: controller.signal }))).code).toBe(grpc.status.CANCELLED);
  });

  it('streams frames of at most 1 MiB, and the channel stays usable after a reader stops early', async () => {
    const stream = client().getChunk(stored.id);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.length).toBeLessThanOrEqual(MiB);
    stream.destroy();
    // The channel stays usable after the early cancel.
    expect((await client().getChunkBuffer(stored.id, { offset: MiB, length: 10 })).equals(stored.data.subarray(MiB, MiB + 10))).toBe(true);
  });
});

describe('StorageClient.putChunk: CRC-32 checked end to end', () => {
  const { client } = storageServerForTests('ringstore-crc-client-');

  /** Written in uneven pieces, half of them pre-encoded (as an upload sends them). */
  async function put(id: string, data: Buffer, expected = '') {
    const writer = client().putChunk(id, expected, data.length);
    let half = true;
    for (let offset = 0; offset < data.length; offset += 700_000, half = !half) {
      const piece = data.subarray(offset, offset + 700_000);
      await writer.write(half ? encodePutData([piece]) : piece);
    }
    return writer.end();
  }

  it('resolves with the CRC-32 of the bytes the server verified and stored, idempotently', async () => {
    const id = randomUUID();
    const data = randomBytes(2 * MiB + 3);
    expect(await put(id, data)).toMatchObject({ success: true, crc32: crc32(data) });
    expect(await put(id, data)).toMatchObject({ success: true, crc32: crc32(data) });
    expect((await client().getChunkBuffer(id)).equals(data)).toBe(true);
    const listed = [];
    for await (const info of client().listChunks()) listed.push(info);
    expect(listed).toEqual([expect.objectContaining({ chunk_id: id, checksum: crc32Checksum(crc32(data)) })]);
  });

  it('with an expected crc32: checksum (a copy), stores only bytes that match it', async () => {
    const data = randomBytes(1000);
    const copy = randomUUID();
    expect((await put(copy, data, crc32Checksum(crc32(data)))).success).toBe(true);
    const wrong = randomUUID();
    expect((await failureOf(put(wrong, data, crc32Checksum(crc32(data) ^ 1)))).code).toBe(grpc.status.DATA_LOSS);
    expect((await failureOf(client().getChunkBuffer(wrong))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('reuses pooled upload frames sent to several calls without changing a byte in flight, and gets them all back', async () => {
    // 600 KiB frames: from the pool, and small enough for grpc-js's default retry buffer (see
    // POOLED_SEND_CHANNEL_OPTIONS). A frame given back before both calls wrote it out would be
    // refilled by the next one (the pool lends the last frame returned) while its bytes are
    // still on their way, and the servers would refuse the chunks (DATA_LOSS).
    const frameBytes = 600 * 1024;
    const data = randomBytes(12 * frameBytes);
    const ids = [randomUUID(), randomUUID()];
    const writers = ids.map((id) => client().putChunk(id, '', data.length));
    const sent = [];
    for (let offset = 0; offset < data.length; offset += frameBytes) {
      const message = encodePutData([data.subarray(offset, offset + frameBytes)]);
      expect(framePool.owns(message.bytes)).toBe(true);
      await Promise.all(writers.map((writer) => writer.write(message)));
      message.release(); // this side is done with it: the calls hold it until they wrote it
      sent.push(message);
    }
    for (const writer of writers) expect(await writer.end()).toMatchObject({ success: true, crc32: crc32(data) });
    for (const id of ids) expect((await client().getChunkBuffer(id)).equals(data)).toBe(true);
    expect(sent.filter((message) => framePool.owns(message.bytes))).toEqual([]);
  });

  it('refuses different content under an existing id with ALREADY_EXISTS', async () => {
    const id = randomUUID();
    const data = randomBytes(5000);
    await put(id, data);
    expect((await failureOf(put(id, randomBytes(5000)))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect((await client().getChunkBuffer(id)).equals(data)).toBe(true);
  });
});

describe('StorageClient against a storage server older than SmallChunkOps, PutSmallChunks, ReadChunk and ReadSmallChunks', () => {
  let server: grpc.Server;
  let client: StorageClient;
  /** Every call the client made, as "Method STATUS", in the order they ended. */
  const calls: string[] = [];
  const logged: string[] = [];
  const recordCalls: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) =>
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            calls.push(`${options.method_definition.path.split('/').pop()} ${grpc.status[status.code]}`);
            nextStatus(status);
          },
        }),
    });

  beforeAll(async () => {
    const store = await ChunkStore.open(await makeTempDir('ringstore-old-server-'), createLogger('test'));
    // An older server: today's handlers, less the RPCs it did not have yet (grpc-js answers UNIMPLEMENTED).
    const { SmallChunkOps: _ops, PutSmallChunks: _put, ReadChunk: _read, ReadSmallChunks: _reads, ...handlers } = createStorageHandlers(store, 'old', createLogger('test'), { putIdleTimeoutMs: 30_000, maxConcurrentPuts: 16 }, framePool);
    const { SmallChunkOps: _opsDefinition, PutSmallChunks: _putDefinition, ReadChunk: _readDefinition, ReadSmallChunks: _readsDefinition, ...definition } = storageServerDefinition;
    server = new grpc.Server();
    server.addService(definition, handlers as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    const log = { info: (line: string) => logged.push(line), warn: (line: string) => logged.push(line) };
    client = StorageClient.connect(`127.0.0.1:${port}`, { channelOptions: { interceptors: [recordCalls] }, log });
  });

  beforeEach(() => {
    calls.length = 0;
    logged.length = 0;
  });

  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await removeTempDirs();
  });

  it('stores small chunks through PutChunk streams instead, asking SmallChunkOps and PutSmallChunks once', async () => {
    const chunks = [randomBytes(4096), randomBytes(100_000), randomBytes(10)].map((data) => ({ id: randomUUID(), data }));
    const put = async ({ id, data }: { id: string; data: Buffer }) => {
      const writer = client.putSmallChunk(id, data.length);
      await writer.write(encodePutData([data]));
      return writer.end();
    };
    for (const chunk of chunks) expect(await put(chunk)).toMatchObject({ success: true, crc32: crc32(chunk.data) });
    expect(calls).toEqual(['SmallChunkOps UNIMPLEMENTED', 'PutSmallChunks UNIMPLEMENTED', 'PutChunk OK', 'PutChunk OK', 'PutChunk OK']);
    for (const { id, data } of chunks) expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
    expect(logged).toEqual([
      expect.stringMatching(/^Storage server 127\.0\.0\.1:\d+ does not know SmallChunkOps \(a version older than this gateway\): using PutSmallChunks and ReadSmallChunks calls there instead/),
      expect.stringMatching(/^Storage server 127\.0\.0\.1:\d+ does not know PutSmallChunks \(a version older than this gateway\): using PutChunk streams there instead/),
    ]);
  });

  it('reads small ranges through GetChunk streams instead, asking ReadSmallChunks and ReadChunk once (SmallChunkOps known missing)', async () => {
    const id = randomUUID();
    const data = randomBytes(5000);
    await client.putChunkBuffer(id, data);
    calls.length = 0;
    // Asked together: ReadSmallChunks, then each read as ReadChunk, then as GetChunk.
    const [whole, part] = await Promise.all([client.readChunk(id, { offset: 0, length: 5000 }), client.readChunk(id, { offset: 10, length: 20 })]);
    expect(whole.equals(data)).toBe(true);
    expect(part.equals(data.subarray(10, 30))).toBe(true);
    // Not a failure to the caller (nor to the server's breaker, which only sees what readChunk rejects with).
    expect(calls).toEqual(['ReadSmallChunks UNIMPLEMENTED', 'ReadChunk UNIMPLEMENTED', 'ReadChunk UNIMPLEMENTED', 'GetChunk OK', 'GetChunk OK']);
    calls.length = 0;
    await Promise.all([client.readChunk(id, { offset: 0, length: 10 }), client.readChunk(id, { offset: 10, length: 10 })]);
    expect(calls).toEqual(['GetChunk OK', 'GetChunk OK']);
    expect(logged).toEqual([
      expect.stringMatching(/does not know ReadSmallChunks .*: using ReadChunk calls there instead/),
      expect.stringMatching(/does not know ReadChunk .*: using GetChunk streams there instead/),
    ]);
  });
});
