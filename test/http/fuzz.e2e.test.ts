import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Cluster } from '../helpers/cluster';
import { testData } from '../helpers/files';
import { REPO_ROOT, RingstoreProcess } from '../helpers/process';
import { RawConnection, expectIntact, expectNoLeftovers, header, hostileCluster, multipartBody, storeKnownFile, type KnownFile, type RawResponse } from './hostile-http';

const FUZZ_TIME_MS = 15_000;
/** In every generated filename, so a file written anywhere by mistake can be found by name. */
const MARKER = `fzmk${randomUUID().slice(0, 8)}`;

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Paths of every entry under `dir` whose name contains the marker (depth-limited, skipping node_modules/.git). */
async function findMarked(dir: string, depth: number): Promise<string[]> {
  if (depth < 0) return [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.name.includes(MARKER)) found.push(full);
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== '.git') found.push(...(await findMarked(full, depth - 1)));
  }
  return found;
}

/** Files under a storage server's chunk and temp directories that are not named by a chunk id. */
async function unexpectedChunkFiles(dataDir: string): Promise<string[]> {
  const odd: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (!UUID_SHAPE.test(entry.name)) odd.push(full);
    }
  };
  await walk(path.join(dataDir, 'chunks'));
  await walk(path.join(dataDir, 'tmp'));
  return odd;
}

describe('fuzzing the running gateway', () => {
  let cluster: Cluster;
  let known: KnownFile;

  beforeAll(async () => {
    cluster = await hostileCluster({ BODY_IDLE_TIMEOUT_MS: '3000', HEADERS_TIMEOUT_MS: '2000', MAX_FILE_SIZE: String(256 * 1024) });
    known = await storeKnownFile(cluster, testData(100_003));
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  it('answers random requests without a 5xx, a crash, a stray file or harm to stored files', async () => {
    const name = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constantFrom('../../', '..\\..\\', '/etc/', 'C:\\', './', '%2e%2e%2f', '\r\n', '"', ''),
    ).map((s) => `${s}${MARKER}${s}`);
    const id = fc.oneof(
      fc.uuid(),
      fc.constant(known.id),
      fc.constantFrom('..', '%2e%2e', '%2F..%2F', '%00', '%zz', '%', 'null', 'undefined', '-1', ' ', '%20'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 50 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 50 }).map((s) => encodeURIComponent(s).replace(/%25/g, '%')),
    );
    const query = fc.option(
      fc.record({ page: fc.oneof(fc.nat().map(String), fc.string()), per_page: fc.oneof(fc.integer().map(String), fc.string()), filename: name }, { requiredKeys: [] })
        .map((q) => Object.entries(q).map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`).join('&')),
      { nil: undefined },
    );
    const route = fc.oneof(
      { arbitrary: fc.constant('/files'), weight: 4 },
      { arbitrary: fc.constant(`/files/${known.id}`), weight: 2 },
      id.map((i) => `/files/${i}`),
      id.map((i) => `/files/${i}/metadata`),
      fc.constantFrom('/health', '/metrics', '/admin', '/admin/connections', '/admin/servers', '/admin/jobs', '/admin/jobs/cleanup', '/admin/repair', '/', '//files', '/files/', '/FILES', '/files/../health', '/%2e%2e/files'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `/${encodeURIComponent(s)}`),
    );
    const target = fc.tuple(route, query).map(([r, q]) => (q ? `${r}?${q}` : r));
    const method = fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'G3T');
    const range = fc.oneof(
      fc.tuple(fc.integer({ min: -5, max: 200_000 }), fc.integer({ min: -5, max: 200_000 })).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat().map((n) => `bytes=-${n}`),
      fc.constantFrom('bytes=0-0,5-9', 'bytes=', 'bytes=x-y', 'items=0-1', 'bytes=99999999999999999999999-', 'bytes=0-99999999999999999999999'),
      fc.string({ maxLength: 30 }),
    );
    const contentType = fc.oneof(
      fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=FuzzB', 'multipart/form-data; boundary="FuzzB"', 'multipart/form-data; boundary=', 'multipart/mixed; boundary=FuzzB'),
      fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded', 'image/png', ''),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
    );
    const multipart = fc
      .record({
        filename: name,
        data: fc.uint8Array({ maxLength: 4096 }),
        field: fc.constantFrom('file', 'file', 'other', 'File', ''),
        parts: fc.integer({ min: 1, max: 3 }),
        cut: fc.option(fc.nat(), { nil: undefined }),
        flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
      })
      .map(({ filename, data, field, parts, cut, flip }) => {
        const part = { headers: [`Content-Disposition: form-data; name="${field}"; filename="${filename.replace(/[\r\n"]/g, '_')}"`], data: Buffer.from(data) };
        const body = multipartBody('FuzzB', Array.from({ length: parts }, () => part));
        if (flip) body[flip[0] % body.length] = flip[1];
        return cut === undefined ? body : body.subarray(0, cut % (body.length + 1));
      });
    const body = fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 8192 }).map((b) => Buffer.from(b)), multipart);
    const request = fc.record({
      method,
      target,
      body,
      contentType: fc.option(contentType, { nil: undefined }),
      range: fc.option(range, { nil: undefined }),
      // Content-Length: true, a lie (more or fewer bytes than sent), absent, or chunked encoding.
      framing: fc.oneof(fc.constant<'exact' | 'chunked' | 'none'>('exact'), fc.constantFrom<'chunked' | 'none'>('chunked', 'none'), fc.integer({ min: -100, max: 100 })),
      xFilename: fc.option(name.map(encodeURIComponent), { nil: undefined }),
      extra: fc.option(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 60 })), { nil: undefined }),
    });

    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        // Never delete the file the test checks on afterwards.
        if (r.method === 'DELETE' && r.target.includes(known.id)) return;
        const lines = [`${r.method} ${r.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
        if (r.contentType !== undefined) lines.push(`Content-Type: ${r.contentType}`);
        if (r.range !== undefined) lines.push(`Range: ${r.range}`);
        if (r.xFilename !== undefined) lines.push(`X-Filename: ${r.xFilename}`);
        if (r.extra) lines.push(`${r.extra[0]}: ${r.extra[1]}`);
        let payload = r.body;
        if (r.framing === 'exact') lines.push(`Content-Length: ${r.body.length}`);
        else if (typeof r.framing === 'number') lines.push(`Content-Length: ${Math.max(0, r.body.length + r.framing)}`);
        else if (r.framing === 'chunked') {
          lines.push('Transfer-Encoding: chunked');
          payload = Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from(r.body.length > 0 ? '\r\n0\r\n\r\n' : '\r\n')]);
        }
        const connection = new RawConnection(cluster.gateway.port);
        connection.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]));
        // A client that promised more than it sent hangs up (Node aborts a half-closed request);
        // every other request is complete and gets its answer before the server closes.
        const incomplete = typeof r.framing === 'number' && r.framing > 0;
        if (incomplete) connection.end();
        try {
          await connection.serverClosed(10_000);
        } finally {
          connection.destroy();
        }
        // No answer at all is fair only when the request never completed (a lying Content-Length).
        if (connection.received().length === 0) {
          expect([r.method, r.target, connection.error?.message, incomplete]).toEqual([r.method, r.target, undefined, true]);
          outcomes.none = (outcomes.none ?? 0) + 1;
          return;
        }
        const response: RawResponse | undefined = await connection.response(1000, r.method === 'HEAD').catch((error: unknown) => {
          // The client hung up mid-request, so the server may stop mid-answer: a cut, never a whole.
          if (incomplete) return undefined;
          throw error;
        });
        if (!response) {
          outcomes.cut = (outcomes.cut ?? 0) + 1;
          return;
        }
        outcomes[response.status] = (outcomes[response.status] ?? 0) + 1;
        expect([r.method, r.target, response.status < 500]).toEqual([r.method, r.target, true]);
        if (response.status >= 400 && r.method !== 'HEAD' && response.body.length > 0) {
          expect(header(response, 'content-type')[0]).toMatch(/^application\/json/);
        }
      }),
      { numRuns: 2000, interruptAfterTimeLimit: FUZZ_TIME_MS, markInterruptAsFailure: false, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
    // A fuzzer that only ever got one answer tested nothing: it must have reached many outcomes.
    expect(Object.keys(outcomes).length).toBeGreaterThanOrEqual(5);
    console.log(`fuzz outcomes by status: ${JSON.stringify(outcomes)}`);

    expect(cluster.gateway.proc.child.exitCode).toBeNull();
    for (const node of cluster.storage) expect(node.proc.child.exitCode).toBeNull();
    expect(cluster.gateway.proc.lines.filter((l) => /Unhandled error/.test(l.message))).toEqual([]);
    await expectIntact(cluster, known);
    await expectNoLeftovers(cluster);
    for (const node of cluster.storage) expect(await unexpectedChunkFiles(node.dataDir)).toEqual([]);
    expect([
      ...(await findMarked(cluster.root, 6)),
      ...(await findMarked(REPO_ROOT, 3)),
      ...(await findMarked(os.tmpdir(), 1)),
    ]).toEqual([]);
  }, 90_000);
});
