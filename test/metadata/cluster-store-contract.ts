/**
 * The cluster-change part of the MetadataStore contract, run by store-contract.ts against every
 * backend: server membership (drain, remove), what each server holds, and moving a replica from
 * one server to another in one statement.
 */
import { randomUUID } from 'node:crypto';
import type { MetadataStore } from '../../src/metadata/types';
import { newFile, serverId } from './store-records';

/** `current` reads the suite's store; `reopen` restarts it on the same data, as a restarted gateway would. */
export function clusterStoreContract(current: () => MetadataStore, reopen: () => Promise<MetadataStore>): void {
  let store: MetadataStore;
  beforeEach(() => {
    store = current();
  });

  const join = (id: string) => store.upsertServer({ id, address: `${id}:50051` });
  const server = async (id: string) => (await store.listServers()).find((s) => s.id === id)!;
  const usageOf = async (id: string) => (await store.serverUsage()).find((u) => u.serverId === id);

  test('a joined server is active; drain records what it holds; only allowed transitions happen', async () => {
    const [a, b] = [serverId('m-a'), serverId('m-b')];
    await join(a);
    await join(b);
    expect(await server(a)).toMatchObject({ membership: 'active', membershipChangedAt: null, drainStart: null });
    const file = newFile([[a, b], [a], [b]]);
    await store.completeUpload(file);

    const draining = await store.setMembership(a, 'draining', ['active']);
    expect(draining).toMatchObject({ id: a, membership: 'draining', drainStart: { chunks: 2, bytes: 20 } });
    expect(draining!.membershipChangedAt).toBeInstanceOf(Date);
    // Not from a state it is not in; not for a server nobody knows.
    expect(await store.setMembership(a, 'draining', ['active'])).toBeNull();
    expect(await store.setMembership(serverId('nobody'), 'draining', ['active'])).toBeNull();
    // A heartbeat leaves the membership alone.
    await store.upsertServer({ id: a, address: `${a}:50051`, availableSpace: 5, totalSpace: 10 });
    expect(await server(a)).toMatchObject({ membership: 'draining', availableSpace: 5 });

    expect(await store.setMembership(a, 'drained', ['draining'])).toMatchObject({ membership: 'drained', drainStart: { chunks: 2, bytes: 20 } });
    expect(await store.setMembership(a, 'active', ['draining', 'drained', 'removed'])).toMatchObject({ membership: 'active', drainStart: null });
  });

  test('usage counts rows, bytes and pending deletes per server', async () => {
    const [a, b] = [serverId('u-a'), serverId('u-b')];
    const file = newFile([[a, b], [a]], {});
    file.chunks[1].size = 7;
    await store.completeUpload(file);
    await store.addPendingDeletes([{ chunkId: randomUUID(), serverId: b }]);
    expect(await usageOf(a)).toEqual({ serverId: a, chunks: 2, bytes: 17, pendingDeletes: 0 });
    expect(await usageOf(b)).toEqual({ serverId: b, chunks: 1, bytes: 10, pendingDeletes: 1 });
    expect(await usageOf(serverId('u-none'))).toBeUndefined();
    // One server alone.
    expect(await store.serverUsage(b)).toEqual([{ serverId: b, chunks: 1, bytes: 10, pendingDeletes: 1 }]);
    expect(await store.serverUsage(serverId('u-none'))).toEqual([]);
  });

  test('lists the chunks on a server page by page, in chunk id order, with all their replicas', async () => {
    const [a, b, c] = [serverId('l-a'), serverId('l-b'), serverId('l-c')];
    const file = newFile([[a, b], [a], [b, c], [a, c]]);
    await store.completeUpload(file);
    await store.markReplicaCorrupt(file.chunks[3].chunkId, c);
    await store.addPendingDeletes([{ chunkId: file.chunks[1].chunkId, serverId: c }]);
    const onA = [0, 1, 3].map((i) => file.chunks[i].chunkId).sort();

    const first = await store.chunksOnServer(a, [a, b, c], '', 2);
    expect(first.map((chunk) => chunk.chunkId)).toEqual(onA.slice(0, 2));
    const rest = await store.chunksOnServer(a, [a, b, c], first[1].chunkId, 2);
    expect(rest.map((chunk) => chunk.chunkId)).toEqual(onA.slice(2));
    const all = [...first, ...rest];
    expect(all.find((chunk) => chunk.chunkId === file.chunks[3].chunkId)).toMatchObject({
      fileId: file.fileId,
      size: 10,
      checksum: file.chunks[3].checksum,
      healthyServerIds: [a],
      allServerIds: [a, c].sort(),
      deletingServerIds: [],
    });
    expect(all.find((chunk) => chunk.chunkId === file.chunks[1].chunkId)).toMatchObject({ allServerIds: [a], deletingServerIds: [c] });
    // Only replicas on live servers are healthy.
    expect((await store.chunksOnServer(a, [b], '', 10)).find((chunk) => chunk.chunkId === file.chunks[0].chunkId)).toMatchObject({ healthyServerIds: [b] });
  });

  test('moving a replica switches the row and queues the old copy for deletion once it is due', async () => {
    const [from, to, other] = [serverId('mv-from'), serverId('mv-to'), serverId('mv-other')];
    const file = newFile([[from, other], [from], [from]]);
    await store.completeUpload(file);
    const [c0, c1, c2] = file.chunks.map((c) => c.chunkId);

    expect(await store.moveReplica({ chunkId: c0, from, to, deleteAfterMs: 0 })).toBe('moved');
    const replicas = (await store.getFile(file.fileId))!.chunks[0].replicas.map((r) => r.serverId).sort();
    expect(replicas).toEqual([other, to].sort());
    expect(await store.pendingDeleteChunkIds([c0, c1], from)).toEqual(new Set([c0]));
    expect((await store.listPendingDeletes(10_000)).filter((p) => p.serverId === from)).toMatchObject([{ chunkId: c0 }]);

    // Not due yet: readers holding older metadata may still read the old copy meanwhile.
    expect(await store.moveReplica({ chunkId: c1, from, to, deleteAfterMs: 60_000 })).toBe('moved');
    expect(await store.pendingDeleteChunkIds([c1], from)).toEqual(new Set([c1]));
    expect((await store.listPendingDeletes(10_000)).some((p) => p.chunkId === c1)).toBe(false);

    // The target already has a copy: nothing changes. The source row is gone: nothing changes.
    expect(await store.moveReplica({ chunkId: c0, from: other, to, deleteAfterMs: 0 })).toBe('target-taken');
    expect(await store.moveReplica({ chunkId: c0, from, to: serverId('mv-x'), deleteAfterMs: 0 })).toBe('source-gone');
    expect((await store.getFile(file.fileId))!.chunks[0].replicas).toHaveLength(2);

    // The file was deleted meanwhile: the new copy is an orphan.
    await store.deleteFile(file.fileId);
    expect(await store.moveReplica({ chunkId: c2, from, to, deleteAfterMs: 0 })).toBe('chunk-gone');
    expect(await store.moveReplica({ chunkId: 'not-a-uuid', from, to, deleteAfterMs: 0 })).toBe('chunk-gone');
  });

  test('removing a server: refused while it holds chunks; with force, rows with copies elsewhere go', async () => {
    const [empty, full, other] = [serverId('rm-empty'), serverId('rm-full'), serverId('rm-other')];
    for (const id of [empty, full, other]) await join(id);
    const file = newFile([[full, other], [full]]);
    await store.completeUpload(file);
    await store.addPendingDeletes([{ chunkId: randomUUID(), serverId: empty }]);

    expect(await store.removeServer(empty, false)).toEqual({ removed: true, chunks: 0, replicasDropped: 0, chunksOnlyThere: 0, pendingDeletesDropped: 1 });
    expect(await server(empty)).toMatchObject({ membership: 'removed' });
    expect(await usageOf(empty)).toBeUndefined();
    expect(await store.removeServer(empty, false)).toBeNull(); // already removed
    expect(await store.removeServer(serverId('rm-nobody'), true)).toBeNull();

    expect(await store.removeServer(full, false)).toEqual({ removed: false, chunks: 2, replicasDropped: 0, chunksOnlyThere: 0, pendingDeletesDropped: 0 });
    expect(await server(full)).toMatchObject({ membership: 'active' });
    expect(await store.removeServer(full, true)).toEqual({ removed: true, chunks: 2, replicasDropped: 1, chunksOnlyThere: 1, pendingDeletesDropped: 0 });
    const chunks = (await store.getFile(file.fileId))!.chunks;
    expect(chunks[0].replicas.map((r) => r.serverId)).toEqual([other]);
    expect(chunks[1].replicas.map((r) => r.serverId)).toEqual([full]); // its only copy stays recorded

    // A removed server's heartbeat does not bring it back.
    await store.upsertServer({ id: full, address: `${full}:50051` });
    expect(await server(full)).toMatchObject({ membership: 'removed' });
  });

  test('move runs are kept per job and replaced by the next run', async () => {
    const startedAt = new Date(Date.now() - 1000);
    await store.saveMoveRun({ job: 'rebalance', gatewayId: 'gw-1', startedAt, finishedAt: null, outcome: null, report: { chunksMoved: 1 } });
    await store.saveMoveRun({ job: 'rebalance', gatewayId: 'gw-1', startedAt, finishedAt: new Date(), outcome: 'finished', report: { chunksMoved: 3 } });
    const [run] = (await store.moveRuns()).filter((r) => r.job === 'rebalance');
    expect(run).toMatchObject({ gatewayId: 'gw-1', outcome: 'finished', report: { chunksMoved: 3 } });
    expect(run.startedAt.getTime()).toBe(startedAt.getTime());
    expect(run.finishedAt).toBeInstanceOf(Date);
    store = await reopen();
    expect((await store.moveRuns()).filter((r) => r.job === 'rebalance')).toHaveLength(1);
  });
}
