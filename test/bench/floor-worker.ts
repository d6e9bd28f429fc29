/**
 * One process of `bench -- floor` (floor.ts forks it): a piece of an upload's work done with
 * Node, @grpc/grpc-js and the wire contract only, no ringstore code, so its CPU (read from /proc
 * by the parent) is what the design costs before ringstore adds anything. Messages (IPC):
 * the worker sends {ready, port?} once set up, the parent sends 'go' to an active role, the
 * worker answers {done} once it moved `size` bytes. Roles (argv[2]), options as JSON (argv[3]):
 * - http-sink: a node:http server that reads each request body and discards it;
 * - sha256, crc32: hash `size` bytes in 64 KiB pieces (an upload's socket reads);
 * - grpc-sink: a grpc-js server of proto/storage.proto whose PutChunk discards the messages;
 * - grpc-send: streams `size` bytes in 1 MiB PutChunk messages to each port in `ports` at once,
 *   each message encoded once for all of them;
 * - h2-sink, h2-send: the same bytes in 1 MiB writes on one node:http2 stream per server, which
 *   grpc-js runs on: the least any gRPC stream in Node costs, with no gRPC framing or decoding;
 * - disk: writes `size` bytes a MiB at a time, fdatasync after each MiB, buffered or O_DIRECT.
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

export type FloorRole = 'http-sink' | 'sha256' | 'crc32' | 'grpc-sink' | 'grpc-send' | 'h2-sink' | 'h2-send' | 'disk';

export interface FloorOptions {
  size?: number;
  ports?: number[];
  direct?: boolean;
  file?: string;
  /** grpc: the HTTP/2 receive window of ringstore's storage channels, at both ends. */
  window?: number;
}

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const MAX_MESSAGE_BYTES = 8 * MiB;

function send(message: object): void {
  process.send!(message);
}

/** Distinct data to work on, so nothing is served from the CPU's caches: 64 MiB, cycled. */
function dataPool(): Buffer {
  return randomBytes(64 * MiB);
}

/** Runs `work` at each 'go' from the parent and answers once it is done. */
function goSignal(work: () => Promise<void>): void {
  process.on('message', (message) => {
    if (message !== 'go') return;
    work().then(() => send({ done: true }), (error: Error) => send({ error: error.stack ?? String(error) }));
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
  }
  throw new Error(`unknown role ${role}`);
}

main().catch((error: Error) => {
  send({ error: error.stack ?? String(error) });
});
