import { randomUUID } from 'node:crypto';
import { REPLICATION_FACTOR } from './chaos-cluster';
import { fileContent, sha256Hex } from './file-content';
import { GatewayClient, RequestFailed } from './gateway-client';
import type { Ledger, LedgerFile } from './ledger';
import { pause, randomInt } from './random';
import type { Operation, RequestStats } from './request-stats';

const MiB = 1024 * 1024;

export interface WorkloadOptions {
  workers: number;
  /** Upper bound of the usual upload size; 1 in 20 uploads is 1-4x that. */
  maxFileBytes: number;
}

/**
 * Continuous concurrent load: uploads (random sizes, raw and multipart), whole and ranged
 * downloads checked byte-exact against the ledger, and deletes. Runs until `signal` aborts;
 * each worker finishes its current request (bounded by the client timeout) and stops.
 */
export async function runWorkload(
  client: GatewayClient,
  ledger: Ledger,
  stats: RequestStats,
  random: () => number,
  options: WorkloadOptions,
  signal: AbortSignal,
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const roll = random();
      if (roll < 0.4 || ledger.liveCount() < options.workers) await upload();
      else if (roll < 0.65) await download(false);
      else if (roll < 0.87) await download(true);
      else await remove();
    }
  };

  /** Counts the request; a failure is recorded (blamed on the faults it overlapped) and yields undefined. */
  const attempt = async <T>(op: Operation, run: () => Promise<T>, onFailure?: (error: RequestFailed) => void): Promise<T | undefined> => {
    stats.count(op);
    const startedAt = Date.now();
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof RequestFailed)) throw error;
      stats.fail(op, startedAt, error.message);
      onFailure?.(error);
      // Pacing: a refused connection fails in microseconds; do not spin while the gateway is down.
      if (error.status === undefined) await pause(200, signal);
      return undefined;
    }
  };

  const upload = async (): Promise<void> => {
    const size = random() < 0.05 ? randomInt(random, options.maxFileBytes, 4 * options.maxFileBytes) : randomInt(random, 0, options.maxFileBytes);
    const seed = randomUUID();
    const data = fileContent(seed, size);
    const sha256 = sha256Hex(data);
    const ack = await attempt('upload', () => client.upload(data, `chaos-${size}.bin`, random() < 0.2));
    if (!ack) return;
    if (ack.size !== size || ack.checksum !== sha256) {
      stats.wrongBytes.push(`upload of ${size} bytes acknowledged as ${ack.size} bytes with checksum ${ack.checksum} (sent ${sha256}) for file ${ack.file_id}`);
    }
    const short = ack.replicas.filter((chunk) => new Set(chunk.server_ids).size < REPLICATION_FACTOR);
    if (short.length > 0 || ack.replicas.length !== ack.chunks) {
      stats.acksBelowR.push(`file ${ack.file_id}: ${ack.chunks} chunks, ${short.length} of them acknowledged on fewer than ${REPLICATION_FACTOR} servers`);
    }
    ledger.acknowledge({ fileId: ack.file_id, seed, size, sha256 });
  };

  const download = async (ranged: boolean): Promise<void> => {
    const file = ledger.pickLive(random);
    if (!file) return;
    file.readers++;
    try {
      if (ranged && file.size > 0) {
        const start = randomInt(random, 0, file.size - 1);
        const end = randomInt(random, start, Math.min(file.size - 1, start + 2 * MiB));
        const body = await readChecked('range', file, () => client.download(file.fileId, { start, end }));
        if (!body) return;
        const expected = fileContent(file.seed, file.size).subarray(start, end + 1);
        if (!body.equals(expected)) stats.wrongBytes.push(`range ${start}-${end} of file ${file.fileId} (${file.size} bytes) differs`);
      } else {
        const body = await readChecked('download', file, () => client.download(file.fileId));
        if (!body) return;
        if (body.length !== file.size || sha256Hex(body) !== file.sha256) {
          stats.wrongBytes.push(`download of file ${file.fileId} gave ${body.length} bytes, expected ${file.size} with sha256 ${file.sha256}`);
        }
      }
    } finally {
      file.readers--;
    }
  };

  /** A 404 for an acknowledged, not-deleted file is data loss, not just a failed request. */
  const readChecked = (op: 'download' | 'range', file: LedgerFile, run: () => Promise<Buffer>): Promise<Buffer | undefined> =>
    attempt(op, run, (error) => {
      if (error.status === 404) stats.missingDuringRun.push(file.fileId);
    });

  const remove = async (): Promise<void> => {
    const file = ledger.claimForDelete(random);
    if (!file) return;
    // A refused connection never reached the gateway: the file is certainly still there.
    let refused = false;
    const done = await attempt('delete', () => client.delete(file.fileId).then(() => true), (error) => {
      refused = error.message.includes('ECONNREFUSED');
    });
    ledger.setState(file, done ? 'deleted' : refused ? 'live' : 'unsure');
  };

  await Promise.all(Array.from({ length: options.workers }, worker));
}
