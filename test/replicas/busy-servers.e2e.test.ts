/**
 * Busy is not full, end to end: storage servers that run at most 4 puts at once (MAX_CONCURRENT_PUTS=4)
 * refuse the rest of a burst as busy. The gateway moves each refused replica to the next server
 * of the ring walk, offers it to the busy ones again after short waits, answers 201 only with R
 * copies on disk (or 503 saying the servers are busy), and keeps giving the busy servers new
 * chunks instead of pausing them as full for 30 s. Real storage-server processes, a real gateway.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { StorageClient } from '../../src/rpc/storage-client';
import { saysBusy } from '../../src/wire/busy-refusal';
import { startCluster, type Cluster } from '../helpers/cluster';
import { chunkIdsOnDisk, sha256 } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const KiB = 1024;
const R = 2;
const MAX_PUTS = 4;
/** A small put (one SmallChunkOps op), one PutChunk stream of one message, three chunks streamed. */
const SIZES = [4 * KiB, 300 * KiB, 2560 * KiB];

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: string; checksum?: string; replicas?: Array<{ chunk_id: string; server_ids: string[] }> };
  data: Buffer;
}

async function upload(url: string, data: Buffer): Promise<Answer> {
  const res = await fetch(`${url}/files?filename=burst.bin`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(data),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'], data };
}

describe('busy storage servers are not full', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ storageServers: 3, env: { MAX_CONCURRENT_PUTS: String(MAX_PUTS) } });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  /** Servers that refused a put because MAX_CONCURRENT_PUTS were in progress, as their own logs say. */
  const busyServers = (): string[] =>
    cluster.storage.filter((node) => node.proc.lines.some((line) => /too many puts in progress/.test(line.message))).map((node) => node.serverId);

  /** Each answer: 201 with R distinct servers per chunk, each holding it on disk; or 503 saying the servers are busy. */
  async function expectStoredOrBusy(answers: Answer[]): Promise<void> {
    const onDisk = new Map<string, Set<string>>();
    for (const node of cluster.storage) onDisk.set(node.serverId, await chunkIdsOnDisk(node.dataDir));
    for (const answer of answers) {
      if (answer.status !== 201) {
        expect([answer.status, answer.retryAfter, answer.body.error]).toEqual([503, '1', expect.stringMatching(/^the storage servers are busy: .*too many puts in progress; retry shortly$/)]);
        continue;
      }
      expect(answer.body.checksum).toBe(sha256(answer.data));
      for (const chunk of answer.body.replicas!) {
        expect(new Set(chunk.server_ids).size).toBe(R);
        for (const serverId of chunk.server_ids) expect([serverId, onDisk.get(serverId)?.has(chunk.chunk_id)]).toEqual([serverId, true]);
      }
    }
  }

  it('a burst of uploads: each is 201 with R copies or 503 saying busy, and the busy servers take new chunks right after', async () => {
    const burst = await Promise.all(Array.from({ length: 48 }, (_, n) => upload(cluster.gateway.url, randomBytes(SIZES[n % SIZES.length]))));
    const busy = busyServers();
    expect(busy.length).toBeGreaterThan(0); // the burst did find servers busy
    expect(burst.some((answer) => answer.status === 201)).toBe(true);
    await expectStoredOrBusy(burst);

    // Right after the burst, uploads one at a time reach every server that was busy: a 30 s
    // pause for "full" would keep them out far past this deadline.
    const notYetNamed = new Set(busy);
    const after: Answer[] = [];
    await waitFor(
      async () => {
        const answer = await upload(cluster.gateway.url, randomBytes(4 * KiB));
        after.push(answer);
        for (const chunk of answer.body.replicas ?? []) for (const serverId of chunk.server_ids) notYetNamed.delete(serverId);
        return notYetNamed.size === 0;
      },
      { timeoutMs: 10_000, intervalMs: 0, what: `new chunks on every server that was busy (${busy.join(', ')})` },
    );
    await expectStoredOrBusy(after);
  }, 120_000);

  it('an upload that finds every server busy for a moment waits for them: 201 with R copies, not 503', async () => {
    // Every put slot of every server taken by a put that sends nothing more.
    const holders = cluster.storage.map((node) => StorageClient.connect(node.address));
    const held = holders.flatMap((client) => Array.from({ length: MAX_PUTS }, () => client.putChunk(randomUUID(), '', 1)));
    try {
      await waitFor(async () => {
        const refusals = await Promise.all(holders.map((client) => client.putChunkBuffer(randomUUID(), randomBytes(1)).then(() => undefined, (error: unknown) => error)));
        return refusals.every((error) => saysBusy((error as { metadata?: unknown } | undefined)?.metadata));
      }, { timeoutMs: 15_000, what: 'every put slot of every server held' });
      const refusedBefore = gatewayBusyLines();
      const answer = upload(cluster.gateway.url, randomBytes(4 * KiB));
      await waitFor(() => gatewayBusyLines() >= refusedBefore + R, { timeoutMs: 15_000, what: 'the upload refused busy' });
      for (const put of held) put.abort('the servers have room again');
      await expectStoredOrBusy([await answer]);
      expect((await answer).status).toBe(201);
    } finally {
      for (const put of held) put.abort('test over');
      for (const client of holders) client.close();
    }
  }, 60_000);

  /** The gateway's "Server <id> was busy" lines so far. */
  const gatewayBusyLines = (): number => cluster.gateway.proc.lines.filter((line) => /was busy \(too many puts in progress\)/.test(line.message)).length;
});
