/**
 * The behaviour every MetadataStore backend must show, run against PGlite and PostgreSQL by
 * the *.test.ts files next to this one. One store per backend is shared by the whole suite,
 * so every test makes its own ids and only looks at its own rows.
 */
import { randomUUID } from 'node:crypto';
import type { FileRecord, MetadataStore } from '../../src/metadata/types';
import type { TestStore } from '../helpers/metadata';
import { clusterStoreContract } from './cluster-store-contract';
import { s3StoreContract } from './s3-store-contract';
import { newFile, serverId } from './store-records';

function session(fileId: string, expiresAt: Date) {
  return { fileId, filename: 'upload.bin', contentType: 'application/octet-stream', gatewayId: 'gw-1', startedAt: new Date(expiresAt.getTime() - 3_600_000), expiresAt };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function metadataContract(open: () => Promise<TestStore>): void {
  let opened: TestStore;
  let store: MetadataStore;

  beforeAll(async () => {
    opened = await open();
    store = opened.store;
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  test('migrations are idempotent, also when run concurrently', async () => {
    await Promise.all([store.migrate(), store.migrate()]);
    await store.migrate();
    await store.ping();
    expect((await store.listFiles(1, 1)).total).toBeGreaterThanOrEqual(0);
  });

  test('a server joins, then heartbeats update it without losing what it reported before', async () => {
    const id = serverId('join');
    await store.upsertServer({ id, address: '127.0.0.1:50051', availableSpace: 5e9, totalSpace: 1e10 });
    const [joined] = (await store.listServers()).filter((s) => s.id === id);
    expect(joined).toMatchObject({ address: '127.0.0.1:50051', availableSpace: 5e9, totalSpace: 1e10 });
    expect(joined.joinedAt).toBeInstanceOf(Date);

    await store.upsertServer({ id, address: '127.0.0.1:50061' });
    const [beat] = (await store.listServers()).filter((s) => s.id === id);
    expect(beat).toMatchObject({ address: '127.0.0.1:50061', availableSpace: 5e9, totalSpace: 1e10 });
    expect(beat.joinedAt).toEqual(joined.joinedAt);
    expect(beat.lastHeartbeatAt.getTime()).toBeGreaterThanOrEqual(joined.lastHeartbeatAt.getTime());
  });

  test('an upload becomes a file only when completed, with its chunks and replicas in order', async () => {
    const file = newFile([['s1', 's2'], ['s2', 's3'], ['s3', 's1']], { size: 10 * 2 ** 30 });
    await store.beginUpload(session(file.fileId, new Date(Date.now() + 3_600_000)));
    expect(await store.getFile(file.fileId)).toBeNull();

    const completed = await store.completeUpload(file);
    expect(completed).toMatchObject({ ...file, status: 'completed' });
    expect(completed.completedAt).toBeInstanceOf(Date);

    const read = await store.getFile(file.fileId);
    // Replicas written together come back by server id; the chunk's set is what matters.
    const bySet = (record: FileRecord | null) => ({
      ...record,
      chunks: record?.chunks.map((c) => ({ ...c, replicas: [...c.replicas].sort((x, y) => x.serverId.localeCompare(y.serverId)) })),
    });
    expect(bySet(read)).toEqual(bySet(completed));
    expect(read?.size).toBe(10 * 2 ** 30);
    // The session went with the completion: cleanup will never see it.
    const farFuture = new Date(Date.now() + 10 * 3_600_000);
    expect((await store.expiredUploads(farFuture, 10_000)).map((s) => s.fileId)).not.toContain(file.fileId);
  });

  test('an empty file is a file with no chunks', async () => {
    const file = newFile([], { size: 0 });
    await store.completeUpload(file);
    expect(await store.getFile(file.fileId)).toMatchObject({ size: 0, chunks: [] });
  });

  test('unknown and malformed ids find nothing', async () => {
    expect(await store.getFile(randomUUID())).toBeNull();
    expect(await store.getFile('../../etc/passwd')).toBeNull();
    expect(await store.deleteFile(randomUUID())).toBeNull();
    expect(await store.deleteFile('not-a-uuid')).toBeNull();
  });

  test('a file name and type with quotes, backslashes, $1 and non-ASCII come back exactly', async () => {
    // PGlite writes the completion's parameters into its prepared statement's EXECUTE as literals.
    const filename = `it's a "name" \\ \\' $1 $$ E'\\x41' \u00e9\u{1F600}.bin`;
    const file = newFile([['s1', 's2']], { filename, contentType: "text/plain; charset='x\\'" });
    await store.completeUpload(file);
    expect(await store.getFile(file.fileId)).toMatchObject({ filename, contentType: "text/plain; charset='x\\'" });
  });

  test('concurrent completions share batches: each resolves committed, and a bad one fails alone', async () => {
    const files = Array.from({ length: 40 }, (_, i) => newFile([['s1', 's2'], ['s2', 's3']], { filename: `batch-${i}.bin` }));
    const taken = newFile([['s1']]);
    await store.completeUpload(taken);
    const outcomes = await Promise.allSettled([...files, taken].map((file) => store.completeUpload(file)));
    expect(outcomes.map((o) => o.status)).toEqual([...files.map(() => 'fulfilled'), 'rejected']);
    for (const [i, outcome] of outcomes.slice(0, files.length).entries()) {
      expect((outcome as PromiseFulfilledResult<FileRecord>).value).toMatchObject({ fileId: files[i].fileId, filename: `batch-${i}.bin`, status: 'completed' });
    }
    // Read back through concurrent (batched) lookups, mixed with ids that do not exist.
    const missing = randomUUID();
    const read = await Promise.all([...files.map((f) => store.getFile(f.fileId)), store.getFile(missing), store.getFile(files[0].fileId.toUpperCase())]);
    expect(read.slice(0, files.length).map((r) => [r?.fileId, r?.filename, r?.chunks.map((c) => c.chunkId)])).toEqual(
      files.map((f) => [f.fileId, f.filename, f.chunks.map((c) => c.chunkId)]),
    );
    expect(read[files.length]).toBeNull();
    expect(read[files.length + 1]?.fileId).toBe(files[0].fileId);
  });

  test('completing the same file twice is refused', async () => {
    const file = newFile([['s1']]);
    await store.completeUpload(file);
    await expect(store.completeUpload(file)).rejects.toThrow();
    expect((await store.getFile(file.fileId))?.chunks).toHaveLength(1);
  });

  test('files list newest first, page by page, with the total', async () => {
    const before = (await store.listFiles(1, 1)).total;
    const added: string[] = [];
    for (let i = 0; i < 5; i++) added.unshift((await store.completeUpload(newFile([['s1'], ['s2']]))).fileId);

    const first = await store.listFiles(1, 2);
    const second = await store.listFiles(2, 2);
    const third = await store.listFiles(3, 2);
    expect(first.total).toBe(before + 5);
    // The pages hold the five, each once, newest first. Files completed within one tick of the
    // database's clock share created_at (PGlite's is coarser than PostgreSQL's), and the listing
    // then orders them by id, so the order they were added in is only checked across ticks.
    const listed = [...first.files, ...second.files, third.files[0]];
    expect(listed.map((f) => f.fileId).sort()).toEqual([...added].sort());
    listed.slice(1).forEach((file, i) => expect(file.createdAt.getTime()).toBeLessThanOrEqual(listed[i].createdAt.getTime()));
    const tick = (id: string) => listed.find((f) => f.fileId === id)!.createdAt.getTime();
    added.slice(1).forEach((id, i) => expect(tick(id)).toBeLessThanOrEqual(tick(added[i])));
    expect(first.files[0]).toMatchObject({ chunkCount: 2, status: 'completed', filename: 'report.pdf' });
    expect((await store.listFiles(1_000_000, 2)).files).toEqual([]);
  });

  test('files are found by a piece of their name, case-insensitive, with % _ and \\ taken literally', async () => {
    const tag = randomUUID().slice(0, 8);
    const names = [`Holiday-${tag}.JPG`, `holiday-${tag}-2.jpg`, `notes-${tag}.txt`, `100%_${tag}\\x.txt`, `100ab${tag}yx.txt`];
    const ids = new Map<string, string>();
    for (const filename of names) ids.set(filename, (await store.completeUpload(newFile([['s1']], { filename }))).fileId);
    const found = async (q: string, perPage = 10, page = 1) => store.listFiles(page, perPage, q);

    const holiday = await found(`HOLIDAY-${tag}`);
    expect(holiday.total).toBe(2);
    expect(holiday.files.map((f) => f.filename)).toEqual([names[1], names[0]]);
    expect((await found(`${tag}.txt`)).files.map((f) => f.fileId)).toEqual([ids.get(names[2])]);
    // Wildcards of LIKE are plain characters here.
    expect((await found(`100%_${tag}`)).files.map((f) => f.filename)).toEqual([names[3]]);
    expect((await found(`${tag}\\x`)).files.map((f) => f.filename)).toEqual([names[3]]);
    expect((await found(`%${tag}`)).total).toBe(0);
    // Paged like the full list, total counting the matches only.
    const page2 = await found(tag, 2, 2);
    expect([page2.total, page2.files.length]).toEqual([5, 2]);
    expect((await found(`no-such-${tag}`)).files).toEqual([]);
  });

  test('counts the files stored', async () => {
    const before = await store.countFiles();
    const file = await store.completeUpload(newFile([['s1']]));
    expect(await store.countFiles()).toBe(before + 1);
    await store.deleteFile(file.fileId);
    expect(await store.countFiles()).toBe(before);
  });

  test('deleting a file moves every replica to pending deletes, which are retried until resolved', async () => {
    const [a, b] = [serverId('del'), serverId('del')];
    const file = newFile([[a, b], [b]]);
    await store.completeUpload(file);

    const pending = await store.deleteFile(file.fileId);
    const expected = [
      { chunkId: file.chunks[0].chunkId, serverId: a },
      { chunkId: file.chunks[0].chunkId, serverId: b },
      { chunkId: file.chunks[1].chunkId, serverId: b },
    ];
    expect(pending?.map(({ chunkId, serverId }) => ({ chunkId, serverId }))).toEqual(expect.arrayContaining(expected));
    expect(pending).toHaveLength(3);
    expect(await store.getFile(file.fileId)).toBeNull();
    expect(await store.deleteFile(file.fileId)).toBeNull();
    expect(await store.referencedChunkIds(file.chunks.map((c) => c.chunkId))).toEqual(new Set());

    const mine = async () => (await store.listPendingDeletes(10_000)).filter((p) => p.serverId === a || p.serverId === b);
    expect(await mine()).toHaveLength(3);

    await store.resolvePendingDelete(file.chunks[0].chunkId, a);
    await store.failPendingDelete(file.chunks[0].chunkId, b, 'server unavailable');
    // The failed one waits for its backoff; only the untouched one is due now.
    expect((await mine()).map((p) => p.chunkId)).toEqual([file.chunks[1].chunkId]);

    // Adding again (an orphan scan finding the same copy) changes nothing.
    await store.addPendingDeletes([{ chunkId: file.chunks[1].chunkId, serverId: b }, { chunkId: 'orphan-on-disk', serverId: a }]);
    const due = await mine();
    expect(due.map((p) => p.chunkId).sort()).toEqual([file.chunks[1].chunkId, 'orphan-on-disk'].sort());
    expect(due.every((p) => p.attempts === 0 && p.lastError === null)).toBe(true);
  });

  test('expired upload sessions are found for cleanup and aborting removes them', async () => {
    const past = new Date(Date.now() - 60_000);
    const expired = [randomUUID(), randomUUID()];
    const live = randomUUID();
    for (const fileId of expired) await store.beginUpload(session(fileId, past));
    await store.beginUpload(session(live, new Date(Date.now() + 3_600_000)));

    const found = await store.expiredUploads(new Date(), 10_000);
    expect(found.map((s) => s.fileId)).toEqual(expect.arrayContaining(expired));
    expect(found.map((s) => s.fileId)).not.toContain(live);
    expect(found.find((s) => s.fileId === expired[0])).toMatchObject({ gatewayId: 'gw-1', expiresAt: past });
    expect(await store.expiredUploads(new Date(), 1)).toHaveLength(1);

    for (const fileId of expired) await store.abortUpload(fileId);
    await store.abortUpload('not-a-uuid');
    const after = (await store.expiredUploads(new Date(), 10_000)).map((s) => s.fileId);
    expect(after).not.toContain(expired[0]);
    expect(after).not.toContain(expired[1]);
  });

  test('referencedChunkIds answers which ids a completed file still uses', async () => {
    const file = newFile([['s1'], ['s1']]);
    await store.completeUpload(file);
    const [used, alsoUsed] = file.chunks.map((c) => c.chunkId);
    const asked = [used, alsoUsed.toUpperCase(), randomUUID(), 'tmp-upload-123'];
    expect(await store.referencedChunkIds(asked)).toEqual(new Set([used, alsoUsed.toUpperCase()]));
    expect(await store.referencedChunkIds([])).toEqual(new Set());
    // Per server: only chunks recorded as a replica there.
    expect(await store.referencedChunkIds(asked, 's1')).toEqual(new Set([used, alsoUsed.toUpperCase()]));
    expect(await store.referencedChunkIds(asked, 's2')).toEqual(new Set());
  });

  test('repair finds under-replicated chunks and follows added, corrupt and removed replicas', async () => {
    const [s1, s2, s3] = [serverId('r1'), serverId('r2'), serverId('r3')];
    const file = newFile([[s1, s2], [s1], [s2, s3], []]);
    await store.completeUpload(file);
    const [c0, c1, c2, c3] = file.chunks.map((c) => c.chunkId);
    const under = async (live: string[]) =>
      (await store.chunksToRepair(2, live, 10_000)).filter((c) => c.fileId === file.fileId);

    const allLive = await under([s1, s2, s3]);
    // Chunks that can be copied come first, the most at risk first; nothing to copy from: last.
    expect(allLive.map((c) => c.chunkId)).toEqual([c1, c3]);
    expect(allLive[0]).toMatchObject({ healthyServerIds: [s1], allServerIds: [s1], size: 10, checksum: file.chunks[1].checksum });
    expect(allLive[1]).toMatchObject({ healthyServerIds: [], allServerIds: [] });

    // s2 dies: its copies no longer count.
    const s2Dead = await under([s1, s3]);
    expect(s2Dead.map((c) => c.chunkId).sort()).toEqual([c0, c1, c2, c3].sort());
    expect(s2Dead.find((c) => c.chunkId === c0)).toMatchObject({ healthyServerIds: [s1], allServerIds: [s1, s2].sort() });

    expect(await store.addReplica(c1, s3)).toBe(true);
    expect(await store.addReplica(c3, s1)).toBe(true);
    expect(await store.addReplica(c3, s2)).toBe(true);
    expect(await under([s1, s2, s3])).toEqual([]);

    await store.markReplicaCorrupt(c0, s1);
    expect((await under([s1, s2, s3])).map((c) => c.chunkId)).toEqual([c0]);
    expect((await under([s1, s2, s3]))[0]).toMatchObject({ healthyServerIds: [s2], allServerIds: [s1, s2].sort() });
    // Reads try healthy copies first.
    expect((await store.getFile(file.fileId))?.chunks[0].replicas).toEqual([
      { serverId: s2, status: 'stored' },
      { serverId: s1, status: 'corrupt' },
    ]);

    await store.removeReplica(c0, s1);
    expect((await under([s1, s2, s3]))[0]).toMatchObject({ chunkId: c0, allServerIds: [s2] });
    expect(await store.addReplica(c0, s3)).toBe(true);
    expect(await under([s1, s2, s3])).toEqual([]);

    // With two healthy copies, a corrupt one on a live server is still work (its removal failed
    // when the chunk was repaired); on a server past the grace period it is not. Chunks that are
    // short come first.
    expect(await store.addReplica(c0, s1)).toBe(true);
    await store.markReplicaCorrupt(c0, s1);
    await store.markReplicaCorrupt(c2, s3);
    expect((await under([s1, s2, s3])).map((c) => c.chunkId)).toEqual([c2, c0]);
    expect((await under([s1, s2, s3]))[1]).toMatchObject({ healthyServerIds: [s2, s3].sort(), allServerIds: [s1, s2, s3].sort() });
    expect((await under([s2, s3])).map((c) => c.chunkId)).not.toContain(c0);
    // A copy still being deleted somewhere is reported, so repair does not copy there.
    await store.addPendingDeletes([{ chunkId: c2, serverId: s1 }]);
    expect((await under([s1, s2, s3])).find((c) => c.chunkId === c2)).toMatchObject({ deletingServerIds: [s1] });
    expect((await under([s1, s2, s3])).find((c) => c.chunkId === c0)).toMatchObject({ deletingServerIds: [] });
    await store.resolvePendingDelete(c2, s1);

    // A copy made for a file deleted meanwhile is not recorded: it is an orphan.
    expect(await store.addReplica(randomUUID(), s1)).toBe(false);
  });

  test('lists the chunks a server must hold in an id range, in the order servers list them', async () => {
    const [x, y] = [serverId('held-x'), serverId('held-y')];
    const file = newFile([[x], [x, y], [y], [x]]);
    await store.completeUpload(file);
    const ids = file.chunks.map((c) => c.chunkId);
    await store.markReplicaCorrupt(ids[3], x); // not 'stored' any more: not expected on x
    const onX = [ids[0], ids[1]].sort();
    expect(await store.storedChunkIdsOn(x, '', undefined)).toEqual(expect.arrayContaining(onX));
    const mine = async (after: string, upTo?: string) => (await store.storedChunkIdsOn(x, after, upTo)).filter((id) => ids.includes(id));
    expect(await mine('')).toEqual(onX);
    expect(await mine(onX[0])).toEqual([onX[1]]);
    expect(await mine('', onX[0])).toEqual([onX[0]]);
    expect(await mine(onX[1])).toEqual([]);
  });

  test('scrub cursors are kept per server, updated in place, and survive a restart', async () => {
    const [a, b] = [serverId('scrub-a'), serverId('scrub-b')];
    const mine = async () => (await store.scrubCursors()).filter((c) => c.serverId === a || c.serverId === b);
    expect(await mine()).toEqual([]);
    await store.saveScrubCursor({ serverId: a, cursor: 'chunk-1', passes: 0 });
    await store.saveScrubCursor({ serverId: b, cursor: '', passes: 3 });
    await store.saveScrubCursor({ serverId: a, cursor: 'chunk-9', passes: 1 });
    store = await opened.reopen();
    expect((await mine()).sort((x, y) => x.serverId.localeCompare(y.serverId))).toEqual(
      [{ serverId: a, cursor: 'chunk-9', passes: 1 }, { serverId: b, cursor: '', passes: 3 }].sort((x, y) => x.serverId.localeCompare(y.serverId)),
    );
  });

  test('a restarted store finds its servers and files again', async () => {
    const id = serverId('restart');
    await store.upsertServer({ id, address: '127.0.0.1:50099' });
    const file = await store.completeUpload(newFile([[id], [id]]));
    store = await opened.reopen();
    expect((await store.listServers()).map((s) => s.id)).toContain(id);
    expect(await store.getFile(file.fileId)).toEqual(file);
  });

  test('a job lock admits one holder at a time and is released however the job ends', async () => {
    const held = deferred();
    const entered = deferred();
    const first = store.withJobLock('cleanup', async () => {
      entered.resolve();
      await held.promise;
      return 'first';
    });
    await entered.promise;

    const second = jest.fn(async () => 'second');
    expect(await store.withJobLock('cleanup', second)).toBeUndefined();
    expect(second).not.toHaveBeenCalled();
    expect(await store.withJobLock('repair', async () => 'other job')).toBe('other job');

    held.resolve();
    expect(await first).toBe('first');
    await expect(store.withJobLock('cleanup', async () => { throw new Error('job failed'); })).rejects.toThrow('job failed');
    expect(await store.withJobLock('cleanup', async () => 'again')).toBe('again');
  });

  describe('cluster changes: membership, what each server holds, moving replicas', () => {
    clusterStoreContract(() => store, async () => (store = await opened.reopen()));
  });

  describe('S3 buckets, objects and multipart uploads', () => {
    s3StoreContract(() => store);
  });
}
