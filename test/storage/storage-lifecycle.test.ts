import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { StorageClient } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const PROTO_PATH = path.resolve(__dirname, '../../proto/storage.proto');

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;

/** A client built straight from proto/storage.proto, as any other StorageService client would be. */
function plainProtoClient(address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { storage: { StorageService: grpc.ServiceClientConstructor } };
  return new pkg.storage.StorageService(address, grpc.credentials.createInsecure()) as never;
}

describe('ringstore storage lifecycle and wire compatibility', () => {
  afterAll(async () => {
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });

  it('serves a plain client built from proto/storage.proto, and grpc.health.v1', async () => {
    const server = await spawnStorageServer(await makeTempDir('ringstore-wire-'));
    const plain = plainProtoClient(server.address);
    const id = randomUUID();
    const data = randomBytes(3 * MiB);
    try {
      // The original contract: chunk_id and checksum on the first message, data in any message.
      const put = await new Promise<{ success: boolean; chunk_id: string }>((resolve, reject) => {
        const call = plain.PutChunk((error: grpc.ServiceError | null, value: { success: boolean; chunk_id: string }) =>
          (error ? reject(error) : resolve(value))) as grpc.ClientWritableStream<unknown>;
        call.write({ chunk_id: id, checksum: sha256(data), data: data.subarray(0, MiB) });
        call.write({ data: data.subarray(MiB) });
        call.end();
      });
      expect(put).toMatchObject({ success: true, chunk_id: id });

      const frames: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = plain.GetChunk({ chunk_id: id }) as grpc.ClientReadableStream<{ data: Buffer }>;
        call.on('data', (message) => frames.push(message.data));
        call.on('error', reject);
        call.on('end', resolve);
      });
      expect(frames.every((frame) => frame.length < 4 * MiB)).toBe(true);
      expect(Buffer.concat(frames).equals(data)).toBe(true);

      const health = await new Promise<Record<string, unknown>>((resolve, reject) => {
        plain.HealthCheck({}, ((error, value) => (error ? reject(error) : resolve(value!))) as Callback<Record<string, unknown>>);
      });
      expect(health).toMatchObject({ status: 'healthy', server_id: server.serverId });
      expect(Number(health.total_space)).toBeGreaterThan(0);

      const deleted = await new Promise<{ success: boolean }>((resolve, reject) => {
        plain.DeleteChunk({ chunk_id: id }, ((error, value) => (error ? reject(error) : resolve(value!))) as Callback<{ success: boolean }>);
      });
      expect(deleted.success).toBe(true);

      const HealthClient = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');
      const healthClient = new HealthClient(server.address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
      const standard = await new Promise<{ status: string }>((resolve, reject) => {
        healthClient.check({ service: '' }, ((error, value) => (error ? reject(error) : resolve(value!))) as Callback<{ status: string }>);
      });
      expect(standard.status).toBe('SERVING');
      healthClient.close();
    } finally {
      plain.close();
    }
  });

  it('survives kill -9 mid-put: after a restart on the same port no partial chunk is visible and earlier chunks are intact', async () => {
    const dataDir = await makeTempDir('ringstore-crash-');
    const first = await spawnStorageServer(dataDir);
    const client = StorageClient.connect(first.address);
    const kept = { id: randomUUID(), data: randomBytes(2 * MiB + 3) };
    await client.putChunkBuffer(kept.id, kept.data);

    const partialId = randomUUID();
    const writer = client.putChunk(partialId, sha256(Buffer.alloc(32 * MiB)), 32 * MiB);
    await writer.write(randomBytes(8 * MiB));
    const tmpDir = path.join(dataDir, 'tmp');
    await waitFor(async () => {
      const [name] = await fs.readdir(tmpDir);
      return name !== undefined && (await fs.stat(path.join(tmpDir, name))).size > 0;
    }, { what: 'the put to be half written' });
    await first.process.kill('SIGKILL');
    await writer.end().catch(() => undefined);
    client.close();

    const second = await spawnStorageServer(dataDir, { port: first.port });
    const again = StorageClient.connect(second.address);
    try {
      expect(second.serverId).toBe(first.serverId);
      expect(await fs.readdir(tmpDir)).toEqual([]);
      const failure = await again.getChunkBuffer(partialId).then(() => undefined, (error: grpc.ServiceError) => error);
      expect(failure?.code).toBe(grpc.status.NOT_FOUND);
      expect((await again.getChunkBuffer(kept.id)).equals(kept.data)).toBe(true);
      const listed = [];
      for await (const info of again.listChunks()) listed.push(info.chunk_id);
      expect(listed).toEqual([kept.id]);
      expect((await again.healthCheck()).chunk_count).toBe(1);
    } finally {
      again.close();
    }
  });

  it('on SIGTERM lets a running GetChunk finish, then exits 0', async () => {
    const server = await spawnStorageServer(await makeTempDir('ringstore-term-'));
    const client = StorageClient.connect(server.address);
    const id = randomUUID();
    const data = randomBytes(16 * MiB);
    await client.putChunkBuffer(id, data);

    const stream = client.getChunk(id);
    const received: Buffer[] = [];
    // Read one frame, then hold the stream (backpressure) while the server is told to stop.
    const firstFrame = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    received.push(firstFrame);
    stream.pause();
    server.process.signal('SIGTERM');
    await server.process.waitForLine((line) => line.to === 'draining', 10_000, 'draining');
    stream.on('data', (piece: Buffer) => received.push(piece));
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    client.close();
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(await server.process.exited()).toEqual({ code: 0, signal: null });
  });

  it('joins a gateway: POSTs its id, address and disk figures to /admin/servers and keeps beating', async () => {
    const beats: Array<Record<string, unknown>> = [];
    let failFirst = true;
    const gateway = http.createServer((request, response) => {
      let body = '';
      request.on('data', (piece) => (body += piece));
      request.on('end', () => {
        // The first beat fails: the server must log it and retry, not give up.
        if (failFirst) {
          failFirst = false;
          response.writeHead(503).end();
          return;
        }
        if (request.method === 'POST' && request.url === '/admin/servers') beats.push(JSON.parse(body));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.address() as { port: number };
    try {
      const dataDir = await makeTempDir('ringstore-join-');
      const server = await spawnStorageServer(dataDir, {
        env: { JOIN_URL: `http://127.0.0.1:${port}`, HEARTBEAT_INTERVAL_MS: '200', ADVERTISE_ADDRESS: 'storage-7.internal:6000' },
      });
      await waitFor(() => beats.length >= 2, { what: 'two accepted heartbeats' });
      expect(beats[0]).toMatchObject({ server_id: server.serverId, address: 'storage-7.internal:6000' });
      expect(beats[0].total_space as number).toBeGreaterThan(0);
      expect(beats[0].available_space as number).toBeGreaterThan(0);
      expect(server.process.lines.some((line) => line.event === 'heartbeat_state' && line.to === 'failing')).toBe(true);
      await server.process.kill('SIGTERM');
      expect(await server.process.exited()).toEqual({ code: 0, signal: null });
    } finally {
      gateway.close();
    }
  });

  it('fails at start with one line naming a bad variable', async () => {
    const child = new RingstoreProcess(['storage', '--port', '0', '--data', await makeTempDir('ringstore-config-')], {
      JOIN_URL: 'gateway:8080',
    });
    const { code } = await child.exited();
    expect(code).toBe(2);
    expect(child.lines.map((line) => line.message)).toContainEqual(expect.stringMatching(/^ringstore: configuration error: JOIN_URL must be an http\(s\) URL/));
  });

  it('refuses a second server on a data directory in use, and takes over the lock of a killed one', async () => {
    const dataDir = await makeTempDir('ringstore-lock-');
    const first = await spawnStorageServer(dataDir);
    const second = new RingstoreProcess(['storage', '--port', '0', '--data', dataDir]);
    expect((await second.exited()).code).toBe(2);
    expect(second.lines.map((line) => line.message)).toContainEqual(
      expect.stringMatching(new RegExp(`data directory .* is in use by process ${first.process.pid}`)),
    );
    await first.process.kill('SIGKILL');
    const restarted = await spawnStorageServer(dataDir);
    expect(restarted.serverId).toBe(first.serverId);
  });
});
