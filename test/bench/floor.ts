/**
 * `npm run bench -- floor [--size MiB] [--rounds N]`: the CPU per GiB of the parts of a large
 * upload that the design fixes, measured with Node, @grpc/grpc-js and the wire contract alone
 * (no ringstore code; each piece is a process of floor-worker.ts, its CPU from /proc):
 * - a node:http server receiving a body from `curl -T` and discarding it;
 * - SHA-256 (node:crypto) and CRC-32 (@node-rs/crc32) of the bytes, in 64 KiB pieces;
 * - grpc-js client streaming in 1 MiB PutChunk messages (proto/storage.proto loaded as
 *   ringstore loads it, its 4 MiB HTTP/2 window) to one grpc-js server that discards them, and
 *   to two at once (R=2): client and servers' CPU; and the same bytes on bare node:http2
 *   streams, which grpc-js runs on (the least a gRPC stream in Node can cost);
 * - writing to disk a MiB at a time with fdatasync after each, buffered and with O_DIRECT.
 * Each piece runs once per round (default 3 rounds of 1 GiB, the pieces interleaved), and each
 * figure is the median with the lowest and highest. The floor of an upload at R=2 is the
 * gateway's (HTTP in, SHA-256, CRC-32, the stream to two servers) plus the storage servers'
 * (two stream servers, each a CRC-32 check and an O_DIRECT write), with the streams as bare
 * node:http2 (the floor) and as plain grpc-js; the rate it allows is the machine's cores over
 * that CPU and curl's (the client shares them). What ringstore spends above the floor is its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NODE_FLAGS, UP_STORAGE_NODE_FLAGS } from '../../src/cli/node-flags';
import { HTTP2_WINDOW_BYTES } from '../../src/wire/http2-window';
import { cpuMs, endedChildrenCpuMs, killQuietly } from './bench-cluster';
import { percentile, type Figure } from './figures';
import type { FloorOptions, FloorRole } from './floor-worker';
import { expectOk, mbPerSecond, MiB, sizeArg, upload, writeTestFile } from './transfer';

const TIMEOUT_MS = 600_000;
const GiB = 1024 * MiB;
/** The gateway's V8 flags for the gateway's pieces, a storage server's for the servers' and the disk's. */
const GATEWAY_FLAGS = NODE_FLAGS;
const STORAGE_FLAGS = [...NODE_FLAGS, ...UP_STORAGE_NODE_FLAGS];

type WorkerMessage = { ready?: boolean; port?: number; done?: boolean; error?: string };

/** One forked floor-worker process, set up and waiting. */
class FloorWorker {
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(role: FloorRole, options: FloorOptions, flags: readonly string[]): Promise<FloorWorker> {
    const child = fork(path.join(__dirname, 'floor-worker.ts'), [role, JSON.stringify(options)], { execArgv: ['--require', 'tsx/cjs', ...flags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await nextMessage(child, role, 60_000).catch((error: Error) => {
      killQuietly(child.pid!);
      throw error;
    });
    return new FloorWorker(child, ready.port ?? 0);
  }

  /** Lets an active role do its work and waits for it. */
  async go(): Promise<void> {
    const done = nextMessage(this.child, 'go', TIMEOUT_MS);
    this.child.send('go');
    await done;
  }

  /** Kills the worker and waits until it is reaped, so its CPU never shows among the ended children of a later piece. */
  async stop(): Promise<void> {
    const exited = this.child.exitCode !== null || this.child.signalCode !== null ? undefined : once(this.child, 'exit');
    killQuietly(this.pid);
    await exited;
  }
}

function nextMessage(child: ChildProcess, what: string, timeoutMs: number): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(new Error(`floor worker ${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: WorkerMessage) => settle(message.error ? new Error(`floor worker ${what}: ${message.error}`) : undefined, message);
    const onExit = (code: number | null) => settle(new Error(`floor worker ${what} exited (${code})`));
    const settle = (error: Error | undefined, message?: WorkerMessage) => {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    };
    child.on('message', onMessage).on('exit', onExit);
  });
}

/** CPU (ms) each named group of processes spent during `action`, and its wall time. */
async function measure(groups: Record<string, number[]>, action: () => Promise<void>): Promise<{ cpu: Record<string, number>; ms: number }> {
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, cpuMs(pids)]));
  const started = performance.now();
  await action();
  const ms = performance.now() - started;
  return { cpu: Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, cpuMs(pids) - before[name]])), ms };
}

/** The workers of one piece, stopped once it is measured. */
async function withWorkers<T>(starting: Array<Promise<FloorWorker>>, use: (workers: FloorWorker[]) => Promise<T>): Promise<T> {
  const settled = await Promise.allSettled(starting);
  const workers = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return await use(workers);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

const HTTP_IN = 'node:http server receiving (curl -T)';
const CURL = 'curl -T sending it (the client, not in the floor)';

/** A piece of the floor: its CPU (ms) by part, and its wall time. */
type Piece = (size: number, work: string) => Promise<{ cpu: Record<string, number>; ms: number }>;

const active = (part: string, role: FloorRole, options: FloorOptions, flags: readonly string[]): Piece => (size) =>
  withWorkers([FloorWorker.start(role, { size, ...options }, flags)], ([worker]) => measure({ [part]: [worker.pid] }, () => worker.go()));

/** A sender streaming to `servers` sinks at once: `what` is grpc-js or node:http2. */
const streamPiece = (what: 'grpc-js' | 'node:http2', servers: number): Piece => (size) => {
  const [sink, sender]: FloorRole[] = what === 'grpc-js' ? ['grpc-sink', 'grpc-send'] : ['h2-sink', 'h2-send'];
  return withWorkers(Array.from({ length: servers }, () => FloorWorker.start(sink, { window: HTTP2_WINDOW_BYTES }, STORAGE_FLAGS)), (sinks) =>
    withWorkers([FloorWorker.start(sender, { size, ports: sinks.map((each) => each.port), window: HTTP2_WINDOW_BYTES }, GATEWAY_FLAGS)], ([client]) =>
      measure({ [`${what} client, ${servers} server${servers > 1 ? 's' : ''}`]: [client.pid], [`${what} server${servers > 1 ? 's, both' : ''} (of ${servers})`]: sinks.map((each) => each.pid) }, () => client.go())));
};

const PIECES: Record<string, Piece> = {
  'node:http': (size, work) =>
    withWorkers([FloorWorker.start('http-sink', {}, GATEWAY_FLAGS)], async ([sink]) => {
      const client = endedChildrenCpuMs();
      const measured = await measure({ [HTTP_IN]: [sink.pid] }, async () => {
        expectOk(await upload(`http://127.0.0.1:${sink.port}/`, path.join(work, 'source.bin'), 'PUT', TIMEOUT_MS), size, 'node:http PUT');
      });
      measured.cpu[CURL] = endedChildrenCpuMs() - client;
      return measured;
    }),
  'SHA-256': active('SHA-256 (node:crypto)', 'sha256', {}, GATEWAY_FLAGS),
  'CRC-32': active('CRC-32 (@node-rs/crc32)', 'crc32', {}, GATEWAY_FLAGS),
  'grpc-js x1': streamPiece('grpc-js', 1),
  'grpc-js x2': streamPiece('grpc-js', 2),
  'node:http2 x1': streamPiece('node:http2', 1),
  'node:http2 x2': streamPiece('node:http2', 2),
  'disk buffered': (size, work) => active('disk write, fdatasync per MiB, buffered', 'disk', { file: path.join(work, 'disk.bin') }, STORAGE_FLAGS)(size, work),
  'disk O_DIRECT': (size, work) => active('disk write, fdatasync per MiB, O_DIRECT', 'disk', { file: path.join(work, 'disk.bin'), direct: true }, STORAGE_FLAGS)(size, work),
};

/** Parts of an upload at R=2 by process, with how many times each counts, its gRPC streams carried by `transport`. */
const floorR2 = (transport: 'grpc-js' | 'node:http2'): Record<string, Array<[string, number]>> => ({
  gateway: [[HTTP_IN, 1], ['SHA-256 (node:crypto)', 1], ['CRC-32 (@node-rs/crc32)', 1], [`${transport} client, 2 servers`, 1]],
  'storage servers (both)': [[`${transport} servers, both (of 2)`, 1], ['CRC-32 (@node-rs/crc32)', 2], ['disk write, fdatasync per MiB, O_DIRECT', 2]],
});

export async function run(args: string[]): Promise<Figure[]> {
  const size = sizeArg(args, 1024);
  const rounds = Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 3);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-floor-'));
  const figures: Figure[] = [];
  const add = (metric: string, value: number, unit: string) => figures.push({ bench: 'floor', metric, value, unit });
  const perGiB: Record<string, number[]> = {};
  const rates: Record<string, number[]> = {};
  const loads: number[] = [];
  try {
    await writeTestFile(path.join(work, 'source.bin'), size);
    for (let round = 0; round < rounds; round++) {
      loads.push(os.loadavg()[0]);
      for (const [name, piece] of Object.entries(PIECES)) {
        const { cpu, ms } = await piece(size, work);
        for (const [part, spent] of Object.entries(cpu)) (perGiB[part] ??= []).push(spent / 1000 / (size / GiB));
        (rates[name] ??= []).push(mbPerSecond(size, ms));
        process.stderr.write('.');
      }
    }
    loads.push(os.loadavg()[0]);
    process.stderr.write('\n');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const spread = (values: number[]) => `s (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}, ${values.length} runs)`;
  add('load average (1 min) at each round and at the end', Math.max(...loads), `max (${loads.map((load) => load.toFixed(1)).join(', ')})`);
  for (const [part, values] of Object.entries(perGiB)) add(`${part}: CPU per GiB`, median(values), spread(values));
  for (const [name, values] of Object.entries(rates)) add(`${name}: rate (wall clock, shared cores)`, median(values), 'MB/s');
  // The floor of each round (its parts measured in the same round), so the spread is the floor's own.
  const cores = os.cpus().length;
  const floorOf = (round: number, parts: Array<[string, number]>) => parts.reduce((sum, [part, times]) => sum + perGiB[part][round] * times, 0);
  for (const [transport, what] of [['node:http2', 'the floor: gRPC streams as bare node:http2 streams'], ['grpc-js', 'plain grpc-js with proto-loader']] as const) {
    const byProcess = floorR2(transport);
    const totals = Array.from({ length: rounds }, (_, round) => Object.values(byProcess).reduce((sum, parts) => sum + floorOf(round, parts), 0));
    for (const [name, parts] of Object.entries(byProcess)) {
      const values = Array.from({ length: rounds }, (_, round) => floorOf(round, parts));
      add(`upload at R=2, ${what}: ${name} CPU per GiB`, median(values), spread(values));
    }
    add(`upload at R=2, ${what}: gateway + storage servers CPU per GiB`, median(totals), spread(totals));
    add(`upload at R=2, ${what}: rate ${cores} cores allow at that CPU and curl's`, (cores / (median(totals) + median(perGiB[CURL]))) * (GiB / 1e6), 'MB/s');
  }
  return figures;
}

function median(values: number[]): number {
  return percentile(values, 50);
}
