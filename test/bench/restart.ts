/**
 * `npm run bench -- restart`: a rolling restart of every storage server of `ringstore up`
 * (R=2, 6 servers) under load. Each server in turn gets SIGTERM (a graceful stop, as an
 * operator's restart does); up's supervisor starts it again and the next one goes only once
 * the gateway sees all servers Ready. Meanwhile 8 clients upload 256 KiB files and read them
 * back byte for byte. Figures: requests, failed requests, wrong bytes.
 */
import { randomBytes } from 'node:crypto';
import { startUp } from './bench-cluster';
import type { Figure } from './figures';
import { closedLoop, keepAliveAgent, request } from './load';
import { waitFor } from '../helpers/wait';

const CLIENTS = 8;
const FILE_BYTES = 256 * 1024;
const SETTLE_MS = 2_000;

export async function run(): Promise<Figure[]> {
  const cluster = await startUp({ replication: 2 });
  const agent = keepAliveAgent(CLIENTS);
  let wrongBytes = 0;
  let restarting = true;
  try {
    const load = closedLoop(CLIENTS, 10 * 60_000, async (worker, n) => {
      const data = randomBytes(FILE_BYTES);
      const put = await request(agent, `${cluster.url}/files?filename=r-${worker}-${n}.bin`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' }, timeoutMs: 60_000 });
      if (put.status !== 201) throw new Error(`upload answered ${put.status}: ${put.body.toString().slice(0, 200)}`);
      const { file_id: fileId } = JSON.parse(put.body.toString()) as { file_id: string };
      const get = await request(agent, `${cluster.url}/files/${fileId}`, { timeoutMs: 60_000 });
      if (get.status !== 200) throw new Error(`download of ${fileId} answered ${get.status}: ${get.body.toString().slice(0, 200)}`);
      if (!get.body.equals(data)) {
        wrongBytes++;
        throw new Error(`download of ${fileId} returned other bytes than uploaded`);
      }
    }, { stop: () => !restarting });
    const restarts: number[] = [];
    for (const port of cluster.storagePorts) {
      const before = cluster.storagePid(port);
      const t0 = performance.now();
      process.kill(before, 'SIGTERM');
      await waitFor(() => { try { return cluster.storagePid(port) !== before; } catch { return false; } }, { timeoutMs: 60_000, intervalMs: 50, what: `storage server on ${port} restarted` });
      await waitFor(async () => (await cluster.readyCount()) >= cluster.storagePorts.length, { timeoutMs: 60_000, intervalMs: 50, what: 'every server Ready again' });
      restarts.push(performance.now() - t0);
      process.stderr.write('.');
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    restarting = false;
    const result = await load;
    process.stderr.write('\n');
    if (result.errors.length > 0) process.stderr.write(`restart: ${result.failed} failed, e.g. ${result.errors.join(' | ')}\n`);
    const figure = (metric: string, value: number, unit = 'requests'): Figure => ({ bench: 'restart', metric, value, unit });
    // Each loop iteration is an upload and a download.
    return [
      figure(`requests during a rolling restart of ${restarts.length} servers (R=2, ${CLIENTS} clients)`, result.requests * 2),
      figure('failed requests', result.failed),
      figure('wrong bytes (downloads not equal to the upload)', wrongBytes),
      figure('SIGTERM -> all servers Ready again, mean per server', restarts.reduce((a, b) => a + b, 0) / restarts.length, 'ms'),
    ];
  } finally {
    restarting = false;
    agent.destroy();
    await cluster.stop();
  }
}
