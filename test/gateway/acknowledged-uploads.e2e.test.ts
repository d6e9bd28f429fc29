/**
 * Batched metadata commits lose nothing acknowledged: the gateway is killed (-9) while 32
 * clients upload small files, so completions are being committed in shared batches at that
 * moment. Every upload that got a 201, before any of the kills, reads back byte-exact from the
 * restarted gateway, and lists with its chunks on R servers.
 */
import { clusterForTests, METADATA_BACKENDS } from '../helpers/cluster';
import { download, sha256, testData } from '../helpers/files';
import { waitFor } from '../helpers/wait';

const CLIENTS = 32;
const KILLS = 3;

describe.each(METADATA_BACKENDS)('kill -9 of the gateway during batched commits on %s', (_name, postgresUrl) => {
  const cluster = clusterForTests({ storageServers: 3, postgresUrl });

  it(`every 201 survives ${KILLS} kills under ${CLIENTS} concurrent small uploads`, async () => {
    const acknowledged: Array<{ id: string; checksum: string; chunks: Array<{ server_ids: string[] }> }> = [];
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const data = testData(1 + ((n * 7919 + i * 104_729) % (64 * 1024)));
        try {
          const res = await fetch(`${cluster().gateway.url}/files?filename=c${n}-${i}.bin`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/octet-stream' },
            body: new Uint8Array(data),
            signal: AbortSignal.timeout(60_000),
          });
          const body = (await res.json()) as { file_id: string; checksum: string; replicas: Array<{ server_ids: string[] }> };
          if (res.status === 201) acknowledged.push({ id: body.file_id, checksum: sha256(data), chunks: body.replicas });
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50)); // the gateway is down: do not spin
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const before = acknowledged.length;
        await waitFor(() => acknowledged.length >= before + 2 * CLIENTS, { timeoutMs: 120_000, what: 'uploads acknowledged by this gateway' });
        await cluster().restartGateway();
        await cluster().waitForReady(3);
      }
    } finally {
      running = false;
      await Promise.all(clients);
    }

    expect(acknowledged.length).toBeGreaterThanOrEqual(KILLS * 2 * CLIENTS);
    const lost: string[] = [];
    for (const file of acknowledged) {
      expect(file.chunks.every((c) => new Set(c.server_ids).size === 2)).toBe(true);
      const back = await download(cluster().gateway.url, file.id);
      if (back.status !== 200 || sha256(back.body) !== file.checksum) lost.push(`${file.id}: ${back.status}`);
    }
    expect(lost).toEqual([]);
  }, 600_000);
});
