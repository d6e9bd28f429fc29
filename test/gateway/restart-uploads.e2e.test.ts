/**
 * Chaos finding 6, repeated on purpose: "an upload stuck for 60+ s after a gateway restart".
 * A real gateway is killed (-9) and started again on the same port and data many times while
 * uploaders keep uploading. An upload may fail while the gateway is down (refused, reset, 503),
 * but no attempt, whatever its outcome, may take longer than a bound derived from its size.
 */
import path from 'node:path';
import { clusterForTests, type GatewayNode } from '../helpers/cluster';
import { sha256, testData } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const RESTARTS = Number(process.env.RESTART_UPLOADS_RESTARTS ?? 8);
const UPLOADERS = 6;
const MAX_SIZE = 2 * 1024 * 1024;
/** Generous for a loaded 2-core machine: a 2 MiB upload normally takes well under a second. */
const boundMs = (size: number) => 15_000 + (2_000 * size) / (1024 * 1024);

interface Attempt {
  size: number;
  ms: number;
  outcome: string;
}

describe('uploads across gateway restarts (chaos finding 6)', () => {
  const cluster = clusterForTests({ storageServers: 3 }, 120_000);

  /** kill -9 and the same gateway again: same port, same data directory, same database. */
  async function restart(node: GatewayNode): Promise<void> {
    await node.proc.kill('SIGKILL');
    node.proc = new RingstoreProcess(['gateway', '--host', '127.0.0.1', '--port', String(node.port), '--data', path.join(cluster().root, 'gateway-1')], cluster().env);
    await node.proc.waitForLine((l) => l.event === 'listening', 90_000, 'the restarted gateway listening');
  }

  it(`no upload hangs: ${RESTARTS} restarts under ${UPLOADERS} concurrent uploaders`, async () => {
    const attempts: Attempt[] = [];
    const stored: Array<{ id: string; checksum: string }> = [];
    let running = true;
    const uploader = async (n: number) => {
      for (let i = 0; running; i++) {
        const size = (n * 7919 + i * 104_729) % MAX_SIZE;
        const data = testData(size);
        const startedAt = Date.now();
        let outcome: string;
        try {
          const response = await fetch(`${cluster().gateway.url}/files?filename=u${n}-${i}.bin`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/octet-stream' },
            body: new Uint8Array(data),
            // Well past any bound: a hang is measured, not cut short by the client.
            signal: AbortSignal.timeout(180_000),
          });
          const body = (await response.json()) as { file_id?: string; checksum?: string };
          outcome = String(response.status);
          if (response.status === 201) stored.push({ id: body.file_id!, checksum: sha256(data) });
          expect(response.status === 201 ? body.checksum : sha256(data)).toBe(sha256(data));
        } catch (error) {
          outcome = `${(error as Error).message}: ${String((error as { cause?: { code?: string } }).cause?.code ?? '')}`;
          await new Promise((resolve) => setTimeout(resolve, 50)); // the gateway is down: do not spin
        }
        attempts.push({ size, ms: Date.now() - startedAt, outcome });
      }
    };
    const uploads = Array.from({ length: UPLOADERS }, (_, n) => uploader(n));
    try {
      for (let r = 0; r < RESTARTS; r++) {
        // Let uploads get stored by this gateway (and more under way), then pull it from under them.
        const before = stored.length;
        await waitFor(() => stored.length >= before + 2 * UPLOADERS, { timeoutMs: 90_000, what: 'uploads stored by this gateway' });
        await restart(cluster().gateway);
      }
      await cluster().waitForReady(3);
    } finally {
      running = false;
      await Promise.all(uploads);
    }

    const slow = attempts.filter((a) => a.ms > boundMs(a.size));
    const byOutcome = attempts.reduce<Record<string, number>>((counts, a) => ({ ...counts, [a.outcome]: (counts[a.outcome] ?? 0) + 1 }), {});
    const slowest = [...attempts].sort((a, b) => b.ms - a.ms).slice(0, 3);
    process.stderr.write(`restart-uploads: ${attempts.length} attempts, outcomes ${JSON.stringify(byOutcome)}, slowest ${JSON.stringify(slowest)}\n`);
    expect(slow).toEqual([]);
    expect(stored.length).toBeGreaterThanOrEqual(2 * UPLOADERS * RESTARTS);
    // Every upload acknowledged before, between or after the restarts is there, byte-exact.
    for (const { id, checksum } of stored) {
      const response = await fetch(`${cluster().gateway.url}/files/${id}/metadata`);
      expect([id, response.status, ((await response.json()) as { checksum: string }).checksum]).toEqual([id, 200, checksum]);
    }
  }, 600_000);
});
