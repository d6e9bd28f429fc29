import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { clusterForTests, METADATA_BACKENDS, type Cluster } from '../helpers/cluster';
import { chunkIdsOnDisk, download, sha256, testData, uploadMultipart, uploadRaw } from '../helpers/files';
import { waitFor } from '../helpers/wait';
import { chunkOnDisk } from '../helpers/chunk-on-disk';

const MiB = 1024 * 1024;

interface Metadata {
  file_id: string;
  size: number;
  checksum: string;
  status: string;
  chunks: Array<{ chunk_number: number; chunk_id: string; offset: number; size: number; checksum: string; server_id: string; replicas: Array<{ server_id: string }> }>;
}

async function metadata(cluster: Cluster, fileId: string): Promise<Metadata> {
  const res = await fetch(`${cluster.gateway.url}/files/${fileId}/metadata`);
  expect(res.status).toBe(200);
  return (await res.json()) as Metadata;
}

/** The data part of a chunk's stored bytes (data, then block checks and footer) on a storage node's disk. */
async function storedChunkData(cluster: Cluster, serverId: string, chunkId: string, size: number): Promise<Buffer> {
  const node = cluster.storage.find((n) => n.serverId === serverId);
  if (!node) throw new Error(`no storage node ${serverId}`);
  const where = await chunkOnDisk(node.dataDir, chunkId);
  if (!where) throw new Error(`chunk ${chunkId} is not on storage node ${serverId}`);
  const file = await readFile(where.file);
  return file.subarray(where.offset, where.offset + size);
}

async function allChunksOnDisk(cluster: Cluster): Promise<Set<string>> {
  const all = new Set<string>();
  for (const node of cluster.storage) for (const id of await chunkIdsOnDisk(node.dataDir)) all.add(id);
  return all;
}

describe.each(METADATA_BACKENDS)('gateway file API on %s', (_name, postgresUrl) => {
  const cluster = clusterForTests({ storageServers: 6, postgresUrl });

  it.each([0, 1, 5, MiB, 50 * MiB])('round-trips %i bytes byte-exact, raw and multipart', async (size) => {
    const data = testData(size);
    for (const upload of [uploadRaw, uploadMultipart]) {
      const created = await upload(cluster().gateway.url, data, `f-${size}.bin`);
      expect(created).toMatchObject({ size, checksum: sha256(data), status: 'completed', filename: `f-${size}.bin` });
      const meta = await metadata(cluster(), created.file_id);
      expect(meta.chunks).toHaveLength(Math.min(6, Math.ceil(size / MiB))); // MIN_CHUNK_SIZE 1 MiB
      expect(meta.chunks.reduce((sum, c) => sum + c.size, 0)).toBe(size);
      expect(meta.checksum).toBe(sha256(data));
      for (const chunk of meta.chunks) {
        expect(chunk.replicas).toHaveLength(2);
        // On disk, not just through the gateway (which may answer a small file from memory).
        for (const replica of chunk.replicas) {
          const stored = await storedChunkData(cluster(), replica.server_id, chunk.chunk_id, chunk.size);
          expect(stored.equals(data.subarray(chunk.offset, chunk.offset + chunk.size))).toBe(true);
        }
      }
      const got = await download(cluster().gateway.url, created.file_id);
      expect(got.status).toBe(200);
      expect(got.body.length).toBe(size);
      expect(sha256(got.body)).toBe(sha256(data));
      expect(got.headers.get('etag')).toBe(`"${sha256(data)}"`);
    }
    // A streamed download waits for drain once per piece; no wait may leave listeners behind.
    expect(cluster().gateway.proc.lines.filter((line) => line.message.includes('MaxListenersExceededWarning'))).toEqual([]);
  }, 180_000);

  it("answers a small file's download with the headers HEAD gives, the whole file and its length", async () => {
    const data = testData(4096 + 3);
    const { file_id } = await uploadRaw(cluster().gateway.url, data, 'small "s".txt');
    const headers = (res: Response) => {
      const kept: Array<[string, string]> = [];
      res.headers.forEach((value, name) => {
        if (!['date', 'connection', 'keep-alive'].includes(name)) kept.push([name, value]);
      });
      return kept;
    };
    const head = await fetch(`${cluster().gateway.url}/files/${file_id}`, { method: 'HEAD' });
    const got = await fetch(`${cluster().gateway.url}/files/${file_id}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    expect(headers(got)).toEqual(headers(head));
    expect(got.headers.get('content-length')).toBe(String(data.length));
    expect(got.headers.get('etag')).toBe(`"${sha256(data)}"`);
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves ranges and HEAD', async () => {
    const data = testData(3 * MiB + 17);
    const { file_id } = await uploadRaw(cluster().gateway.url, data, 'ranged name "x".bin');
    const head = await fetch(`${cluster().gateway.url}/files/${file_id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.headers.get('content-disposition')).toContain("filename*=UTF-8''ranged%20name%20%22x%22.bin");
    for (const [start, end] of [[0, 0], [10, 1_000_000], [MiB - 1, 2 * MiB + 5], [data.length - 10, data.length - 1]]) {
      const got = await download(cluster().gateway.url, file_id, { Range: `bytes=${start}-${end}` });
      expect(got.status).toBe(206);
      expect(got.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(got.body.equals(data.subarray(start, end + 1))).toBe(true);
    }
    const suffix = await download(cluster().gateway.url, file_id, { Range: 'bytes=-100' });
    expect(suffix.body.equals(data.subarray(data.length - 100))).toBe(true);
    const beyond = await download(cluster().gateway.url, file_id, { Range: `bytes=${data.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('rejects bad requests with clear JSON errors', async () => {
    const malformed = await fetch(`${cluster().gateway.url}/files/not-a-uuid`);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/UUID/);
    const unknown = await fetch(`${cluster().gateway.url}/files/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    const json = await fetch(`${cluster().gateway.url}/files`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    const form = new FormData();
    form.append('other', 'value');
    const missing = await fetch(`${cluster().gateway.url}/files`, { method: 'POST', body: form });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toMatch(/file/);
  });

  it('refuses a Content-Length over MAX_FILE_SIZE with 413 before storing anything', async () => {
    const before = await allChunksOnDisk(cluster());
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${cluster().gateway.url}/files?filename=big`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(11 * 1024 ** 3) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
    expect(await allChunksOnDisk(cluster())).toEqual(before);
  });

  it('lists with pagination and deletes files with their chunks', async () => {
    const uploaded = [];
    for (let i = 0; i < 5; i++) uploaded.push(await uploadRaw(cluster().gateway.url, testData(1000 + i), `list-${i}`));
    const page = await (await fetch(`${cluster().gateway.url}/files?page=1&per_page=2`)).json();
    expect(page.files).toHaveLength(2);
    expect(page.per_page).toBe(2);
    expect(page.pagination.total_count).toBe(page.total);
    expect(page.pagination.total_pages).toBe(Math.ceil(page.total / 2));
    expect(page.total).toBeGreaterThanOrEqual(5);

    const victim = uploaded[0];
    const meta = await metadata(cluster(), victim.file_id);
    const chunkIds = meta.chunks.map((c) => c.chunk_id);
    const res = await fetch(`${cluster().gateway.url}/files/${victim.file_id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ file_id: victim.file_id, deleted_chunks: chunkIds.length, failed_chunks: 0 });
    expect((await fetch(`${cluster().gateway.url}/files/${victim.file_id}/metadata`)).status).toBe(404);
    expect((await fetch(`${cluster().gateway.url}/files/${victim.file_id}`)).status).toBe(404);
    const onDisk = await allChunksOnDisk(cluster());
    for (const id of chunkIds) expect(onDisk.has(id)).toBe(false);
    expect((await fetch(`${cluster().gateway.url}/files/${victim.file_id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('finds files by a piece of their name (?q=) and counts every file in ringstore_files_total', async () => {
    const tag = `q${Date.now().toString(36)}`;
    for (const name of [`Invoice-${tag}-1.pdf`, `invoice-${tag}-2.PDF`, `photo-${tag}.jpg`]) await uploadRaw(cluster().gateway.url, testData(100), name);
    const search = async (q: string) => (await (await fetch(`${cluster().gateway.url}/files?q=${encodeURIComponent(q)}&per_page=1`)).json()) as { files: Array<{ filename: string }>; total: number };
    const invoices = await search(`INVOICE-${tag}`);
    expect([invoices.total, invoices.files.map((f) => f.filename)]).toEqual([2, [`invoice-${tag}-2.PDF`]]);
    expect((await search(`${tag}.jpg`)).total).toBe(1);
    expect((await search(`%${tag}`)).total).toBe(0);

    const listed = async () => ((await (await fetch(`${cluster().gateway.url}/files?per_page=1`)).json()) as { total: number }).total;
    const gauge = async () => Number(/^ringstore_files_total (\d+)$/m.exec(await (await fetch(`${cluster().gateway.url}/metrics`)).text())?.[1]);
    // Counted from the metadata at most every 15 s: wait for the count to catch up.
    await waitFor(async () => (await gauge()) === (await listed()), { timeoutMs: 40_000, intervalMs: 1000, what: 'ringstore_files_total to equal the files listed' });
    expect(await gauge()).toBeGreaterThan(0);
  }, 60_000);

  it('shows each storage server with its address and the bytes ringstore holds on it, in /metrics and on the dashboard', async () => {
    const scrape = async () => {
      const text = await (await fetch(`${cluster().gateway.url}/metrics`)).text();
      const addresses = new Map([...text.matchAll(/^ringstore_storage_server_info\{server_id="([^"]+)",address="([^"]+)",membership="active"\} 1$/gm)].map((m) => [m[1], m[2]]));
      const held = new Map([...text.matchAll(/^ringstore_storage_server_bytes_held\{server_id="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
      return { addresses, held };
    };
    const before = await scrape();
    expect(Object.fromEntries(before.addresses)).toEqual(Object.fromEntries(cluster().storage.map((node) => [node.serverId, node.address])));

    const created = await uploadRaw(cluster().gateway.url, testData(3 * MiB), 'held.bin');
    const grown = new Map<string, number>();
    for (const chunk of (await metadata(cluster(), created.file_id)).chunks) {
      for (const replica of chunk.replicas) grown.set(replica.server_id, (grown.get(replica.server_id) ?? 0) + chunk.size);
    }
    // Usage is read from the metadata at most every 2 s: wait for the gauges to show the new file.
    await waitFor(
      async () => {
        const { held } = await scrape();
        return cluster().storage.every((node) => held.get(node.serverId) === (before.held.get(node.serverId) ?? 0) + (grown.get(node.serverId) ?? 0));
      },
      { timeoutMs: 20_000, what: "every server's bytes_held to grow by the new file's chunks on it" },
    );
    const { held } = await scrape();
    const tiles = (await (await fetch(`${cluster().gateway.url}/admin/connections`)).json()) as { servers: Array<{ server_id: string; bytes_held?: number }> };
    expect(Object.fromEntries(tiles.servers.map((s) => [s.server_id, s.bytes_held]))).toEqual(Object.fromEntries(held));
  }, 60_000);

  it('leaves nothing behind when a client disconnects mid-upload', async () => {
    // Let the earlier tests' in-flight work settle so the disk listing is stable.
    const before = await allChunksOnDisk(cluster());
    const listBefore = (await (await fetch(`${cluster().gateway.url}/files?per_page=1000`)).json()).total;
    await new Promise<void>((resolve) => {
      const req = http.request(`${cluster().gateway.url}/files?filename=abandoned`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(20 * MiB) },
      });
      req.on('error', () => resolve());
      req.write(testData(8 * MiB), () => {
        // Enough time for the gateway to have streamed chunks to the servers.
        setImmediate(() => {
          req.destroy();
          resolve();
        });
      });
    });
    await waitFor(
      async () => {
        await fetch(`${cluster().gateway.url}/admin/jobs/cleanup`, { method: 'POST' });
        const now = await allChunksOnDisk(cluster());
        return [...now].every((id) => before.has(id)) && now.size === before.size;
      },
      { timeoutMs: 20_000, what: 'the abandoned upload to leave no chunk on disk' },
    );
    const listAfter = (await (await fetch(`${cluster().gateway.url}/files?per_page=1000`)).json()).total;
    expect(listAfter).toBe(listBefore);
  });

  it('handles 50 concurrent uploads and 100 concurrent downloads byte-exact', async () => {
    const files = Array.from({ length: 50 }, (_, i) => testData(2 * MiB + i * 1000));
    const uploaded = await Promise.all(files.map((data, i) => uploadRaw(cluster().gateway.url, data, `c-${i}`)));
    uploaded.forEach((u, i) => expect(u.checksum).toBe(sha256(files[i])));
    const downloads = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const got = await download(cluster().gateway.url, uploaded[i % 50].file_id);
        return got.status === 200 && sha256(got.body) === sha256(files[i % 50]);
      }),
    );
    expect(downloads.filter((ok) => !ok)).toHaveLength(0);
  }, 180_000);

  it('serves a hot small file from memory, byte-exact and ranged, until it is deleted', async () => {
    const data = testData(10_000);
    const up = await uploadRaw(cluster().gateway.url, data, 'hot.bin');
    expect((await download(cluster().gateway.url, up.file_id)).body.equals(data)).toBe(true);
    // With every storage server hung, only the gateway's memory can answer.
    for (const node of cluster().storage) node.proc.signal('SIGSTOP');
    try {
      const whole = await download(cluster().gateway.url, up.file_id);
      expect([whole.status, whole.body.equals(data)]).toEqual([200, true]);
      const part = await download(cluster().gateway.url, up.file_id, { Range: 'bytes=9000-' });
      expect([part.status, part.headers.get('content-range'), part.body.equals(data.subarray(9000))]).toEqual([206, 'bytes 9000-9999/10000', true]);
    } finally {
      for (const node of cluster().storage) node.proc.signal('SIGCONT');
    }
    expect((await fetch(`${cluster().gateway.url}/files/${up.file_id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await download(cluster().gateway.url, up.file_id)).status).toBe(404);
  });

  it('keeps serving and storing with one storage server killed', async () => {
    const stored = await Promise.all(Array.from({ length: 6 }, (_, i) => testData(600 * 1024 + i)).map(async (data, i) => ({ data, up: await uploadRaw(cluster().gateway.url, data, `k-${i}`) })));
    const victim = cluster().storage[0];
    await victim.proc.kill('SIGKILL');
    for (const { data, up } of stored) {
      const got = await download(cluster().gateway.url, up.file_id);
      expect(got.status).toBe(200);
      expect(got.body.equals(data)).toBe(true);
    }
    for (let i = 0; i < 5; i++) {
      const data = testData(300 * 1024 + i);
      const up = await uploadRaw(cluster().gateway.url, data, `after-kill-${i}`);
      const got = await download(cluster().gateway.url, up.file_id);
      expect(got.body.equals(data)).toBe(true);
    }
    await victim.start();
    await cluster().waitForReady(6);
  }, 180_000);
});
