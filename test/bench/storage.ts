/**
 * `npm run bench -- storage [--seconds S] [--writers N] [--only small|large] [--profile DIR]`: one real storage server
 * (`ringstore storage`) and StorageClient in this process, no gateway:
 * - small puts: 4 KiB chunks from N concurrent writers (default 32): puts/s, p50/p99, the server's
 *   CPU per put;
 * - large puts: chunks of 1-8 MiB from 4 writers: MB/s, and CPU seconds per GiB of the server
 *   and of this process (the rpc client's side: CRC-32 and framing).
 * Every put is acknowledged only once durable (fsync), so the figures include the disk.
 * --profile DIR runs the server with --cpu-prof into DIR.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StorageClient } from '../../src/rpc/storage-client';
import { spawnStorageServer } from '../helpers/storage-server';
import { RingstoreProcess } from '../helpers/process';
import { cpuMs } from './bench-cluster';
import type { Figure } from './figures';
import { closedLoop, type LoadResult } from './load';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const LARGE_WRITERS = 4;

export async function run(args: string[]): Promise<Figure[]> {
  const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const seconds = Number(option('--seconds')) || 8;
  const writers = Number(option('--writers')) || 32;
  const profileDir = option('--profile');
  const only = option('--only');
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-bench-storage-'));
  const env: Record<string, string> = { MAX_CONCURRENT_PUTS: String(Math.max(64, writers * 2)) };
  const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
  const server = await spawnStorageServer(path.join(work, 'data'), { env, nodeFlags });
  const client = StorageClient.connect(server.address);
  const figures: Figure[] = [];
  const figure = (metric: string, value: number, unit: string) => figures.push({ bench: 'storage', metric, value, unit });
  const serverCpuMs = () => cpuMs([server.process.child.pid!]);
  const clientCpuMs = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const reportFailures = (what: string, result: LoadResult) => {
    if (result.failed > 0) process.stderr.write(`${what}: ${result.failed} failed, e.g. ${result.errors.join(' | ')}\n`);
    figure(`${what} failed`, result.failed, 'puts');
  };
  try {
    figure('load average at start (1 min)', os.loadavg()[0], '');
    await client.putChunkBuffer(randomUUID(), randomBytes(4 * KiB)); // connect and warm up

    if (only !== 'large') await smallPuts();
    if (only !== 'small') await largePuts();
    figure('load average at end (1 min)', os.loadavg()[0], '');
  } finally {
    client.close();
    // SIGTERM lets a profiled server write its profile on the way out.
    await server.process.kill('SIGTERM');
    await RingstoreProcess.killAll();
    await rm(work, { recursive: true, force: true });
  }
  return figures;

  async function smallPuts(): Promise<void> {
    const small = randomBytes(4 * KiB);
    const serverBefore = serverCpuMs();
    const smallPuts = await closedLoop(writers, seconds * 1000, async () => {
      const result = await client.putChunkBuffer(randomUUID(), small);
      if (!result.success) throw new Error(result.error_message);
    });
    figure(`4 KiB puts/s (${writers} writers)`, smallPuts.perSecond, 'puts/s');
    figure('4 KiB put p50', smallPuts.p50, 'ms');
    figure('4 KiB put p99', smallPuts.p99, 'ms');
    figure('4 KiB put server CPU per put', (serverCpuMs() - serverBefore) / Math.max(1, smallPuts.requests), 'ms');
    reportFailures('4 KiB put', smallPuts);
  }

  async function largePuts(): Promise<void> {
    // Chunk sizes from 1 to 8 MiB, sliced from one random buffer so making data costs nothing.
    const source = randomBytes(8 * MiB);
    let bytes = 0;
    const serverBefore = serverCpuMs();
    const clientBefore = clientCpuMs();
    const started = performance.now();
    const largePuts = await closedLoop(LARGE_WRITERS, seconds * 1000, async (_, n) => {
      const size = MiB + ((n * 2_654_435_761) % (7 * MiB));
      const result = await client.putChunkBuffer(randomUUID(), source.subarray(0, size));
      if (!result.success) throw new Error(result.error_message);
      bytes += size;
    });
    const elapsed = (performance.now() - started) / 1000;
    figure(`1-8 MiB puts (${LARGE_WRITERS} writers)`, bytes / MiB / elapsed, 'MB/s');
    figure('1-8 MiB puts server CPU per GiB', (serverCpuMs() - serverBefore) / 1000 / (bytes / GiB), 's');
    figure('1-8 MiB puts client CPU per GiB', (clientCpuMs() - clientBefore) / 1000 / (bytes / GiB), 's');
    reportFailures('1-8 MiB put', largePuts);
  }
}
