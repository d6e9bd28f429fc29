import { METADATA_BACKENDS, type Cluster, type StorageNode } from '../helpers/cluster';
import { chunkIdsOnDisk } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import {
  admin, clusterWithFiles, expectAllByteExact, repairUntilReplicated, serversView, startLoad, storedReplicas, type StoredFile,
} from './cluster-load';

/**
 * Taking storage servers out on purpose, in a real cluster (gateway + 6 storage servers, R=2):
 * `ringstore admin drain` under upload and download load, then `ringstore admin remove`; and a
 * drain that survives its gateway being killed -9 halfway.
 */

describe.each(METADATA_BACKENDS)('drain on %s', (_name, postgresUrl) => {
  let cluster: Cluster;
  let files: StoredFile[];

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithFiles(postgresUrl, {
      DRAIN_INTERVAL_MS: '1000',
      // Slow enough that a drain takes several seconds: the load runs alongside, and the
      // gateway can be killed halfway.
      MOVE_BANDWIDTH: '512KiB',
    }, 24));
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  const url = () => cluster.gateway.url;
  const node = (serverId: string): StorageNode => cluster.storage.find((s) => s.serverId === serverId)!;

  /** The active server holding the most chunks. */
  async function fullestActive(): Promise<{ server_id: string; address: string; chunks: number }> {
    const { servers } = await serversView(url());
    return servers.filter((s) => s.membership === 'active').sort((a, b) => b.chunks - a.chunks)[0];
  }

  /** Every chunk of every file has R=2 replicas, none on `gone`. */
  async function expectReplicatedWithout(gone: string[]): Promise<void> {
    await repairUntilReplicated(url(), files, 2);
    for (const chunk of await storedReplicas(url(), files)) {
      expect(new Set(chunk.servers).size).toBeGreaterThanOrEqual(2);
      for (const id of gone) expect(chunk.servers).not.toContain(id);
    }
  }

  it('drains a server under upload and download load: it ends empty, no request fails, nothing is lost; then it is removed', async () => {
    const victim = await fullestActive();
    expect(victim.chunks).toBeGreaterThan(0);

    const load = startLoad(url(), files, { workers: 3, uploads: true });
    const cli = await admin(url(), 'drain', victim.address, '--wait');
    const result = await load.stop();

    expect(cli.output).toContain(`server ${victim.server_id}: draining`);
    expect(cli.output).toContain(`server ${victim.server_id}: drained`);
    expect(cli.code).toBe(0);
    expect(result.failures).toEqual([]);
    expect(result.requests).toBeGreaterThan(10);

    const view = await serversView(url());
    const drained = view.servers.find((s) => s.server_id === victim.server_id)!;
    expect(drained).toMatchObject({ membership: 'drained', chunks: 0, bytes: 0, copies_to_delete: 0 });
    expect(drained.drain).toMatchObject({ chunks_left: 0, percent_done: 100 });
    // Uploads of the load may have added chunks before the drain began.
    expect(drained.drain!.chunks_total).toBeGreaterThanOrEqual(victim.chunks);
    expect(await chunkIdsOnDisk(node(victim.server_id).dataDir)).toEqual(new Set());
    await expectReplicatedWithout([victim.server_id]);
    await expectAllByteExact(url(), files);

    const metrics = await (await fetch(`${url()}/metrics`)).text();
    expect(metrics).toMatch(/^ringstore_moved_bytes_total\{job="drain"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ringstore_chunks_to_move\{job="drain"\} 0$/m);

    // Remove: refused for a server that still holds chunks, done for the drained one.
    const busy = await fullestActive();
    const refused = await admin(url(), 'remove', busy.server_id);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`still holds ${busy.chunks} chunks`);
    const removed = await admin(url(), 'remove', victim.server_id);
    expect(removed.output).toContain(`server ${victim.server_id}: removed`);
    expect(removed.code).toBe(0);
    expect((await serversView(url())).servers.find((s) => s.server_id === victim.server_id)!.membership).toBe('removed');
    // Its heartbeats are refused from now on.
    await node(victim.server_id).proc.waitForLine(
      (l) => l.event === 'heartbeat_state' && l.to === 'failing' && /409/.test(l.message),
      30_000,
      'the removed server told its heartbeats are refused',
    );
    await expectAllByteExact(url(), files);
  }, 300_000);

  it('resumes a drain after the gateway is killed -9 halfway', async () => {
    const victim = await fullestActive();
    const started = await admin(url(), 'drain', victim.server_id);
    expect(started.code).toBe(0);
    const halfway = await waitFor(
      async () => {
        const server = (await serversView(url())).servers.find((s) => s.server_id === victim.server_id)!;
        return server.drain && server.drain.percent_done > 0 ? server : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the drain to move its first chunks' },
    );
    await cluster.restartGateway();
    expect(halfway.membership).toBe('draining');
    expect(halfway.drain!.chunks_left).toBeGreaterThan(0);

    // The restarted gateway finds the drain in the metadata and carries on.
    const done = await waitFor(
      async () => {
        const server = (await serversView(url())).servers.find((s) => s.server_id === victim.server_id)!;
        return server.membership === 'drained' ? server : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'the drain to finish after the gateway restart' },
    );
    expect(done).toMatchObject({ chunks: 0, copies_to_delete: 0 });
    expect(done.drain!.chunks_total).toBe(victim.chunks);
    const resumed = cluster.gateway.proc.lines.filter((l) => l.event === 'job_run' && l.job === 'drain');
    const movedAfterRestart = resumed.reduce((sum, l) => sum + Number((l.report as { chunksMoved: number }).chunksMoved), 0);
    expect(movedAfterRestart).toBeGreaterThan(0);
    expect(movedAfterRestart).toBeLessThan(victim.chunks);
    expect(await chunkIdsOnDisk(node(victim.server_id).dataDir)).toEqual(new Set());
    await expectReplicatedWithout([victim.server_id]);
    await expectAllByteExact(url(), files);
  }, 300_000);
});
