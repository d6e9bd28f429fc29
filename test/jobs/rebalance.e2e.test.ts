import { METADATA_BACKENDS, type Cluster } from '../helpers/cluster';
import { chunkIdsOnDisk } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import { admin, clusterWithFiles, expectAllByteExact, serversView, startLoad, storedReplicas, type StoredFile } from './cluster-load';

/**
 * A cluster that grows: 6 storage servers hold files, a 7th joins (empty), and a rebalance
 * (`ringstore admin rebalance --wait`) moves replicas onto it until every server is within
 * the band of its share, while clients download every file byte for byte and upload more.
 */

describe.each(METADATA_BACKENDS)('rebalance onto a new server on %s', (_name, postgresUrl) => {
  let cluster: Cluster;
  let files: StoredFile[];

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithFiles(postgresUrl, {
      DRAIN_INTERVAL_MS: '0',
      // Slow enough that the load runs alongside the moves.
      MOVE_BANDWIDTH: '1MiB',
    }, 30));
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  it('brings every server within the band after a 7th joins; files byte-exact during and after; no request fails', async () => {
    const url = cluster.gateway.url;
    const added = await cluster.addStorage();
    await cluster.waitForReady(7);
    const before = await serversView(url);
    expect(before.servers).toHaveLength(7);
    expect(before.balance.balanced).toBe(false);
    expect(before.servers.find((s) => s.server_id === added.serverId)!.chunks).toBe(0);

    const load = startLoad(url, files, { workers: 3, uploads: true });
    const cli = await admin(url, 'rebalance', '--wait');
    const result = await load.stop();

    expect(cli.output).toContain('rebalance started');
    expect(cli.output).toMatch(/rebalance finished: .*chunks moved [1-9]/);
    expect(cli.code).toBe(0);
    expect(result.failures).toEqual([]);
    expect(result.requests).toBeGreaterThan(10);

    const moved = await serversView(url);
    expect(moved.rebalance).toMatchObject({ running: false, outcome: 'finished' });
    expect(moved.rebalance!.report.chunksMoved).toBeGreaterThan(0);
    // Files uploaded by the load while the rebalance ran, and after its last pass, were placed
    // by the ring and may tip a server out of the band: a rebalance over the final data (the
    // periodic job's next run) settles them.
    const settle = await admin(url, 'rebalance', '--wait');
    expect(settle.code).toBe(0);
    const after = await serversView(url);
    expect(after.rebalance).toMatchObject({ running: false, outcome: 'finished' });
    expect(after.balance).toMatchObject({ balanced: true, servers_outside_band: 0 });
    for (const server of after.servers) expect(Math.abs(server.deviation_percent!)).toBeLessThanOrEqual(10);
    expect(after.servers.find((s) => s.server_id === added.serverId)!.chunks).toBeGreaterThan(0);
    await expectAllByteExact(url, files);

    // The moved replicas' old copies go once MOVE_DELETE_DELAY_MS passed (cleanup deletes them):
    // then every server holds exactly the copies the metadata records there.
    await waitFor(async () => (await serversView(url)).servers.every((s) => s.copies_to_delete === 0), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the moved copies to be deleted',
    });
    const recorded = new Map(cluster.storage.map((node) => [node.serverId, new Set<string>()]));
    for (const chunk of await storedReplicas(url, files)) {
      expect(new Set(chunk.servers).size).toBe(2);
      for (const serverId of chunk.servers) recorded.get(serverId)!.add(chunk.chunkId);
    }
    for (const node of cluster.storage) expect(await chunkIdsOnDisk(node.dataDir)).toEqual(recorded.get(node.serverId));

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^ringstore_moved_bytes_total\{job="rebalance"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ringstore_moved_chunks_total\{job="rebalance",outcome="moved"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ringstore_chunks_to_move\{job="rebalance"\} 0$/m);

    const listing = await admin(url, 'servers');
    expect(listing.code).toBe(0);
    for (const node of cluster.storage) expect(listing.output).toContain(node.serverId);
    expect(listing.output).toContain('balance: every active server within 10% of its share');
  }, 300_000);
});
