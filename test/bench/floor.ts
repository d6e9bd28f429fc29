/**
 * `npm run bench -- floor [--requests] [--size MiB] [--rounds N]`: the CPU per GiB of the parts of a large
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
 *
 * Then (alone with --requests) the CPU per request of a small file's fixed parts, in the same
 * rounds and the same way: a node:http server answering 32 keep-alive clients' 4 KiB POSTs
 * (a small JSON) and GETs, and the bench's own client (load.ts) doing them; grpc-js unary
 * PutSmallChunks of 1, 8 and 16 4 KiB chunks per call (32 chunks in flight) and ReadChunk of
 * 4 KiB, client and server; 4 KiB appends to one file, 1, 8 or 16 per write and fdatasync; a
 * PGlite (in this worker, in memory) commit of one small row alone and 16 per transaction, and
 * a lookup by key. The floor of a 4 KiB upload at R=2 is HTTP in, two PutSmallChunks shares
 * (8 chunks a call: 32 uploads' 64 chunks over 6 servers), two append shares of 8, a row in a
 * commit of 16 and that commit's WAL fsync share; of a cold download, HTTP out, a ReadChunk and
 * a lookup; each with the client's CPU beside it, and the rate the cores allow at both.
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

  /** Lets an active role do its work (its `step`, for a role of several) and waits for it. */
  async go(step?: string): Promise<void> {
    const done = nextMessage(this.child, 'go', TIMEOUT_MS);
    this.child.send(step === undefined ? 'go' : `go:${step}`);
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

/** Figures of one part of the floor bench. */
type Add = (metric: string, value: number, unit: string) => void;

export async function run(args: string[]): Promise<Figure[]> {
  const rounds = Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 3);
  const figures: Figure[] = [];
  const add: Add = (metric, value, unit) => figures.push({ bench: 'floor', metric, value, unit });
  if (!args.includes('--requests')) await perGiB(sizeArg(args, 1024), rounds, add);
  await perRequest(rounds, add);
  return figures;
}

/** `each` once per piece per round, the pieces interleaved; the 1-minute load average at each round and at the end. */
async function inRounds(what: string, rounds: number, pieces: string[], each: (piece: string) => Promise<void>, add: Add): Promise<void> {
  const loads: number[] = [];
  for (let round = 0; round < rounds; round++) {
    loads.push(os.loadavg()[0]);
    for (const piece of pieces) {
      await each(piece);
      process.stderr.write('.');
    }
  }
  loads.push(os.loadavg()[0]);
  process.stderr.write('\n');
  add(`${what}: load average (1 min) at each round and at the end`, Math.max(...loads), `max (${loads.map((load) => load.toFixed(1)).join(', ')})`);
}

const spread = (unit: string, values: number[], digits: number) => `${unit} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}, ${values.length} runs)`;

/** Each round's sum of `parts` (measured in that round, each counted `times`), so a sum's spread is its own. */
const sumsByRound = (byPart: Record<string, number[]>, rounds: number, parts: Array<[string, number]>) =>
  Array.from({ length: rounds }, (_, round) => parts.reduce((sum, [part, times]) => sum + byPart[part][round] * times, 0));

async function perGiB(size: number, rounds: number, add: Add): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-floor-'));
  const perGiB: Record<string, number[]> = {};
  const rates: Record<string, number[]> = {};
  try {
    await writeTestFile(path.join(work, 'source.bin'), size);
    await inRounds('per GiB', rounds, Object.keys(PIECES), async (name) => {
      const { cpu, ms } = await PIECES[name](size, work);
      for (const [part, spent] of Object.entries(cpu)) (perGiB[part] ??= []).push(spent / 1000 / (size / GiB));
      (rates[name] ??= []).push(mbPerSecond(size, ms));
    }, add);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const [part, values] of Object.entries(perGiB)) add(`${part}: CPU per GiB`, median(values), spread('s', values, 2));
  for (const [name, values] of Object.entries(rates)) add(`${name}: rate (wall clock, shared cores)`, median(values), 'MB/s');
  const cores = os.cpus().length;
  for (const [transport, what] of [['node:http2', 'the floor: gRPC streams as bare node:http2 streams'], ['grpc-js', 'plain grpc-js with proto-loader']] as const) {
    const byProcess = floorR2(transport);
    const totals = sumsByRound(perGiB, rounds, Object.values(byProcess).flat());
    for (const [name, parts] of Object.entries(byProcess)) {
      const values = sumsByRound(perGiB, rounds, parts);
      add(`upload at R=2, ${what}: ${name} CPU per GiB`, median(values), spread('s', values, 2));
    }
    add(`upload at R=2, ${what}: gateway + storage servers CPU per GiB`, median(totals), spread('s', totals, 2));
    add(`upload at R=2, ${what}: rate ${cores} cores allow at that CPU and curl's`, (cores / (median(totals) + median(perGiB[CURL]))) * (GiB / 1e6), 'MB/s');
  }
}

/** Operations per piece: enough CPU that /proc's 10 ms ticks stay within a few % of each part's. */
const REQUESTS = 10_000;
const CHUNKS = 16_000;
const SYNCS = 2_000;
const ROWS = 8_000;
/** The small bench's keep-alive clients. */
const CLIENTS = 32;
/** Chunks per PutSmallChunks call and records per fdatasync in an upload's floor: 32 uploads' 64 chunks over 6 servers, ~10 each. */
const PUT_BATCH = 8;
/** Rows per metadata commit in an upload's floor: the gateway's commits gather the 32 clients' uploads. */
const ROW_BATCH = 16;

const httpServer = (read: boolean) => `node:http server, 4 KiB ${read ? 'GET' : 'POST'}`;
const httpClient = (read: boolean) => `bench client (load.ts), 4 KiB ${read ? 'GET' : 'POST'}`;
const grpcPut = (side: 'client' | 'server', batch: number) => `grpc-js ${side}, PutSmallChunks of ${batch} (per chunk)`;
const grpcRead = (side: 'client' | 'server') => `grpc-js ${side}, ReadChunk of 4 KiB`;
const appendSync = (batch: number) => `4 KiB appends, ${batch} per write and fdatasync (per chunk)`;
const pgliteCommit = (batch: number) => `PGlite commit, ${batch} row${batch > 1 ? 's' : ''} per transaction (per row)`;
const PGLITE_LOOKUP = 'PGlite lookup of a row by key';

/** A piece of the per-request floor: CPU (ms) per operation by part. */
type RequestPiece = () => Promise<Record<string, number>>;

/** CPU per operation of `count` operations by each group of processes. */
async function perOperation(count: number, groups: Record<string, number[]>, action: () => Promise<void>): Promise<Record<string, number>> {
  const { cpu } = await measure(groups, action);
  return Object.fromEntries(Object.entries(cpu).map(([part, ms]) => [part, ms / count]));
}

const httpPiece = (read: boolean): RequestPiece => () =>
  withWorkers([FloorWorker.start('http-answer', {}, GATEWAY_FLAGS)], ([server]) =>
    withWorkers([FloorWorker.start('http-load', { ports: [server.port], clients: CLIENTS, count: REQUESTS, read }, [])], ([client]) =>
      perOperation(REQUESTS, { [httpServer(read)]: [server.pid], [httpClient(read)]: [client.pid] }, () => client.go())));

/** PutSmallChunks of `batch` chunks per call, or ReadChunk with 'read'. */
const grpcPiece = (batch: number | 'read'): RequestPiece => () =>
  withWorkers([FloorWorker.start('grpc-unary-sink', {}, STORAGE_FLAGS)], ([server]) =>
    withWorkers([FloorWorker.start('grpc-unary-send', { ports: [server.port], count: CHUNKS, batch: batch === 'read' ? 1 : batch, read: batch === 'read' }, GATEWAY_FLAGS)], ([client]) => {
      const name = (side: 'client' | 'server') => (batch === 'read' ? grpcRead(side) : grpcPut(side, batch));
      return perOperation(CHUNKS, { [name('client')]: [client.pid], [name('server')]: [server.pid] }, () => client.go());
    }));

const appendPiece = (batch: number, work: string): RequestPiece => () =>
  withWorkers([FloorWorker.start('append-sync', { file: path.join(work, 'volume.bin'), count: SYNCS * batch, batch }, STORAGE_FLAGS)], ([writer]) =>
    perOperation(SYNCS * batch, { [appendSync(batch)]: [writer.pid] }, () => writer.go()));

/** One PGlite per round (it takes seconds to start), its steps measured one by one. */
const pglitePiece: RequestPiece = () =>
  withWorkers([FloorWorker.start('pglite', { count: ROWS }, [])], async ([db]) => {
    const perRow: Record<string, number> = {};
    for (const [part, step] of [[pgliteCommit(1), 'insert-1'], [pgliteCommit(ROW_BATCH), `insert-${ROW_BATCH}`], [PGLITE_LOOKUP, 'lookup']]) {
      Object.assign(perRow, await perOperation(ROWS, { [part]: [db.pid] }, () => db.go(step)));
    }
    return perRow;
  });

const requestPieces = (work: string): Record<string, RequestPiece> => ({
  'HTTP POST': httpPiece(false),
  'HTTP GET': httpPiece(true),
  'PutSmallChunks x1': grpcPiece(1),
  [`PutSmallChunks x${PUT_BATCH}`]: grpcPiece(PUT_BATCH),
  'PutSmallChunks x16': grpcPiece(16),
  ReadChunk: grpcPiece('read'),
  'append x1': appendPiece(1, work),
  [`append x${PUT_BATCH}`]: appendPiece(PUT_BATCH, work),
  'append x16': appendPiece(16, work),
  PGlite: pglitePiece,
});

/** A 4 KiB upload at R=2 and a cold 4 KiB download by process, with how many times each part counts; the client apart. */
const SMALL_FLOORS: Record<string, { processes: Record<string, Array<[string, number]>>; client: string }> = {
  '4 KiB upload at R=2': {
    processes: {
      gateway: [[httpServer(false), 1], [grpcPut('client', PUT_BATCH), 2]],
      'storage servers (both)': [[grpcPut('server', PUT_BATCH), 2], [appendSync(PUT_BATCH), 2]],
      'metadata (its row, its WAL fsync share)': [[pgliteCommit(ROW_BATCH), 1], [appendSync(ROW_BATCH), 1]],
    },
    client: httpClient(false),
  },
  'cold 4 KiB download': {
    processes: {
      gateway: [[httpServer(true), 1], [grpcRead('client'), 1]],
      'storage server': [[grpcRead('server'), 1]],
      metadata: [[PGLITE_LOOKUP, 1]],
    },
    client: httpClient(true),
  },
};

async function perRequest(rounds: number, add: Add): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-floor-'));
  const perOp: Record<string, number[]> = {};
  try {
    const pieces = requestPieces(work);
    await inRounds('per request', rounds, Object.keys(pieces), async (name) => {
      for (const [part, ms] of Object.entries(await pieces[name]())) (perOp[part] ??= []).push(ms);
    }, add);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const [part, values] of Object.entries(perOp)) add(`${part}: CPU per request`, median(values), spread('ms', values, 3));
  const cores = os.cpus().length;
  for (const [what, { processes, client }] of Object.entries(SMALL_FLOORS)) {
    const totals = sumsByRound(perOp, rounds, Object.values(processes).flat());
    for (const [name, parts] of Object.entries(processes)) {
      const values = sumsByRound(perOp, rounds, parts);
      add(`${what}, floor: ${name} CPU`, median(values), spread('ms', values, 3));
    }
    add(`${what}, floor: all servers' CPU`, median(totals), spread('ms', totals, 3));
    add(`${what}, floor: rate ${cores} cores allow at that CPU`, (cores * 1000) / median(totals), 'req/s');
    add(`${what}, floor: rate ${cores} cores allow at that CPU and the bench client's`, (cores * 1000) / (median(totals) + median(perOp[client])), 'req/s');
  }
}

function median(values: number[]): number {
  return percentile(values, 50);
}
