import { randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { StorageClient } from '../../src/rpc/storage-client';
import { ChunkStore } from '../../src/storage/chunk-store';
import { createStorageHandlers } from '../../src/storage/storage-handlers';
import { createLogger } from '../../src/util/logger';
import { MAX_FRAME_BYTES, newFramePool } from '../../src/wire/frame-pool';
import { installServerPrefixInPlace } from '../../src/wire/prefix-in-place';
import { storageServerDefinition } from '../../src/wire/storage-service';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;

/**
 * GetChunk's frames leave the storage server as they are (installServerPrefixInPlace): the
 * pooled buffer a block was read into is the bytes HTTP/2 sends. It may go back to the pool only
 * once the write's callback ran. Here every frame given back is overwritten at once, and the
 * client's 64 KiB HTTP/2 window keeps each 1 MiB message queued on the server for many turns
 * while the next blocks are read: a frame given back while queued reaches the client damaged.
 */
describe('GetChunk frames sent in place', () => {
  const frames = newFramePool();
  let taken = 0;
  let released = 0;
  /** Memory of every frame taken. */
  const lent = new Set<ArrayBufferLike>();
  let server: grpc.Server;
  let client: StorageClient;

  beforeAll(async () => {
    expect(installServerPrefixInPlace()).toBe(true);
    const take = frames.take.bind(frames);
    frames.take = (...args) => {
      taken += 1;
      const frame = take(...args);
      lent.add(frame.buffer);
      return frame;
    };
    const release = frames.release.bind(frames);
    frames.release = (view) => {
      if (frames.owns(view)) {
        released += 1;
        Buffer.from(view.buffer).fill(0xee); // reused at once, as a busy server would
      }
      release(view);
    };
    const store = await ChunkStore.open(await makeTempDir('ringstore-get-frames-'), createLogger('test'));
    server = new grpc.Server();
    server.addService(storageServerDefinition, createStorageHandlers(store, 'frames', createLogger('test'), { putIdleTimeoutMs: 30_000, maxConcurrentPuts: 16 }, frames));
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    client = StorageClient.connect(`127.0.0.1:${port}`, { channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
  });

  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await removeTempDirs();
  });

  it('gives a frame back only once HTTP/2 has sent it: every byte arrives intact, no frame is copied, every frame comes back', async () => {
    const data = randomBytes(9 * MiB + 12_345); // large enough for direct reads, with a short last block
    const id = randomUUID();
    expect((await client.putChunkBuffer(id, data)).success).toBe(true);
    taken = 0;
    released = 0;
    const { BaseServerInterceptingCall } = require('@grpc/grpc-js/build/src/server-interceptors');
    const framing = jest.spyOn(BaseServerInterceptingCall.prototype, 'serializeMessage');
    try {
      expect((await client.getChunkBuffer(id)).equals(data)).toBe(true);
      expect((await client.getChunkBuffer(id, { offset: MiB + 7, length: 3 * MiB })).equals(data.subarray(MiB + 7, 4 * MiB + 7))).toBe(true);
      // What HTTP/2 was given to send: the frames themselves, not copies (grpc-js copies into a fresh Buffer).
      const sent = framing.mock.results.map(({ value }) => value as Buffer).filter((bytes) => bytes.length > MAX_FRAME_BYTES / 2);
      expect(sent).toHaveLength(12); // 9 whole blocks, then 3 of the range: the short pieces are not pooled
      expect(sent.filter((bytes) => !lent.has(bytes.buffer))).toEqual([]);
    } finally {
      framing.mockRestore();
    }
    await waitFor(() => released === taken, { what: 'every frame given back' });
  });
});
