/**
 * `npm run bench -- small [--seconds S] [--clients N] [--warmup S]`: small files through `ringstore up` (R=2)
 * with 32 concurrent keep-alive clients, for 4 KiB, 64 KiB and 1 MiB files: uploads/s and
 * downloads/s (bytes checked) with p50/p99 latency and the server CPU per request, then metadata
 * reads/s and the reference server's static GET rate of a 4 KiB file with the same client in the
 * same run. Downloads are measured twice: with the gateway's small-file cache (default settings:
 * uploaded files of up to 64 KiB are hot), asking only for the files uploaded last that the cache's
 * default budget holds, and on a second cluster with SMALL_FILE_CACHE_BYTES=0, where every
 * download reads its chunk from a storage server and every file uploaded is asked for. Before the first measured phase,
 * the first cluster serves `--warmup` seconds (default 2; 0 for none) of 4 KiB uploads, each
 * downloaded back, that are not measured: the first phase would otherwise measure V8 compiling
 * the hot paths of freshly started processes (the second cluster's cold downloads follow
 * unmeasured uploads, which warm it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SMALL_FILE_CACHE_BYTES, SMALL_FILE_MAX_BYTES } from '../../src/files/small-file-cache';
import { pidsByRole, startUp } from './bench-cluster';
import type { Figure } from './figures';
import { closedLoop, keepAliveAgent, request, type LoadResult } from './load';
import { phaseMeasurer } from './measured-phase';
import { startReference } from './reference-server';

const FILE_BYTES = 4096;
const SIZES: Array<[string, number]> = [['4 KiB', 4096], ['64 KiB', 64 * 1024], ['1 MiB', 1024 * 1024]];

/**
 * How many files of this size the downloads with the cache ask for: those the default budget
 * holds, with room to spare for uploads that completed out of order. Striding over more than an
 * LRU cache holds misses on every request (a 4 KiB upload phase at 1,300/s stores ~45 MiB).
 */
function cachedFiles(size: number): number {
  return size <= SMALL_FILE_MAX_BYTES ? Math.floor((DEFAULT_SMALL_FILE_CACHE_BYTES * 3) / 4 / size) : Infinity;
}

interface StoredFile {
  id: string;
  data: Buffer;
}

export async function run(args: string[]): Promise<Figure[]> {
  const seconds = Number(args[args.indexOf('--seconds') + 1]) || 8;
  const clients = Number(args[args.indexOf('--clients') + 1]) || 32;
  const warmupArg = args.indexOf('--warmup');
  const warmupMs = (warmupArg === -1 ? 2 : Number(args[warmupArg + 1])) * 1000;
  if (!Number.isFinite(warmupMs) || warmupMs < 0) throw new Error(`--warmup takes a number of seconds (0 or more), got ${args[warmupArg + 1]}`);
  const phaseMs = seconds * 1000;
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-small-'));
  const reference = await startReference(work);
  let cluster = await startUp({ replication: 2 });
  const agent = keepAliveAgent(clients);
  const figures: Figure[] = [];
  const ringstorePids = () => pidsByRole(cluster);
  const measured = phaseMeasurer('small', clients, figures);
  try {
    await writeFile(path.join(reference.root, 'small.bin'), randomBytes(FILE_BYTES));
    const stored = new Map<number, StoredFile[]>();
    const uploads = (size: number) => {
      const files: StoredFile[] = [];
      stored.set(size, files);
      return closedLoop(clients, phaseMs, async () => {
        const data = randomBytes(size);
        const reply = await request(agent, `${cluster.url}/files?filename=small.bin`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
        if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
        files.push({ id: (JSON.parse(reply.body.toString()) as { file_id: string }).file_id, data });
      });
    };
    /** The n-th file asked for, striding over the last `among` uploaded of that size. */
    const pick = (size: number, n: number, among = Infinity) => {
      const files = stored.get(size) ?? [];
      if (files.length === 0) throw new Error('no upload succeeded');
      const count = Math.min(files.length, among);
      return files[files.length - count + ((n * 7919) % count)];
    };
    const downloads = (size: number, among?: number) => closedLoop(clients, phaseMs, async (_, n) => {
      const file = pick(size, n, among);
      const reply = await request(agent, `${cluster.url}/files/${file.id}`);
      if (reply.status !== 200 || !reply.body.equals(file.data)) throw new Error(`download of ${file.id} answered ${reply.status} with ${reply.body.length} bytes, not the uploaded ones`);
    });
    if (warmupMs > 0) {
      const warmup = await closedLoop(clients, warmupMs, async () => {
        const data = randomBytes(FILE_BYTES);
        const reply = await request(agent, `${cluster.url}/files?filename=warmup.bin`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
        if (reply.status !== 201) throw new Error(`warm-up upload answered ${reply.status}`);
        const back = await request(agent, `${cluster.url}/files/${(JSON.parse(reply.body.toString()) as { file_id: string }).file_id}`);
        if (back.status !== 200 || !back.body.equals(data)) throw new Error(`warm-up download answered ${back.status}`);
      });
      if (warmup.failed > 0) process.stderr.write(`warm-up: ${warmup.failed} of ${warmup.requests} failed, e.g. ${warmup.errors.join(' | ')}\n`);
    }
    let smallDownloads: LoadResult | undefined;
    for (const [label, size] of SIZES) {
      await measured(`${label} uploads`, ringstorePids, () => uploads(size));
      const result = await measured(`${label} downloads`, ringstorePids, () => downloads(size, cachedFiles(size)));
      smallDownloads ??= result;
    }
    await measured('metadata reads', ringstorePids, () => closedLoop(clients, phaseMs, async (_, n) => {
      const file = pick(FILE_BYTES, n);
      const reply = await request(agent, `${cluster.url}/files/${file.id}/metadata`);
      if (reply.status !== 200) throw new Error(`metadata of ${file.id} answered ${reply.status}`);
    }));
    const referenceGets = await measured(`${reference.kind} 4 KiB static GET (reference)`, reference.pids, () => closedLoop(clients, phaseMs, async () => {
      const reply = await request(agent, `${reference.url}/small.bin`);
      if (reply.status !== 200 || reply.body.length !== FILE_BYTES) throw new Error(`${reference.kind} answered ${reply.status}`);
    }));
    figures.push({ bench: 'small', metric: `4 KiB downloads / ${reference.kind} GET`, value: smallDownloads!.perSecond / referenceGets.perSecond, unit: 'x' });

    await cluster.stop();
    cluster = await startUp({ replication: 2, env: { SMALL_FILE_CACHE_BYTES: '0' } });
    for (const [label, size] of SIZES) {
      await uploads(size);
      const uncached = await measured(`${label} downloads, cache off`, ringstorePids, () => downloads(size));
      if (size === FILE_BYTES) {
        figures.push({ bench: 'small', metric: `4 KiB downloads with cache off / ${reference.kind} GET`, value: uncached.perSecond / referenceGets.perSecond, unit: 'x' });
      }
    }
  } finally {
    agent.destroy();
    await cluster.stop();
    await reference.stop();
    await rm(work, { recursive: true, force: true });
  }
  return figures;
}
