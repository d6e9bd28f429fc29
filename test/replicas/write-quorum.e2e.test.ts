/**
 * WRITE_QUORUM end to end: a 201 means every chunk is fsynced on R storage servers, even when a
 * server dies (kill -9) or hangs (SIGSTOP) in the middle of a chunk; with too few servers the
 * answer is a clean 503 that says so. Real storage-server processes, a real gateway.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { startCluster, type Cluster, type StorageNode } from '../helpers/cluster';
import { chunkIdsOnDisk, download, sha256, testData } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import { chunkOnDisk } from '../helpers/chunk-on-disk';

const MiB = 1024 * 1024;
const R = 2;

interface Created {
  status: number;
  body: {
    error?: string;
    file_id?: string;
    checksum?: string;
    replicas?: Array<{ chunk_number: number; chunk_id: string; server_ids: string[] }>;
  };
}

/**
 * A raw upload whose body is held back after `firstBytes` until the test lets it go on: the
 * gateway is then in the middle of a chunk, with its put streams open.
 */
function heldUpload(url: string, data: Buffer, firstBytes: number): { resume(): void; response: Promise<Created> } {
  const req = http.request(`${url}/files?filename=held.bin`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) },
  });
  const response = new Promise<Created>((resolve, reject) => {
    req.on('response', (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(pieces).toString() || '{}') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.write(data.subarray(0, firstBytes));
  return {
    resume() {
      req.end(data.subarray(firstBytes));
    },
    response,
  };
}

/** A storage node with a put in progress that has at least `minBytes` on its disk already. */
async function nodeWritingAChunk(nodes: StorageNode[], minBytes = 1): Promise<StorageNode> {
  return waitFor(
    async () => {
      for (const node of nodes) {
        const tmp = path.join(node.dataDir, 'tmp');
        for (const name of await readdir(tmp).catch(() => [])) {
          if (((await stat(path.join(tmp, name)).catch(() => undefined))?.size ?? 0) >= minBytes) return node;
        }
      }
      return undefined;
    },
    { timeoutMs: 30_000, what: 'a storage server with a chunk half written' },
  );
}

describe('WRITE_QUORUM: a 201 means R fsynced copies of every chunk', () => {
  let cluster: Cluster;
  const killed = new Set<StorageNode>();
  const running = () => cluster.storage.filter((n) => !killed.has(n));
  const kill = async (node: StorageNode) => {
    killed.add(node);
    await node.proc.kill('SIGKILL');
  };

  beforeAll(async () => {
    // A hung server is given up on after 2 s of no progress; keepalive notices it soon after.
    cluster = await startCluster({ storageServers: 5, env: { STREAM_IDLE_TIMEOUT_MS: '2000' } });
  }, 180_000);

  afterAll(async () => {
    for (const node of cluster?.storage ?? []) node.proc.signal('SIGCONT');
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  /** Every chunk named R distinct servers, each of which has the chunk on its disk; the file reads back. */
  async function expectRCopies(created: Created, data: Buffer): Promise<void> {
    expect(created.status).toBe(201);
    expect(created.body.checksum).toBe(sha256(data));
    const onDisk = new Map<string, Set<string>>();
    for (const node of cluster.storage) onDisk.set(node.serverId, await chunkIdsOnDisk(node.dataDir));
    const meta = (await (await fetch(`${cluster.gateway.url}/files/${created.body.file_id}/metadata`)).json()) as {
      chunks: Array<{ chunk_id: string; replicas: Array<{ server_id: string }> }>;
    };
    expect(meta.chunks.map((c) => c.chunk_id)).toEqual(created.body.replicas!.map((c) => c.chunk_id));
    for (const [n, chunk] of created.body.replicas!.entries()) {
      expect(new Set(chunk.server_ids).size).toBe(R);
      expect(meta.chunks[n].replicas.map((r) => r.server_id).sort()).toEqual([...chunk.server_ids].sort());
      for (const serverId of chunk.server_ids) expect([serverId, onDisk.get(serverId)?.has(chunk.chunk_id)]).toEqual([serverId, true]);
    }
    const back = await download(cluster.gateway.url, created.body.file_id!);
    expect(back.status).toBe(200);
    expect(sha256(back.body)).toBe(sha256(data));
  }

  it('kill -9 of a server in the middle of a spooled chunk: replayed to the next server, 201 with R copies', async () => {
    // 6 chunks of 1.5 MiB, each within the gateway spool. Held 200 KiB past the first 1 MiB
    // message of chunk 0, which is on its servers' disks, while the rest of it cannot be sent
    // (a chunk smaller than a message would be sent whole at its end, with no moment to catch).
    const data = testData(9 * MiB + 17);
    const upload = heldUpload(cluster.gateway.url, data, MiB + 200 * 1024);
    const victim = await nodeWritingAChunk(running());
    await kill(victim);
    upload.resume();
    await expectRCopies(await upload.response, data);
  }, 120_000);

  it('kill -9 of a server in the middle of a chunk too big to spool: copied from a survivor, 201 with R copies', async () => {
    const data = testData(60 * MiB); // 6 chunks of 10 MiB
    const upload = heldUpload(cluster.gateway.url, data, 16 * MiB);
    const victim = await nodeWritingAChunk(running(), 5 * MiB); // past the 4 MiB spool
    await kill(victim);
    upload.resume();
    await expectRCopies(await upload.response, data);
  }, 180_000);

  it('SIGSTOP of a server mid-upload: 201 with R copies, or a clean 503', async () => {
    const data = testData(30 * MiB);
    const upload = heldUpload(cluster.gateway.url, data, 7 * MiB);
    const victim = await nodeWritingAChunk(running());
    victim.proc.signal('SIGSTOP');
    try {
      upload.resume();
      const created = await upload.response;
      if (created.status === 503) {
        expect(created.body.error).toMatch(/retry/);
      } else {
        await expectRCopies(created, data);
      }
    } finally {
      victim.proc.signal('SIGCONT');
    }
  }, 180_000);

  it('kill -9 of a server while 32 clients upload 4 KiB files (small chunks, batched puts): every 201 has R durable copies', async () => {
    const uploads: Array<{ created: Created; data: Buffer }> = [];
    let stop = false;
    const clients = Array.from({ length: 32 }, async () => {
      while (!stop) {
        const data = randomBytes(4096);
        const res = await fetch(`${cluster.gateway.url}/files?filename=small.bin`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream' },
          body: new Uint8Array(data),
        });
        uploads.push({ created: { status: res.status, body: (await res.json()) as Created['body'] }, data });
      }
    });
    const stored = () => uploads.filter((upload) => upload.created.status === 201).length;
    try {
      await waitFor(() => stored() >= 100, { timeoutMs: 60_000, what: '100 small uploads' });
      await kill(running()[0]);
      const atKill = stored();
      await waitFor(() => stored() >= atKill + 100, { timeoutMs: 60_000, what: '100 small uploads after the kill' });
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    for (const { created } of uploads.filter((upload) => upload.created.status !== 201)) {
      expect([created.status, created.body.error]).toEqual([503, expect.stringMatching(/retry/)]);
    }
    const dataDirs = new Map(cluster.storage.map((node) => [node.serverId, node.dataDir]));
    for (const { created, data } of uploads.filter((upload) => upload.created.status === 201)) {
      const [chunk] = created.body.replicas!;
      expect(new Set(chunk.server_ids).size).toBe(R);
      // On the disk of each server named, the killed one's included: durable before the 201.
      for (const serverId of chunk.server_ids) {
        expect([serverId, await chunkOnDisk(dataDirs.get(serverId)!, chunk.chunk_id)]).toEqual([serverId, expect.objectContaining({ length: expect.any(Number) })]);
      }
      const back = await download(cluster.gateway.url, created.body.file_id!);
      expect([back.status, back.body.equals(data)]).toEqual([200, true]);
    }
  }, 180_000);

  it('fewer Ready servers than WRITE_QUORUM: 503 saying so, and nothing stored', async () => {
    const live = running();
    for (const node of live.slice(1)) await kill(node);
    await waitFor(
      async () => ((await (await fetch(`${cluster.gateway.url}/health`)).json()) as { storage_servers: number }).storage_servers === 1,
      { timeoutMs: 30_000, what: 'one Ready storage server' },
    );
    const before = await chunkIdsOnDisk(live[0].dataDir);
    const res = await fetch(`${cluster.gateway.url}/files?filename=few.bin`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(testData(4096)),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    const body = (await res.json()) as { error: string; write_quorum: number; ready_servers: number };
    expect(body).toMatchObject({ write_quorum: R, ready_servers: 1 });
    expect(body.error).toMatch(/only 1 storage server\(s\) can take the file, but WRITE_QUORUM needs 2/);
    expect(await chunkIdsOnDisk(live[0].dataDir)).toEqual(before);

    // A body far larger than the socket buffers, refused at its first chunk: the gateway reads
    // and drops the rest, so the answer reaches the client still sending it, at once, not after
    // the server's 65 s keep-alive timeout (chaos finding 8) and not as a reset (EPIPE).
    const outcome = await fetch(`${cluster.gateway.url}/files?filename=few-big.bin`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(testData(32 * 1024 * 1024)),
      signal: AbortSignal.timeout(20_000),
    }).then(
      (response) => String(response.status),
      (error: Error & { cause?: { code?: string } }) => (error.name === 'TimeoutError' ? 'no answer within 20 s' : 'connection closed'),
    );
    expect(outcome).toBe('503');
    expect(await chunkIdsOnDisk(live[0].dataDir)).toEqual(before);
  }, 120_000);
});
