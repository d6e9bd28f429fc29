import { randomUUID } from 'node:crypto';
import type { ScrubConfig } from '../../src/jobs/config';
import { ScrubJob } from '../../src/jobs/scrub';
import { createLogger } from '../../src/util/logger';
import { StorageClient } from '../../src/rpc/storage-client';
import { sha256, testData } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer, type SpawnedStorageServer } from '../helpers/storage-server';
import { FakeRepairStore, FakeSupervisor, replicasFor } from './fakes';
import { chunkOnDisk, xorChunkByte } from '../helpers/chunk-on-disk';
import { FOOTER_BYTES } from '../../src/storage/chunk-file-format';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Scrub against a real storage server (its VerifyChunk and ListChunks), metadata faked. */

const CONFIG: ScrubConfig = { intervalMs: 0, chunksPerSec: 0, chunksPerServerPerRun: 2 };

let server: SpawnedStorageServer;
let supervisor: FakeSupervisor;

beforeAll(async () => {
  server = await spawnStorageServer(await makeTempDir('ringstore-scrub-'));
  supervisor = new FakeSupervisor(new Map([[server.serverId, StorageClient.connect(server.address)]]));
}, 60_000);

afterAll(async () => {
  await supervisor?.close();
  await RingstoreProcess.killAll();
  await removeTempDirs();
});

describe('ScrubJob', () => {
  it('verifies a bounded slice per run, resumes where it stopped (also in a restarted gateway) and marks the corrupt replica', async () => {
    const client = supervisor.clientIfReady(server.serverId)!;
    const store = new FakeRepairStore();
    const chunkIds = Array.from({ length: 5 }, () => randomUUID()).sort();
    for (const chunkId of chunkIds) {
      const data = testData(2 * 1024 * 1024 + 3);
      await client.putChunkBuffer(chunkId, data);
      store.addChunk({ chunkId, size: data.length, checksum: sha256(data), replicas: { [server.serverId]: 'stored' } });
    }
    const rotten = chunkIds[3];
    await xorChunkByte(server.dataDir, rotten, 1024 * 1024 + 9);
    const newJob = () => new ScrubJob({ store: store.asStore(), replicas: replicasFor(supervisor, store), config: CONFIG, streamIdleTimeoutMs: 10_000, log: createLogger('scrub-test') });
    const job = newJob();

    // The second slice is scrubbed by a new job, as after a gateway restart: the cursor is the store's.
    const runs = [await job.run(), await newJob().run(), await job.run()];

    expect(runs).toEqual([
      { serversScanned: 1, chunksVerified: 2, corruptFound: 0, missingFound: 0 },
      { serversScanned: 1, chunksVerified: 2, corruptFound: 1, missingFound: 0 },
      { serversScanned: 1, chunksVerified: 1, corruptFound: 0, missingFound: 0 },
    ]);
    expect(store.replicasOf(rotten)).toEqual({ [server.serverId]: 'corrupt' });
    for (const chunkId of chunkIds.filter((id) => id !== rotten)) {
      expect(store.replicasOf(chunkId)).toEqual({ [server.serverId]: 'stored' });
    }
    // The third run finished the pass: the next one starts over from the first chunk.
    expect(job.status().servers).toEqual([{ server_id: server.serverId, cursor: '', passes: 1 }]);
    expect(await store.scrubCursors()).toEqual([{ serverId: server.serverId, cursor: '', passes: 1 }]);
    expect(job.status().totals).toEqual({ serversScanned: 2, chunksVerified: 3, corruptFound: 0, missingFound: 0 });
  });

  it('marks a replica the metadata records but the server does not have, in the listed range only', async () => {
    const client = supervisor.clientIfReady(server.serverId)!;
    const store = new FakeRepairStore();
    const data = testData(1000);
    // Ids chosen around the server's real chunks: one missing before the end, one after it.
    const present = [randomUUID(), randomUUID()].sort();
    for (const chunkId of present) await client.putChunkBuffer(chunkId, data);
    const listedNow = (await collect(client.listChunks())).map((c) => c.chunk_id);
    const lostEarly = `00000000${present[0].slice(8)}`; // sorts before every real chunk
    const lostLate = `ffffffff${present[1].slice(8)}`; // sorts after every real chunk
    for (const chunkId of [...present, lostEarly, lostLate]) {
      store.addChunk({ chunkId, size: data.length, checksum: sha256(data), replicas: { [server.serverId]: 'stored' } });
    }
    // Slices of everything the server holds: the first run covers up to its last listed id.
    const perRun = listedNow.length;
    const job = new ScrubJob({ store: store.asStore(), replicas: replicasFor(supervisor, store), config: { ...CONFIG, chunksPerServerPerRun: perRun }, streamIdleTimeoutMs: 10_000, log: createLogger('scrub-test') });

    expect(await job.run()).toMatchObject({ missingFound: 1 });
    expect([store.replicasOf(lostEarly), store.replicasOf(lostLate)]).toEqual([{ [server.serverId]: 'corrupt' }, { [server.serverId]: 'stored' }]);
    // The next run reaches the end of the listing, so the range after the last chunk is checked too.
    expect(await job.run()).toMatchObject({ missingFound: 1 });
    expect(store.replicasOf(lostLate)).toEqual({ [server.serverId]: 'corrupt' });
    for (const chunkId of present) expect(store.replicasOf(chunkId)).toEqual({ [server.serverId]: 'stored' });
  });

  it('marks a corrupt replica that the server leaves out of its listing (a damaged footer)', async () => {
    const client = supervisor.clientIfReady(server.serverId)!;
    const store = new FakeRepairStore();
    // One stored as a chunk file, one as a volume record: a listing reads both footers.
    const chunks = [testData(1024 * 1024 + 5), testData(5000)].map((data) => ({ chunkId: randomUUID(), data }));
    for (const { chunkId, data } of chunks) {
      await client.putChunkBuffer(chunkId, data);
      store.addChunk({ chunkId, size: data.length, checksum: sha256(data), replicas: { [server.serverId]: 'stored' } });
      const where = await chunkOnDisk(server.dataDir, chunkId);
      await xorChunkByte(server.dataDir, chunkId, where!.length - FOOTER_BYTES); // the footer's magic
    }
    const listed = (await collect(client.listChunks())).map((c) => c.chunk_id);
    for (const { chunkId } of chunks) expect(listed).not.toContain(chunkId);
    const job = new ScrubJob({ store: store.asStore(), replicas: replicasFor(supervisor, store), config: { ...CONFIG, chunksPerServerPerRun: 1_000 }, streamIdleTimeoutMs: 10_000, log: createLogger('scrub-test') });

    // (The corrupt count also takes in the damaged chunk of the first test, still on this server.)
    expect(await job.run()).toMatchObject({ missingFound: 0 });
    for (const { chunkId } of chunks) expect(store.replicasOf(chunkId)).toEqual({ [server.serverId]: 'corrupt' });
  });

  it('stops early without verifying when its signal is aborted, and says so without failing', async () => {
    const store = new FakeRepairStore();
    const job = new ScrubJob({ store: store.asStore(), replicas: replicasFor(supervisor, store), config: { ...CONFIG, chunksPerSec: 1 }, streamIdleTimeoutMs: 10_000, log: createLogger('scrub-test') });
    const controller = new AbortController();
    controller.abort(new Error('gateway stopping'));
    await expect(job.run(controller.signal)).resolves.toEqual({ serversScanned: 0, chunksVerified: 0, corruptFound: 0, missingFound: 0 });
    expect(job.status()).toMatchObject({ running: false, runs: 1, last_error: null });
  });
});
