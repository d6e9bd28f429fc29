import { randomBytes, randomUUID } from 'node:crypto';
import { encodePutData, StorageClient } from '../../src/rpc/storage-client';
import { crc32 } from 'node:zlib';
import { allocateWithPrefixRoom, installPrefixInPlace } from '../../src/wire/prefix-in-place';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer } from '../helpers/storage-server';

const MiB = 1024 * 1024;

describe('installPrefixInPlace', () => {
  let client: StorageClient;

  beforeAll(async () => {
    expect(installPrefixInPlace()).toBe(true);
    expect(installPrefixInPlace()).toBe(true); // again: a no-op
    const server = await spawnStorageServer(await makeTempDir('ringstore-prefix-'));
    client = StorageClient.connect(server.address);
  });

  afterAll(async () => {
    client?.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('frames a message with room in front in its own memory, and copies any other', async () => {
    const { CompressionFilter } = require('@grpc/grpc-js/build/src/compression-filter');
    const identity = new CompressionFilter({}, {}).sendCompression;
    const message = allocateWithPrefixRoom(3);
    message.set([7, 8, 9]);
    const framed: Buffer = await identity.writeMessage(message, false);
    expect(framed.buffer).toBe(message.buffer);
    expect(framed.byteOffset).toBe(message.byteOffset - 5);
    expect([...framed]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
    const plain = Buffer.from([7, 8, 9]);
    const copied: Buffer = await identity.writeMessage(plain, false);
    expect([...copied]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
  });

  it('sends the same upload frames to two puts at once without copying them, and both store the right bytes', async () => {
    const data = randomBytes(3 * MiB + 4_321);
    const frames = [0, MiB, 2 * MiB, 3 * MiB].map((start) => encodePutData([data.subarray(start, start + MiB)]));
    const ids = [randomUUID(), randomUUID()];
    const allocations = jest.spyOn(Buffer, 'allocUnsafe');
    try {
      const writers = ids.map((id) => client.putChunk(id, '', data.length));
      for (const frame of frames) await Promise.all(writers.map((writer) => writer.write(frame)));
      const results = await Promise.all(writers.map((writer) => writer.end()));
      for (const result of results) expect(result).toMatchObject({ success: true, crc32: crc32(data) });
      // grpc-js's own framing allocates a Buffer the size of each message it copies.
      expect(allocations.mock.calls.filter(([size]) => size >= MiB)).toEqual([]);
    } finally {
      allocations.mockRestore();
    }
    for (const id of ids) expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
  });
});
