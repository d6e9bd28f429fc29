/**
 * One process of `bench -- floor` (floor.ts forks it): a piece of an upload's work done with
 * Node, @grpc/grpc-js and the wire contract only, no ringstore code, so its CPU (read from /proc
 * by the parent) is what the design costs before ringstore adds anything. Messages (IPC):
 * the worker sends {ready, port?} once set up, the parent sends 'go' to an active role, the
 * worker answers {done} once it moved `size` bytes (or did `count` operations). Roles (argv[2]), options as JSON (argv[3]):
 * - http-sink: a node:http server that reads each request body and discards it;
 * - sha256, crc32: hash `size` bytes in 64 KiB pieces (an upload's socket reads);
 * - grpc-sink: a grpc-js server of proto/storage.proto whose PutChunk discards the messages;
 * - grpc-send: streams `size` bytes in 1 MiB PutChunk messages to each port in `ports` at once,
 *   each message encoded once for all of them;
 * - h2-sink, h2-send: the same bytes in 1 MiB writes on one node:http2 stream per server, which
 *   grpc-js runs on: the least any gRPC stream in Node costs, with no gRPC framing or decoding;
 * - disk: writes `size` bytes a MiB at a time, fdatasync after each MiB, buffered or O_DIRECT.
 * The per-request roles (`bench -- floor --requests`) do `count` small operations at each 'go':
 * - http-answer: a node:http server that reads each POST's body and answers a small JSON, and
 *   answers each GET with 4 KiB;
 * - http-load: ringstore's bench client (load.ts, as `bench -- small` uses it; the one
 *   ringstore code here, as it shares the cores with the servers): `clients`
 *   keep-alive clients POSTing 4 KiB each (or GETting, with `read`);
 * - grpc-unary-sink: a grpc-js server of proto/storage.proto answering PutSmallChunks and ReadChunk;
 * - grpc-unary-send: PutSmallChunks calls of `batch` 4 KiB chunks, 32 chunks in flight (or
 *   ReadChunk calls of 4 KiB, with `read`), by grpc-js with proto-loader's serializers;
 * - append-sync: 4 KiB records appended to one file, `batch` in one write and one fdatasync;
 * - pglite: PGlite in this process (in memory), its step named by the parent's 'go:<step>':
 *   `insert-<n>` commits `count` small rows n per transaction, `lookup` reads `count` of them
 *   back by key; the statements PREPAREd once.
 */
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crc32 } from '@node-rs/crc32';
import { PGlite } from '@electric-sql/pglite';
import { closedLoop, keepAliveAgent, request } from './load';

export type FloorRole = 'http-sink' | 'sha256' | 'crc32' | 'grpc-sink' | 'grpc-send' | 'h2-sink' | 'h2-send' | 'disk'
  | 'http-answer' | 'http-load' | 'grpc-unary-sink' | 'grpc-unary-send' | 'append-sync' | 'pglite';

export interface FloorOptions {
  size?: number;
  ports?: number[];
  direct?: boolean;
  file?: string;
  /** grpc: the HTTP/2 receive window of ringstore's storage channels, at both ends. */
  window?: number;
  /** The per-request roles: how many requests, chunks or rows one 'go' does. */
  count?: number;
  /** http-load: concurrent keep-alive clients. */
  clients?: number;
  /** Chunks per PutSmallChunks call, records per fdatasync. */
  batch?: number;
  /** http-load, grpc-unary-send: downloads (GET, ReadChunk) instead of uploads. */
  read?: boolean;
}

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const MAX_MESSAGE_BYTES = 8 * MiB;
/** A small file, one chunk: #17's 4 KiB. */
const SMALL = 4096;
/** Requests (or calls) before the worker says it is ready: sockets open and the code warm, as in a running gateway. */
const WARM_UP = 1000;
/** The small file a GET answers and the client checks. */
const SMALL_FILE = Buffer.alloc(SMALL, 'ringstore floor');

function send(message: object): void {
  process.send!(message);
}

/** Distinct data to work on, so nothing is served from the CPU's caches: 64 MiB, cycled. */
function dataPool(): Buffer {
  return randomBytes(64 * MiB);
}

/** Runs `work` at each 'go' (or 'go:<step>') from the parent and answers once it is done. */
function goSignal(work: (step: string) => Promise<void>): void {
  process.on('message', (message) => {
    if (typeof message !== 'string' || !/^go(:|$)/.test(message)) return;
    work(message.slice(3)).then(() => send({ done: true }), (error: Error) => send({ error: error.stack ?? String(error) }));
  });
  send({ ready: true });
}

/** Goes through `size` bytes of the pool in 64 KiB pieces (an upload's socket reads), once set up. */
function hashRole(size: number, start: () => (piece: Buffer) => void): void {
  const pool = dataPool();
  goSignal(async () => {
    const update = start();
    for (let offset = 0; offset < size; offset += PIECE) update(pool.subarray(offset % pool.length, (offset % pool.length) + Math.min(PIECE, size - offset)));
  });
}

/** The StorageService as ringstore loads it (src/wire/storage-service.ts: the same proto-loader options). */
function storageService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(path.resolve(__dirname, '../../proto/storage.proto'), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  return (grpc.loadPackageDefinition(definition) as unknown as { storage: { StorageService: grpc.ServiceClientConstructor } }).storage.StorageService;
}

async function httpSink(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => res.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  send({ ready: true, port: (server.address() as { port: number }).port });
}

async function grpcSink(options: FloorOptions): Promise<void> {
  const service = storageService();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  // The per-stream window as ringstore's storage servers widen it (grpc-server-options.ts); grpc-js has no option for it.
  const internals = server as unknown as { commonServerOptions: { settings?: object }; http2Servers: Map<http.Server, unknown> };
  internals.commonServerOptions.settings = { ...internals.commonServerOptions.settings, initialWindowSize: options.window };
  server.addService(service.service, {
    PutChunk: (call: grpc.ServerReadableStream<{ data: Buffer }, object>, callback: grpc.sendUnaryData<object>) => {
      call.on('data', () => undefined);
      call.on('end', () => callback(null, { chunk_id: '', success: true, error_message: '' }));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  for (const http2Server of internals.http2Servers.keys()) {
    http2Server.on('session', (session: { setLocalWindowSize(size: number): void }) => session.setLocalWindowSize(options.window!));
  }
  send({ ready: true, port });
}

async function grpcSend(options: FloorOptions): Promise<void> {
  const service = storageService();
  const channelOptions = { 'grpc-node.flow_control_window': options.window, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES };
  const clients = options.ports!.map((port) => new service(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions));
  await Promise.all(clients.map((client) => new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 30_000, (error) => (error ? reject(error) : resolve())))));
  const serialize = service.service.PutChunk.requestSerialize;
  const pool = dataPool();
  goSignal(async () => {
    const size = options.size!;
    const replies: Array<Promise<void>> = [];
    // Encoded once for every server (as ringstore's frames are), so grpc-js writes the same bytes to each call.
    const calls = clients.map((client) => {
      let call!: grpc.ClientWritableStream<Buffer>;
      replies.push(new Promise<void>((resolve, reject) => {
        call = client.makeClientStreamRequest<Buffer, unknown>('/storage.StorageService/PutChunk', (encoded: Buffer) => encoded, service.service.PutChunk.responseDeserialize, (error) => (error ? reject(error) : resolve()));
      }));
      return call;
    });
    for (let offset = 0; offset < size; offset += MiB) {
      const at = offset % pool.length;
      const encoded = serialize({ chunk_id: offset === 0 ? 'floor' : '', data: pool.subarray(at, at + Math.min(MiB, size - offset)) });
      const full = calls.filter((call) => !call.write(encoded));
      await Promise.all(full.map((call) => once(call, 'drain')));
    }
    for (const call of calls) call.end();
    await Promise.all(replies);
  });
}

async function h2Sink(options: FloorOptions): Promise<void> {
  const server = http2.createServer({ settings: { initialWindowSize: options.window } });
  server.on('session', (session) => session.setLocalWindowSize(options.window!));
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => stream.respond({ ':status': 200 }, { endStream: true }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  send({ ready: true, port: (server.address() as { port: number }).port });
}

async function h2Send(options: FloorOptions): Promise<void> {
  const sessions = options.ports!.map((port) => http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: options.window } }));
  await Promise.all(sessions.map((session) => once(session, 'connect')));
  const pool = dataPool();
  goSignal(async () => {
    const size = options.size!;
    const streams = sessions.map((session) => session.request({ ':method': 'POST', ':path': '/' }));
    const closed = streams.map((stream) => once(stream.resume(), 'close'));
    for (let offset = 0; offset < size; offset += MiB) {
      const at = offset % pool.length;
      const piece = pool.subarray(at, at + Math.min(MiB, size - offset));
      const full = streams.filter((stream) => !stream.write(piece));
      await Promise.all(full.map((stream) => once(stream, 'drain')));
    }
    for (const stream of streams) stream.end();
    await Promise.all(closed);
    if (streams.some((stream) => stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)) throw new Error('an http2 stream was reset');
  });
}

async function disk(options: FloorOptions): Promise<void> {
  // Page-aligned memory for O_DIRECT: a WebAssembly.Memory is mapped on pages of its own (1 MiB = 16 wasm pages).
  const data = options.direct ? Buffer.from(new WebAssembly.Memory({ initial: MiB / 65536 }).buffer) : Buffer.alloc(MiB);
  randomBytes(MiB).copy(data);
  goSignal(async () => {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (options.direct ? constants.O_DIRECT : 0);
    const file = await open(options.file!, flags, 0o600);
    try {
      for (let offset = 0; offset < options.size!; offset += MiB) {
        const { bytesWritten } = await file.write(data, 0, MiB, offset);
        if (bytesWritten !== MiB) throw new Error(`short write: ${bytesWritten} bytes`);
        await file.datasync();
      }
    } finally {
      await file.close();
      await rm(options.file!, { force: true });
    }
  });
}

/** A small file's upload answer, as big as ringstore's 201 (ids, name, size, SHA-256, chunk). */
const UPLOAD_ANSWER = Buffer.from(JSON.stringify({ file_id: '0'.repeat(36), filename: 'small.bin', size: SMALL, sha256: '0'.repeat(64), chunks: 1, replicas: [['127.0.0.1:1', '127.0.0.1:2']] }));

async function httpAnswer(): Promise<void> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SMALL }).end(SMALL_FILE);
      return;
    }
    const pieces: Buffer[] = [];
    req.on('data', (piece: Buffer) => pieces.push(piece));
    req.on('end', () => {
      if (Buffer.concat(pieces).length !== SMALL) res.writeHead(400).end();
      else res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': UPLOAD_ANSWER.length }).end(UPLOAD_ANSWER);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  send({ ready: true, port: (server.address() as { port: number }).port });
}

/** `bench -- small`'s client: its request per upload (fresh random bytes, the JSON answer parsed) and per download (the bytes compared). */
async function httpLoad(options: FloorOptions): Promise<void> {
  const agent = keepAliveAgent(options.clients!);
  const url = `http://127.0.0.1:${options.ports![0]}/files?filename=small.bin`;
  const one = options.read
    ? async () => {
      const reply = await request(agent, url);
      if (reply.status !== 200 || !reply.body.equals(SMALL_FILE)) throw new Error(`GET answered ${reply.status} with ${reply.body.length} bytes, not the file`);
    }
    : async () => {
      const reply = await request(agent, url, { method: 'POST', body: randomBytes(SMALL), headers: { 'Content-Type': 'application/octet-stream' } });
      if (reply.status !== 201) throw new Error(`POST answered ${reply.status}`);
      JSON.parse(reply.body.toString());
    };
  await closedMany(options.clients!, WARM_UP, one);
  goSignal(() => closedMany(options.clients!, options.count!, one));
}

/** `total` runs of `one`, `concurrency` at a time; any failure fails it. */
async function closedMany(concurrency: number, total: number, one: () => Promise<void>): Promise<void> {
  const result = await closedLoop(concurrency, Number.MAX_SAFE_INTEGER, one, { maxRequests: total });
  if (result.failed > 0) throw new Error(`${result.failed} of ${result.requests} failed, e.g. ${result.errors[0]}`);
}

async function grpcUnarySink(): Promise<void> {
  const service = storageService();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  const chunk = randomBytes(SMALL);
  server.addService(service.service, {
    PutSmallChunks: (call: grpc.ServerUnaryCall<{ chunks: Array<{ chunk_id: string }> }, object>, callback: grpc.sendUnaryData<object>) =>
      callback(null, { results: call.request.chunks.map(({ chunk_id }) => ({ chunk_id, success: true, error_message: '', code: 0 })) }),
    ReadChunk: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => callback(null, { data: chunk }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  send({ ready: true, port });
}

/** Chunks in flight at once: 32 clients' uploads, each one chunk. */
const CHUNKS_IN_FLIGHT = 32;

async function grpcUnarySend(options: FloorOptions): Promise<void> {
  const service = storageService();
  const client = new service(`127.0.0.1:${options.ports![0]}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': MAX_MESSAGE_BYTES }) as unknown as Record<string, (request: object, callback: (error: Error | null, reply: { results?: unknown[]; data?: Buffer }) => void) => void>;
  const call = (method: string, request: object) => new Promise<{ results?: unknown[]; data?: Buffer }>((resolve, reject) => client[method](request, (error, reply) => (error ? reject(error) : resolve(reply))));
  const pool = dataPool();
  const batch = options.read ? 1 : options.batch!;
  let next = 0;
  const one = options.read
    ? async () => {
      const { data } = await call('ReadChunk', { chunk_id: `chunk-${next++}`, offset: 0, length: 0 });
      if (data?.length !== SMALL) throw new Error(`ReadChunk answered ${data?.length} bytes`);
    }
    : async () => {
      const chunks = Array.from({ length: batch }, () => {
        const at = (next++ * SMALL) % pool.length;
        const data = pool.subarray(at, at + SMALL);
        return { chunk_id: `chunk-${next}`, data, data_crc32: crc32(data) };
      });
      const { results } = await call('PutSmallChunks', { chunks });
      if (results?.length !== batch) throw new Error(`PutSmallChunks answered ${results?.length} results`);
    };
  const concurrency = Math.max(1, Math.round(CHUNKS_IN_FLIGHT / batch));
  await closedMany(concurrency, Math.ceil(WARM_UP / batch), one);
  goSignal(() => closedMany(concurrency, options.count! / batch, one));
}

/** A volume file's group commit at its least: `batch` records in one write at the end, one fdatasync. */
async function appendSync(options: FloorOptions): Promise<void> {
  const records = randomBytes(options.batch! * SMALL);
  goSignal(async () => {
    const file = await open(options.file!, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    try {
      for (let done = 0; done < options.count!; done += options.batch!) {
        const { bytesWritten } = await file.write(records);
        if (bytesWritten !== records.length) throw new Error(`short write: ${bytesWritten} bytes`);
        await file.datasync();
      }
    } finally {
      await file.close();
      await rm(options.file!, { force: true });
    }
  });
}

/** A file row as small as ringstore's: id, name, size, SHA-256, time. */
const PGLITE_SCHEMA = `CREATE TABLE files (id text PRIMARY KEY, filename text NOT NULL, size bigint NOT NULL, sha256 text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  PREPARE insert_file(text, text, bigint, text) AS INSERT INTO files (id, filename, size, sha256) VALUES ($1, $2, $3, $4);
  PREPARE lookup_file(text) AS SELECT id, filename, size, sha256, created_at FROM files WHERE id = $1`;

async function pglite(options: FloorOptions): Promise<void> {
  const db = await PGlite.create();
  await db.exec(PGLITE_SCHEMA);
  const sha256 = 'a'.repeat(64);
  let rows = 0;
  const insert = async (batch: number) => {
    const statements = Array.from({ length: batch }, () => `EXECUTE insert_file('file-${rows++}', 'small.bin', ${SMALL}, '${sha256}');`).join(' ');
    await db.exec(batch > 1 ? `BEGIN; ${statements} COMMIT;` : statements);
  };
  for (let warm = 0; warm < WARM_UP; warm++) await insert(1);
  goSignal(async (step) => {
    if (step === 'lookup') {
      for (let n = 0; n < options.count!; n++) {
        const [found] = await db.exec(`EXECUTE lookup_file('file-${(n * 7919) % rows}')`);
        if (found.rows.length !== 1) throw new Error('a stored row was not found');
      }
      return;
    }
    const batch = Number(/^insert-(\d+)$/.exec(step)?.[1]);
    if (!batch) throw new Error(`unknown pglite step ${step}`);
    for (let done = 0; done < options.count!; done += batch) await insert(batch);
  });
}

async function main(): Promise<void> {
  const role = process.argv[2] as FloorRole;
  const options = JSON.parse(process.argv[3] ?? '{}') as FloorOptions;
  switch (role) {
    case 'http-sink': return httpSink();
    case 'sha256':
      return hashRole(options.size!, () => {
        const hash = createHash('sha256');
        let left = options.size!;
        return (piece) => {
          hash.update(piece);
          left -= piece.length;
          if (left === 0) hash.digest();
        };
      });
    case 'crc32':
      return hashRole(options.size!, () => {
        let crc = 0;
        return (piece) => (crc = crc32(piece, crc));
      });
    case 'grpc-sink': return grpcSink(options);
    case 'grpc-send': return grpcSend(options);
    case 'h2-sink': return h2Sink(options);
    case 'h2-send': return h2Send(options);
    case 'disk': return disk(options);
    case 'http-answer': return httpAnswer();
    case 'http-load': return httpLoad(options);
    case 'grpc-unary-sink': return grpcUnarySink();
    case 'grpc-unary-send': return grpcUnarySend(options);
    case 'append-sync': return appendSync(options);
    case 'pglite': return pglite(options);
  }
  throw new Error(`unknown role ${role}`);
}

main().catch((error: Error) => {
  send({ error: error.stack ?? String(error) });
});
