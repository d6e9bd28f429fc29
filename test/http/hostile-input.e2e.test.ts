import { randomBytes } from 'node:crypto';
import type { Cluster } from '../helpers/cluster';
import { download, sha256, testData, uploadRaw } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import {
  chunksOnDisk,
  RawConnection,
  expectIntact,
  expectNoLeftovers,
  fileHeaders,
  header,
  hostileCluster,
  jsonError,
  multipartBody,
  rawRequest,
  storeKnownFile,
  type KnownFile,
} from './hostile-http';

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMITS = {
  MAX_CONCURRENT_UPLOADS: '3',
  BODY_IDLE_TIMEOUT_MS: '2500',
  HEADERS_TIMEOUT_MS: '1500',
  MAX_FILE_SIZE: String(4 * MiB),
  // Small chunks, so a refused upload has already stored some that must be cleaned up.
  STREAM_CHUNK_SIZE: String(1 * MiB),
};

function post(path: string, headers: Record<string, string>, body: Buffer | string): Buffer {
  const lines = Object.entries({ Host: '127.0.0.1', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${lines}\r\n`, 'latin1'), Buffer.from(body)]);
}

function get(path: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([n, v]) => `${n}: ${v}\r\n`).join('');
  return `GET ${path} HTTP/1.1\r\n${lines}\r\n`;
}

const form = (boundary = 'HostileBoundary') => ({ 'Content-Type': `multipart/form-data; boundary=${boundary}` });

describe('gateway under hostile HTTP input', () => {
  let cluster: Cluster;
  let known: KnownFile;
  let port: number;

  beforeAll(async () => {
    cluster = await hostileCluster(LIMITS);
    port = cluster.gateway.port;
    known = await storeKnownFile(cluster, testData(MiB + 3));
  }, 90_000);

  afterEach(async () => {
    // Whatever was thrown at it, the gateway still serves a stored file byte-exact.
    await expectIntact(cluster, known);
  });

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });

  const fileData = randomBytes(300 * KiB);
  const multipartCases: Array<[string, Record<string, string>, Buffer | string, number, RegExp]> = [
    ['no boundary', { 'Content-Type': 'multipart/form-data' }, multipartBody('X', [{ headers: fileHeaders('a.bin'), data: fileData }]), 400, /boundary/i],
    ['a boundary the body does not use', form('Declared'), multipartBody('Other', [{ headers: fileHeaders('a.bin'), data: fileData }]), 400, /malformed multipart/],
    ['a body cut off inside the file', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('a.bin'), data: fileData }], false).subarray(0, 200 * KiB), 400, /ended abnormally|malformed/],
    ['a body cut off inside the part headers', form(), '--HostileBoundary\r\nContent-Disposition: form-data; name="file"; filen', 400, /malformed multipart/],
    ['two file fields', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('a.bin'), data: fileData }, { headers: fileHeaders('b.bin'), data: 'second' }]), 400, /only one 'file'/],
    ['huge part headers', form(), multipartBody('HostileBoundary', [{ headers: [...fileHeaders('a.bin'), `X-Padding: ${'p'.repeat(100 * KiB)}`], data: 'x' }]), 400, /malformed multipart/],
    ['a file part without a filename', form(), multipartBody('HostileBoundary', [{ headers: ['Content-Disposition: form-data; name="file"'], data: 'not a file' }]), 400, /filename/],
    ['no file field at all', form(), multipartBody('HostileBoundary', [{ headers: ['Content-Disposition: form-data; name="note"'], data: 'hi' }]), 400, /missing multipart field 'file'/],
    ['hundreds of parts', form(), multipartBody('HostileBoundary', Array.from({ length: 200 }, (_, i) => ({ headers: [`Content-Disposition: form-data; name="f${i}"`], data: 'v' }))), 400, /too many/],
    ['an ignored file part cut off by the end of the body', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('../x', 'other'), data: '' }], false), 400, /malformed multipart|missing multipart field/],
    ['a JSON body', { 'Content-Type': 'application/json' }, '{"file":"x"}', 400, /multipart\/form-data/],
    ['another multipart type', { 'Content-Type': 'multipart/mixed; boundary=HostileBoundary' }, multipartBody('HostileBoundary', [{ headers: fileHeaders('a.bin'), data: 'x' }]), 415, /unsupported content type/],
  ];

  it.each(multipartCases)('refuses an upload with %s, and stores nothing', async (_name, headers, body, status, message) => {
    const response = await rawRequest(port, post('/files', headers, body));
    expect(response.status).toBe(status);
    expect(jsonError(response)).toMatch(message);
    await expectNoLeftovers(cluster);
  });

  it('refuses files over MAX_FILE_SIZE (413) whether the size is declared or only found mid-stream, and cleans up stored chunks', async () => {
    const big = testData(5 * MiB);
    const declared = await fetch(`${cluster.gateway.url}/files`, { method: 'POST', body: new Uint8Array(big) });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: string }).error).toMatch(/size/);

    // Chunked: nothing says how big it is until the 4 MiB already stored (four 1 MiB chunks).
    const streamed = await fetch(`${cluster.gateway.url}/files?filename=big.bin`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let offset = 0; offset < big.length; offset += 256 * KiB) controller.enqueue(new Uint8Array(big.subarray(offset, offset + 256 * KiB)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toMatch(/size/);
    await expectNoLeftovers(cluster);
  });

  it('leaves nothing behind when a client vanishes mid-upload (raw and multipart)', async () => {
    const data = randomBytes(2 * MiB);
    const requests = [
      post('/files?filename=gone.bin', { 'Content-Type': 'application/octet-stream' }, data),
      post('/files', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('gone.bin'), data }])),
    ];
    const onDisk = () => chunksOnDisk(cluster);
    for (const request of requests) {
      const before = await onDisk();
      const connection = new RawConnection(port);
      // Three quarters of 2 MiB: the first of its two 1 MiB chunks is stored before the plug is pulled.
      connection.write(request.subarray(0, Math.floor(request.length * 0.75)));
      // A chunk id not seen before (the previous request's chunks may be going meanwhile).
      await waitFor(async () => [...(await onDisk())].some((id) => !before.has(id)), { what: 'the upload under way (a chunk of it on disk)' });
      connection.destroy();
    }
    await expectNoLeftovers(cluster);
  });

  it('cancels the storage streams and removes what was stored at once when a client aborts mid-upload', async () => {
    const data = randomBytes(3 * MiB);
    const request = post('/files?filename=aborted.bin', { 'Content-Type': 'application/octet-stream' }, data);
    const onDisk = () => chunksOnDisk(cluster);
    const before = await onDisk();
    const connection = new RawConnection(port);
    // Three chunks of 1 MiB: two stored, the third being written when the client goes.
    connection.write(request.subarray(0, request.length - data.length + 2 * MiB + 100 * KiB));
    await waitFor(async () => (await onDisk()).size >= before.size + 2, { what: 'chunks of the upload on disk' });
    const abortedAt = Date.now();
    connection.destroy();
    // Not left to an idle timeout (BODY_IDLE_TIMEOUT_MS is 2500 ms here, the storage side's is
    // longer) nor to cleanup's orphan pass (an hour's grace): the upload's own abort cancels the
    // open streams (their temp files go) and deletes the stored chunks.
    await waitFor(async () => [...(await onDisk())].every((id) => before.has(id)), { timeoutMs: 10_000, what: 'every chunk and temp file of the aborted upload gone' });
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    await expectNoLeftovers(cluster);
  });

  it('answers 400 JSON for a malformed file id on every route', async () => {
    const ids = ['not-a-uuid', '..%2F..%2Fetc%2Fpasswd', '%00', '%zz', 'x'.repeat(5000), '00000000-0000-0000-0000-00000000000g', `${known.id}%0d%0aX-Injected:%201`];
    for (const id of ids) {
      for (const [method, suffix] of [['GET', ''], ['HEAD', ''], ['DELETE', ''], ['GET', '/metadata']]) {
        const res = await fetch(`${cluster.gateway.url}/files/${id}${suffix}`, { method });
        expect([method, id.slice(0, 40), suffix, res.status]).toEqual([method, id.slice(0, 40), suffix, 400]);
        expect(res.headers.get('x-injected')).toBeNull();
        if (method !== 'HEAD') expect(typeof ((await res.json()) as { error: unknown }).error).toBe('string');
      }
    }
    const unknown = await fetch(`${cluster.gateway.url}/files/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/not found/);
  });

  it('keeps Content-Disposition one safe header for path-like, control-character and Unicode filenames', async () => {
    const names = [
      '../../etc/passwd',
      '..\\..\\windows\\win.ini',
      'evil\r\nSet-Cookie: owned=1\r\nX-Injected: 1.txt',
      'quote"semi;colon%25\\back.txt',
      'naïve résumé ☃.txt',
      '\u202Egnp.exe',
      '\u0000\u0007\u001b',
      'a'.repeat(1000),
    ];
    const data = Buffer.from('hostile names');
    const uploads = [];
    for (const name of names) {
      const res = await fetch(`${cluster.gateway.url}/files?filename=${encodeURIComponent(name)}`, { method: 'POST', body: data });
      expect(res.status).toBe(201);
      uploads.push(((await res.json()) as { file_id: string }).file_id);
    }
    for (const name of ['../../etc/passwd', 'C:\\temp\\x.txt', 'semi;colon.txt']) {
      const response = await rawRequest(port, post('/files', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders(name), data }])));
      expect(response.status).toBe(201);
      uploads.push((JSON.parse(response.body.toString()) as { file_id: string }).file_id);
    }
    for (const id of uploads) {
      const meta = (await (await fetch(`${cluster.gateway.url}/files/${id}/metadata`)).json()) as { filename: string };
      expect(meta.filename).not.toMatch(/[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(meta.filename.length).toBeGreaterThan(0);
      expect(meta.filename.length).toBeLessThanOrEqual(255);

      const response = await rawRequest(port, get(`/files/${id}`));
      expect(response.status).toBe(200);
      expect(response.body.equals(data)).toBe(true);
      for (const line of response.headerLines) expect(line).toMatch(/^[\x20-\x7e]+$/);
      expect(header(response, 'set-cookie')).toEqual([]);
      expect(header(response, 'x-injected')).toEqual([]);
      expect(header(response, 'x-content-type-options')).toEqual(['nosniff']);
      const dispositions = header(response, 'content-disposition');
      expect(dispositions).toHaveLength(1);
      const match = /^attachment; filename="([^"\\]*)"; filename\*=UTF-8''([A-Za-z0-9%!#$&+.^_`|~-]+)$/.exec(dispositions[0]);
      expect(match).not.toBeNull();
      expect(decodeURIComponent(match![2])).toBe(meta.filename);
      await fetch(`${cluster.gateway.url}/files/${id}`, { method: 'DELETE' });
    }
  });

  it('answers 416 JSON for negative, reversed, multiple, huge and malformed ranges, and serves a huge end as the rest', async () => {
    const size = known.data.length;
    for (const range of ['bytes=-5-10', 'bytes=10-5', 'bytes=0-1,4-5', `bytes=${size}-`, 'bytes=99999999999999999999999-', 'bytes=abc', 'items=0-1', 'bytes=-0', 'bytes=-', 'bytes=1.5-2']) {
      const res = await fetch(`${cluster.gateway.url}/files/${known.id}`, { headers: { Range: range } });
      expect([range, res.status]).toEqual([range, 416]);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('content-disposition')).toBeNull();
      expect(typeof ((await res.json()) as { error: unknown }).error).toBe('string');
    }
    const rest = await download(cluster.gateway.url, known.id, { Range: 'bytes=100-99999999999999999999999' });
    expect(rest.status).toBe(206);
    expect(rest.body.equals(known.data.subarray(100))).toBe(true);
  });

  it('answers 431 JSON for oversized headers and 400 JSON for unparsable HTTP', async () => {
    const bigHeader = await rawRequest(port, get('/health', { 'X-Big': 'b'.repeat(20 * KiB) }));
    expect(bigHeader.status).toBe(431);
    expect(jsonError(bigHeader)).toMatch(/MAX_HEADER_SIZE/);
    const bigUrl = await rawRequest(port, get(`/files/${'u'.repeat(20 * KiB)}`));
    expect(bigUrl.status).toBe(431);

    for (const garbage of ['NOT HTTP AT ALL\r\n\r\n', 'POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'GET /health HTTP/1.1\r\nBad Header Name: 1\r\n\r\n']) {
      const response = await rawRequest(port, garbage);
      expect(response.status).toBe(400);
      jsonError(response);
    }
  });

  it('cuts a slowloris client that never finishes its headers (408)', async () => {
    const connection = new RawConnection(port);
    connection.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // The client's pace: a header line every 200 ms, forever.
    const drip = setInterval(() => connection.write('X-Drip: 1\r\n'), 200);
    try {
      await connection.serverClosed();
    } finally {
      clearInterval(drip);
    }
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it.each([
    ['a raw body', 300 * KiB, post('/files?filename=stalled.bin', { 'Content-Type': 'application/octet-stream' }, randomBytes(MiB))],
    ['a multipart file', 300 * KiB, post('/files', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('stalled.bin'), data: randomBytes(MiB) }]))],
    ['multipart part headers', 60, post('/files', form(), multipartBody('HostileBoundary', [{ headers: fileHeaders('stalled.bin'), data: 'x' }]))],
  ])('cuts an upload that stalls in %s past BODY_IDLE_TIMEOUT_MS with a 408, and keeps nothing of it', async (_what, sent, request) => {
    const connection = new RawConnection(port);
    const headerLength = request.indexOf('\r\n\r\n') + 4;
    connection.write(request.subarray(0, headerLength + sent));
    const response = await connection.response();
    expect(response.status).toBe(408);
    expect(jsonError(response)).toMatch(/stalled/);
    await connection.serverClosed();
    await expectNoLeftovers(cluster);
  });

  it('does not cut a long upload that keeps sending', async () => {
    const data = randomBytes(25 * 8 * KiB);
    const connection = new RawConnection(port);
    const request = post('/files?filename=slow.bin', { 'Content-Type': 'application/octet-stream' }, data);
    const bodyStart = request.length - data.length;
    connection.write(request.subarray(0, bodyStart));
    // The client's pace: 8 KiB every 200 ms, 5 s in all (twice BODY_IDLE_TIMEOUT_MS).
    for (let offset = 0; offset < data.length; offset += 8 * KiB) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      connection.write(data.subarray(offset, offset + 8 * KiB));
    }
    const response = await connection.response();
    connection.destroy();
    expect(response.status).toBe(201);
    const created = JSON.parse(response.body.toString()) as { file_id: string; checksum: string };
    expect(created.checksum).toBe(sha256(data));
    expect((await download(cluster.gateway.url, created.file_id)).body.equals(data)).toBe(true);
    await fetch(`${cluster.gateway.url}/files/${created.file_id}`, { method: 'DELETE' });
  });

  it('refuses uploads past MAX_CONCURRENT_UPLOADS with 503 + Retry-After, then serves them again', async () => {
    const size = 64 * KiB;
    // One more upload than the limit, all started and none finished: exactly one is refused.
    const uploads = Array.from({ length: 4 }, (_, i) => {
      const connection = new RawConnection(port);
      const request = post(`/files?filename=held-${i}.bin`, { 'Content-Type': 'application/octet-stream' }, randomBytes(size));
      const state = { connection, request, sent: request.length - size + KiB };
      connection.write(request.subarray(0, state.sent));
      return state;
    });
    // The held uploads keep sending a byte at a time so the idle timeout leaves them alone.
    const trickle = setInterval(() => uploads.forEach((u) => u.connection.write(u.request.subarray(u.sent, ++u.sent))), 300);
    let refused;
    try {
      refused = await waitFor(() => uploads.find((u) => u.connection.received().length > 0), { what: 'a 503 for the fourth concurrent upload' });
    } finally {
      clearInterval(trickle);
    }
    const response = await refused.connection.response();
    expect(response.status).toBe(503);
    expect(header(response, 'retry-after')).toEqual(['1']);
    expect(jsonError(response)).toMatch(/too many uploads/);
    refused.connection.destroy();

    for (const held of uploads.filter((u) => u !== refused)) {
      held.connection.write(held.request.subarray(held.sent));
      const stored = await held.connection.response();
      held.connection.destroy();
      expect(stored.status).toBe(201);
      await fetch(`${cluster.gateway.url}/files/${(JSON.parse(stored.body.toString()) as { file_id: string }).file_id}`, { method: 'DELETE' });
    }
    const after = await uploadRaw(cluster.gateway.url, Buffer.from('after the flood'), 'after.bin');
    await fetch(`${cluster.gateway.url}/files/${after.file_id}`, { method: 'DELETE' });
    await expectNoLeftovers(cluster);
  });

  const accessLogOf = (path: string) => cluster.gateway.proc.lines.filter((l) => l.event === 'http_request' && l.path === path);

  it('refuses a form-encoded body or an empty request that names no file with a 400 saying how to upload', async () => {
    const form = await rawRequest(port, post('/files', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'name=value&other=1'));
    expect(form.status).toBe(400);
    const formError = jsonError(form);
    expect(formError).toMatch(/form-encoded/);
    expect(formError).toMatch(/multipart\/form-data in a field named 'file'/);
    expect(formError).toContain("curl -X POST -T FILE");
    expect(formError).toContain("--data-binary @FILE -H 'Content-Type: application/octet-stream'");

    const nothing = await rawRequest(port, `POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(nothing.status).toBe(400);
    expect(jsonError(nothing)).toMatch(/carries no file: .*multipart/);
    const zero = await rawRequest(port, post('/files', {}, ''));
    expect([zero.status, jsonError(zero)]).toEqual([400, expect.stringMatching(/carries no file/)]);
    await expectNoLeftovers(cluster);
  });

  it('takes a form-encoded body with a file name as raw bytes, and an explicit empty upload as an empty file', async () => {
    // What `curl --data-binary @f '/files?filename=f'` sends.
    const bytes = randomBytes(70 * KiB);
    const named = await rawRequest(port, post('/files?filename=data.bin', { 'Content-Type': 'application/x-www-form-urlencoded' }, bytes));
    expect(named.status).toBe(201);
    const stored = JSON.parse(named.body.toString()) as { file_id: string; size: number; content_type: string };
    expect([stored.size, stored.content_type]).toEqual([bytes.length, 'application/octet-stream']);
    expect((await download(cluster.gateway.url, stored.file_id)).body.equals(bytes)).toBe(true);

    for (const request of [post('/files?filename=empty.txt', {}, ''), post('/files', { 'X-Filename': 'empty.bin' }, '')]) {
      const empty = await rawRequest(port, request);
      expect(empty.status).toBe(201);
      const file = JSON.parse(empty.body.toString()) as { file_id: string; size: number; chunks: number };
      expect([file.size, file.chunks]).toEqual([0, 0]);
      await fetch(`${cluster.gateway.url}/files/${file.file_id}`, { method: 'DELETE' });
    }
    await fetch(`${cluster.gateway.url}/files/${stored.file_id}`, { method: 'DELETE' });
  });

  it('answers methods a files route does not take with 405 and Allow', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/files', 'GET, HEAD, POST'],
      ['DELETE', '/files', 'GET, HEAD, POST'],
      ['PATCH', '/files', 'GET, HEAD, POST'],
      ['POST', `/files/${known.id}`, 'GET, HEAD, DELETE'],
      ['PUT', `/files/${known.id}`, 'GET, HEAD, DELETE'],
      ['DELETE', `/files/${known.id}/metadata`, 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const body = Buffer.from('some bytes');
      const response = await rawRequest(port, Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
      expect([method, path, response.status, header(response, 'allow')]).toEqual([method, path, 405, [allow]]);
      expect(jsonError(response)).toContain(`use ${allow}`);
    }
    const put = await rawRequest(port, post('/files', {}, 'x').toString('latin1').replace(/^POST/, 'PUT'));
    expect(jsonError(put)).toMatch(/to upload, POST the file/);
  });

  it('answers a body shorter than its Content-Length: 408 once it stalls, 400 at once when the client half-closes; the access log says so', async () => {
    const head = (name: string) => `POST /files?filename=${name} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`;
    const stalled = new RawConnection(port);
    stalled.write(head('short-stalled.bin') + 'only this');
    const timedOut = await stalled.response();
    expect(timedOut.status).toBe(408);
    expect(jsonError(timedOut)).toMatch(/stalled/);
    await stalled.serverClosed();

    const halfClosed = new RawConnection(port);
    const sentAt = Date.now();
    halfClosed.write(head('short-closed.bin') + 'only this');
    halfClosed.end();
    const answered = await halfClosed.response();
    const waitedMs = Date.now() - sentAt;
    expect(answered.status).toBe(400);
    expect(jsonError(answered)).toMatch(/ended early: the client closed its side .* 100000 bytes its Content-Length announced/);
    // Answered without waiting for the idle timeout (BODY_IDLE_TIMEOUT_MS is 2500 ms here).
    expect(waitedMs).toBeLessThan(2500);
    await halfClosed.serverClosed();

    // The admin routes' JSON bodies too (the parser alone waited for the socket's idle timeout).
    for (const method of ['POST', 'DELETE']) {
      const admin = new RawConnection(port);
      admin.write(`${method} /admin/jobs/scrub HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"server_id":`);
      admin.end();
      const refused = await admin.response();
      expect([method, refused.status]).toEqual([method, 400]);
      expect(jsonError(refused)).toMatch(/ended early: the client closed its side .* 100 bytes its Content-Length announced/);
      await admin.serverClosed(5000);
    }

    await waitFor(() => accessLogOf('/files?filename=short-closed.bin').length > 0, { what: 'the half-closed upload in the access log' });
    expect(accessLogOf('/files?filename=short-stalled.bin').map((l) => l.status)).toEqual([408]);
    expect(accessLogOf('/files?filename=short-closed.bin').map((l) => l.status)).toEqual([400]);
    await expectNoLeftovers(cluster);
  });

  it('counts failed requests under the same route label as successful ones', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await fetch(`${cluster.gateway.url}/files/${missing}`)).status).toBe(404);
    expect((await fetch(`${cluster.gateway.url}/files/not-a-uuid/metadata`)).status).toBe(400);
    expect((await fetch(`${cluster.gateway.url}/files/${known.id}/metadata`)).status).toBe(200);
    expect((await fetch(`${cluster.gateway.url}/files?per_page=0`)).status).toBe(400);
    expect((await download(cluster.gateway.url, known.id)).status).toBe(200);
    expect((await fetch(`${cluster.gateway.url}/files`, { method: 'PUT', body: 'x' })).status).toBe(405);
    const text = await (await fetch(`${cluster.gateway.url}/metrics`)).text();
    const series = [...text.matchAll(/^ringstore_http_requests_total\{(.*)\} \d+$/gm)].map((m) => Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((p) => [p[1], p[2]])));
    const routes = (method: string, status: string) => series.filter((s) => s.method === method && s.status === status).map((s) => s.route).sort();
    expect(routes('GET', '404')).toContain('/files/:id');
    expect(routes('GET', '200')).toEqual(expect.arrayContaining(['/files/:id', '/files/:id/metadata']));
    expect(routes('GET', '400')).toEqual(expect.arrayContaining(['/files', '/files/:id/metadata']));
    expect(routes('PUT', '405')).toContain('/files');
    for (const { route } of series) expect(['unmatched', '/health', '/metrics'].includes(route) || route.startsWith('/files') || route.startsWith('/admin')).toBe(true);
  });

  it('logs health checks and heartbeats at debug, every other request at info', () => {
    const logged = cluster.gateway.proc.lines.filter((l) => l.event === 'http_request');
    expect(logged.filter((l) => l.path === '/health' || l.path === '/admin/servers')).toEqual([]);
    expect(logged.filter((l) => String(l.path).startsWith('/files')).length).toBeGreaterThan(10);
  });

  it('answered every client mistake with a 4xx, never an internal error', () => {
    const internal = cluster.gateway.proc.lines.filter((l) => /Unhandled error/.test(l.message));
    expect(internal).toEqual([]);
    expect(cluster.gateway.proc.child.exitCode).toBeNull();
  });
});
