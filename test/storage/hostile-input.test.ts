import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StorageClient } from '../../src/rpc/storage-client';
import { saysBusy } from '../../src/wire/busy-refusal';
import { storageServiceDefinition, type PutChunkRequest, type PutChunkResponse } from '../../src/wire/storage-service';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer, storageServerForTests, type SpawnedStorageServer } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { RawPutChunkCall, type RawConnection } from './raw-grpc-call';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const PUT_CHUNK = storageServiceDefinition.PutChunk;

/** Sends exactly these PutChunk messages (no splitting, no checks): the status code, or 0 on success. */
function putMessages(client: StorageClient, messages: Array<Partial<PutChunkRequest>>): Promise<grpc.status> {
  return new Promise((resolve) => {
    const call = client.grpcClient.makeClientStreamRequest<Partial<PutChunkRequest>, PutChunkResponse>(
      PUT_CHUNK.path, PUT_CHUNK.requestSerialize, PUT_CHUNK.responseDeserialize, new grpc.Metadata(), {},
      (error) => resolve(error ? error.code : grpc.status.OK),
    );
    call.on('error', () => undefined);
    for (const message of messages) call.write(message);
    call.end();
  });
}

async function tempFiles(server: SpawnedStorageServer): Promise<string[]> {
  return fs.readdir(path.join(server.dataDir, 'tmp'));
}

describe('storage server under hostile gRPC input', () => {
  const MAX_PUTS = 40;
  const known = { id: randomUUID(), data: randomBytes(3 * MiB + 17) };
  const { server, client } = storageServerForTests('ringstore-hostile-', {
    env: { MAX_CONCURRENT_PUTS: String(MAX_PUTS) },
    client: { callTimeoutMs: 10_000 },
    putFirst: known,
  });

  /** The server still answers and still has the known chunk byte-exact. */
  async function assertStillServing(): Promise<void> {
    expect((await client().healthCheck()).status).toBe('healthy');
    expect(sha256(await client().getChunkBuffer(known.id))).toBe(sha256(known.data));
  }

  it('accepts the 4 MiB frames of the original contract', async () => {
    const id = randomUUID();
    const data = randomBytes(8 * MiB);
    const code = await putMessages(client(), [
      { chunk_id: id, checksum: sha256(data), data: data.subarray(0, 4 * MiB - 64) },
      { data: data.subarray(4 * MiB - 64) },
    ]);
    expect(code).toBe(grpc.status.OK);
    expect(sha256(await client().getChunkBuffer(id))).toBe(sha256(data));
  });

  it('refuses a frame over 8 MiB with RESOURCE_EXHAUSTED, keeps nothing and stays up', async () => {
    const big = randomBytes(9 * MiB);
    const id = randomUUID();
    expect(await putMessages(client(), [{ chunk_id: id, checksum: sha256(big), data: big }])).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // The same after a good first message, when a temp file is already open.
    const later = randomUUID();
    expect(await putMessages(client(), [{ chunk_id: later, checksum: sha256(big), data: big.subarray(0, MiB) }, { data: big }]))
      .toBe(grpc.status.RESOURCE_EXHAUSTED);
    await waitFor(async () => (await tempFiles(server())).length === 0, { what: 'temp files of refused puts to go' });
    expect(await putMessages(client(), [{ chunk_id: randomUUID(), checksum: sha256(big) }, { data: big.subarray(0, 100) }]))
      .toBe(grpc.status.DATA_LOSS);
    await assertStillServing();
  });

  it('refuses a length prefix that claims 1 GiB without waiting for the bytes', async () => {
    const connection = RawPutChunkCall.connect(server().address);
    try {
      const call = new RawPutChunkCall(connection);
      call.send({ chunk_id: randomUUID(), checksum: sha256(Buffer.alloc(0)) }, 1024 * MiB);
      expect((await call.status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      connection.session.destroy();
    }
    await assertStillServing();
  });

  it('refuses messages after the one carrying the trailing checksum, keeping nothing', async () => {
    const id = randomUUID();
    const data = randomBytes(2 * MiB);
    expect(await putMessages(client(), [
      { chunk_id: id, checksum: '', data: data.subarray(0, MiB) },
      { checksum: sha256(data.subarray(0, MiB)) },
      { data: data.subarray(MiB) },
    ])).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await putMessages(client(), [
      { chunk_id: id, checksum: sha256(data), data },
      { checksum: sha256(data) },
      { data: Buffer.alloc(0) },
    ])).toBe(grpc.status.INVALID_ARGUMENT);
    await expect(client().getChunkBuffer(id)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await tempFiles(server())).toEqual([]);
    // The rule is only about order: data then the checksum last is the normal trailing form.
    expect(await putMessages(client(), [{ chunk_id: id, checksum: '', data }, { checksum: sha256(data) }])).toBe(grpc.status.OK);
  });

  it('keeps nothing when the trailing checksum lies or disagrees with the first', async () => {
    const id = randomUUID();
    const data = randomBytes(MiB + 5);
    expect(await putMessages(client(), [{ chunk_id: id, checksum: '', data }, { checksum: sha256(Buffer.from('other')) }]))
      .toBe(grpc.status.DATA_LOSS);
    expect(await putMessages(client(), [{ chunk_id: id, checksum: sha256(data), data }, { checksum: sha256(Buffer.from('other')) }]))
      .toBe(grpc.status.INVALID_ARGUMENT);
    expect(await putMessages(client(), [{ chunk_id: id, checksum: '', data }])).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await putMessages(client(), [{ chunk_id: id, checksum: '', data }, { checksum: 'not-hex' }])).toBe(grpc.status.INVALID_ARGUMENT);
    await expect(client().getChunkBuffer(id)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await tempFiles(server())).toEqual([]);
  });

  it('refuses a put larger than the free space with RESOURCE_EXHAUSTED, not marked busy: full', async () => {
    const writer = client().putChunk(randomUUID(), '', 2 ** 50);
    const refusal = await writer.write(randomBytes(100)).then(() => writer.end()).then(
      () => { throw new Error('the put was not refused'); },
      (error: grpc.ServiceError) => error,
    );
    expect([refusal.code, refusal.details, saysBusy(refusal.metadata)]).toEqual([grpc.status.RESOURCE_EXHAUSTED, expect.stringMatching(/disk full/), false]);
  });

  it('removes the temp file of a client whose socket dies mid-stream and keeps serving', async () => {
    const call = new RawPutChunkCall(RawPutChunkCall.connect(server().address));
    const id = randomUUID();
    call.send({ chunk_id: id, checksum: sha256(Buffer.alloc(4 * MiB)), size: 4 * MiB, data: randomBytes(MiB) });
    await waitFor(async () => (await tempFiles(server())).length === 1, { what: 'the put to reach a temp file' });
    call.killSocket();
    await waitFor(async () => (await tempFiles(server())).length === 0, { what: 'the temp file to be removed' });
    await expect(client().getChunkBuffer(id)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await assertStillServing();
  });

  it(`survives a flood of half-open puts: ${MAX_PUTS} held, the rest refused, reads served, all cleaned up`, async () => {
    const connections = Array.from({ length: 4 }, () => RawPutChunkCall.connect(server().address));
    try {
      const refusals: Array<{ code: number; details: string }> = [];
      for (let i = 0; i < MAX_PUTS + 20; i += 1) {
        const call = new RawPutChunkCall(connections[i % connections.length]);
        call.send({ chunk_id: randomUUID(), checksum: sha256(Buffer.from('never sent')), data: randomBytes(1000) });
        void call.status.then((status) => refusals.push(status), () => undefined);
      }
      await waitFor(async () => (await tempFiles(server())).length === MAX_PUTS && refusals.length === 20, {
        what: `${MAX_PUTS} held puts and 20 refusals`,
      });
      for (const status of refusals) {
        expect(status).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/too many puts in progress/) });
      }
      await assertStillServing();
      expect(await codeOfPut(client())).toBe(grpc.status.RESOURCE_EXHAUSTED);
      // Busy, not full, on every put path: the status as before, marked busy for gateways that know.
      for (const [path, refusal] of await busyRefusals(server().address)) {
        expect([path, refusal.code, saysBusy(refusal.metadata)]).toEqual([path, grpc.status.RESOURCE_EXHAUSTED, true]);
      }
      expect(refusals).toHaveLength(20);
    } finally {
      for (const connection of connections) connection.socket.destroy();
    }
    await waitFor(async () => (await tempFiles(server())).length === 0, { what: 'every flooded temp file to go' });
    expect(await codeOfPut(client())).toBe(grpc.status.OK);
  });
});

describe('storage server with a short put idle timeout', () => {
  afterAll(async () => {
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('cuts a put whose client goes quiet with DEADLINE_EXCEEDED and removes its temp file', async () => {
    const server = await spawnStorageServer(path.join(await makeTempDir('ringstore-idle-'), 'data'), { env: { PUT_IDLE_TIMEOUT_MS: '500' } });
    let connection: RawConnection | undefined;
    try {
      connection = RawPutChunkCall.connect(server.address);
      const call = new RawPutChunkCall(connection);
      call.send({ chunk_id: randomUUID(), checksum: sha256(Buffer.from('x')), data: randomBytes(1000) });
      const status = await call.status;
      expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(status.details).toMatch(/sent nothing for 500 ms/);
      await waitFor(async () => (await tempFiles(server)).length === 0, { what: 'the idle put\'s temp file to go' });
    } finally {
      connection?.session.destroy();
    }
  });
});

/** A put of a small chunk refused on each path a gateway may take (PutChunk, PutSmallChunks, SmallChunkOps): path -> its error. */
async function busyRefusals(address: string): Promise<Map<string, grpc.ServiceError>> {
  const refusal = (put: Promise<unknown>) => put.then(() => { throw new Error('the put was not refused'); }, (error: grpc.ServiceError) => error);
  const smallPut = (client: StorageClient) => {
    const writer = client.putSmallChunk(randomUUID(), 100);
    return writer.write(randomBytes(100)).then(() => writer.end());
  };
  const clients = {
    SmallChunkOps: StorageClient.connect(address),
    PutSmallChunks: StorageClient.connect(address, { avoidRpcs: ['SmallChunkOps'] }),
    PutChunk: StorageClient.connect(address),
  };
  try {
    return new Map([
      ['SmallChunkOps', await refusal(smallPut(clients.SmallChunkOps))],
      ['PutSmallChunks', await refusal(smallPut(clients.PutSmallChunks))],
      ['PutChunk', await refusal(clients.PutChunk.putChunkBuffer(randomUUID(), randomBytes(100)))],
    ]);
  } finally {
    for (const client of Object.values(clients)) client.close();
  }
}

function codeOfPut(client: StorageClient): Promise<grpc.status> {
  return client.putChunkBuffer(randomUUID(), randomBytes(100)).then(() => grpc.status.OK, (e: grpc.ServiceError) => e.code);
}
