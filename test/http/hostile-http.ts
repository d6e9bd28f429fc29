import net from 'node:net';
import { startCluster, type Cluster } from '../helpers/cluster';
import { chunkIdsOnDisk, download, sha256 } from '../helpers/files';
import { waitFor } from '../helpers/wait';
import { Client } from 'pg';

/** Shared by the hostile-input and fuzz tests: raw sockets, and the "nothing leaked" checks. */

export interface RawResponse {
  status: number;
  /** Header lines exactly as received (name: value). */
  headerLines: string[];
  body: Buffer;
}

export function header(response: RawResponse, name: string): string[] {
  const prefix = `${name.toLowerCase()}:`;
  return response.headerLines.filter((l) => l.toLowerCase().startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
}

/** Parses one HTTP/1.1 response out of bytes read so far; undefined while incomplete. */
function parseResponse(data: Buffer, closed: boolean, toHead: boolean): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
  const headerLines = lines.slice(1);
  const length = headerLines.find((l) => /^content-length:/i.test(l));
  const body = data.subarray(end + 4);
  if (toHead) return { status, headerLines, body: Buffer.alloc(0) };
  if (length !== undefined) {
    const size = Number(length.split(':')[1]);
    return body.length >= size ? { status, headerLines, body: body.subarray(0, size) } : undefined;
  }
  return closed ? { status, headerLines, body } : undefined;
}

/**
 * A raw TCP connection to the gateway for requests no well-behaved client would send: lets a
 * test write arbitrary bytes, at its own pace, and read the response as it arrives.
 */
export class RawConnection {
  private readonly socket: net.Socket;
  private data = Buffer.alloc(0);
  readonly closed: Promise<void>;
  isClosed = false;
  error: Error | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.data = Buffer.concat([this.data, d])));
    // Resets are part of what is being tested: kept for the test to judge, never thrown.
    this.socket.on('error', (error) => (this.error = error));
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.isClosed = true;
      resolve();
    }));
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The first complete response (to a HEAD request: headers only), or rejects at the deadline. */
  async response(timeoutMs = 10_000, toHead = false): Promise<RawResponse> {
    let parsed: RawResponse | undefined;
    await waitFor(async () => (parsed = parseResponse(this.data, this.isClosed, toHead)) !== undefined || this.isClosed, {
      timeoutMs,
      what: 'a response on the raw connection',
    });
    if (!parsed) throw new Error(`connection closed without a response; got ${JSON.stringify(this.data.toString('latin1').slice(0, 200))}`);
    return parsed;
  }

  /** Resolves once the server closed the connection, or rejects at the deadline. */
  async serverClosed(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Half-closes: the client has nothing more to send (a short body is then final). */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  received(): string {
    return this.data.toString('latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection; the connection is closed afterwards. */
export async function rawRequest(port: number, request: string | Buffer, timeoutMs?: number): Promise<RawResponse> {
  const connection = new RawConnection(port);
  try {
    connection.write(request);
    return await connection.response(timeoutMs);
  } finally {
    connection.destroy();
  }
}

/** The JSON `{error}` body every refusal carries. */
export function jsonError(response: RawResponse): string {
  expect(header(response, 'content-type')[0]).toMatch(/^application\/json/);
  const body = JSON.parse(response.body.toString('utf8')) as { error?: unknown };
  expect(typeof body.error).toBe('string');
  return body.error as string;
}

export function multipartBody(boundary: string, parts: Array<{ headers: string[]; data: string | Buffer }>, close = true): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    pieces.push(Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  if (close) pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

export function fileHeaders(filename: string, name = 'file'): string[] {
  return [`Content-Disposition: form-data; name="${name}"; filename="${filename}"`, 'Content-Type: application/octet-stream'];
}

/**
 * PostgreSQL when TEST_DATABASE_URL is set, the embedded store otherwise. Cleanup runs every
 * second, so chunks whose delete failed at abort time (kept as pending deletes) go promptly.
 */
export function hostileCluster(env: Record<string, string>): Promise<Cluster> {
  return startCluster({ storageServers: 3, postgresUrl: process.env.TEST_DATABASE_URL, env: { CLEANUP_INTERVAL_MS: '1000', ...env } });
}

export interface KnownFile {
  id: string;
  data: Buffer;
}

/**
 * Stores the file the tests check on afterwards. A cluster just started may still answer 503
 * + Retry-After while its ring fills; a well-behaved client retries that.
 */
export async function storeKnownFile(cluster: Cluster, data: Buffer): Promise<KnownFile> {
  const id = await waitFor(
    async () => {
      const res = await fetch(`${cluster.gateway.url}/files?filename=known.bin`, { method: 'POST', body: new Uint8Array(data) });
      const body = (await res.json()) as { file_id?: string; error?: string };
      if (res.status === 503) return undefined;
      if (res.status !== 201) throw new Error(`storing the known file failed: ${res.status} ${body.error}`);
      return body.file_id;
    },
    { timeoutMs: 20_000, intervalMs: 250, what: 'the known file to be stored' },
  );
  return { id, data };
}

export async function expectIntact(cluster: Cluster, known: KnownFile): Promise<void> {
  const got = await download(cluster.gateway.url, known.id);
  expect(got.status).toBe(200);
  expect(sha256(got.body)).toBe(sha256(known.data));
}

/** Chunk ids referenced by every listed file's metadata. */
async function chunksOfListedFiles(cluster: Cluster): Promise<Set<string>> {
  const ids = new Set<string>();
  const list = (await (await fetch(`${cluster.gateway.url}/files?per_page=1000`)).json()) as { files: Array<{ file_id: string }> };
  for (const file of list.files) {
    const meta = (await (await fetch(`${cluster.gateway.url}/files/${file.file_id}/metadata`)).json()) as { chunks: Array<{ chunk_id: string }> };
    for (const chunk of meta.chunks) ids.add(chunk.chunk_id);
  }
  return ids;
}

/** Every chunk id on any storage server's disk. */
export async function chunksOnDisk(cluster: Cluster): Promise<Set<string>> {
  const all = new Set<string>();
  for (const node of cluster.storage) for (const id of await chunkIdsOnDisk(node.dataDir)) all.add(id);
  return all;
}

/** Upload sessions open in the metadata database; undefined on the embedded store. */
export async function openUploadSessions(cluster: Cluster): Promise<number | undefined> {
  if (!cluster.databaseUrl) return undefined;
  const client = new Client({ connectionString: cluster.databaseUrl });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM upload_sessions')).rows[0].n);
  } finally {
    await client.end();
  }
}

/**
 * Nothing of a refused or abandoned upload survives: no upload session (checked on
 * PostgreSQL), and no chunk on any storage server that no listed file references.
 */
export async function expectNoLeftovers(cluster: Cluster): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const referenced = await chunksOfListedFiles(cluster);
      const stray = [...(await chunksOnDisk(cluster))].filter((id) => !referenced.has(id));
      const sessions = await openUploadSessions(cluster);
      last = `${stray.length} stray chunks (${stray.slice(0, 3).join(', ')}), ${sessions ?? 'unchecked'} upload sessions`;
      return stray.length === 0 && (sessions ?? 0) === 0;
    },
    { timeoutMs: 15_000, what: 'no leftovers of refused uploads' },
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${last}`);
  });
}
