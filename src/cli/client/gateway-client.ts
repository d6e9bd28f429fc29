import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { ClientError, EXIT, exitCodeForStatus } from './exit-codes';

/** A file as GET /files lists it. */
export interface FileSummary {
  file_id: string;
  filename: string;
  content_type: string;
  size: number;
  checksum: string;
  status: string;
  chunks: number;
  created_at: string;
}

export interface FileList {
  files: FileSummary[];
  total: number;
  page: number;
  per_page: number;
  pagination: { total_pages: number };
}

/** GET /files/:id/metadata. */
export interface FileMetadata extends Omit<FileSummary, 'chunks'> {
  chunks: Array<{ chunk_number: number; chunk_id: string; size: number; replicas: Array<{ server_id: string; server_address: string | null; status: string }> }>;
}

export interface Uploaded {
  file_id: string;
  filename: string;
  size: number;
  content_type: string;
  checksum: string;
  chunks: number;
}

/**
 * The gateway's HTTP API as the CLI uses it (nothing else: the CLI shares no code with the
 * gateway). The token, if any, goes in `Authorization: Bearer`. Failures are ClientErrors.
 */
export class GatewayClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** One request; resolves with the response once its headers arrive. */
  request(method: string, path: string, headers: Record<string, string> = {}, body?: Readable | Buffer): Promise<http.IncomingMessage> {
    const url = new URL(path, this.baseUrl);
    const auth: Record<string, string> = this.token ? { Authorization: `Bearer ${this.token}` } : {};
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method, headers: { ...auth, ...headers } }, resolve);
      request.on('error', (error) => reject(this.unreachable(error)));
      if (body === undefined) request.end();
      else if (Buffer.isBuffer(body)) request.end(body);
      else {
        body.on('error', (error) => request.destroy(error));
        body.pipe(request);
      }
    });
  }

  private unreachable(error: Error): Error {
    if (error instanceof ClientError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || code === 'EPIPE') {
      return new ClientError(`cannot reach the gateway at ${this.baseUrl}: ${error.message} (set --url or RINGSTORE_URL)`, EXIT.unavailable);
    }
    return error;
  }

  /** The response's JSON body, or a ClientError carrying the gateway's own `error` message. */
  async json<T>(response: http.IncomingMessage, ok: number[] = [200]): Promise<T> {
    const text = await readText(response);
    if (!ok.includes(response.statusCode ?? 0)) throw failure(response.statusCode ?? 0, text);
    return JSON.parse(text) as T;
  }

  async list(page: number, perPage: number, nameContains?: string): Promise<FileList> {
    const query = new URLSearchParams({ page: String(page), per_page: String(perPage) });
    if (nameContains) query.set('q', nameContains);
    return this.json(await this.request('GET', `/files?${query}`));
  }

  async metadata(id: string): Promise<FileMetadata> {
    return this.json(await this.request('GET', `/files/${encodeURIComponent(id)}/metadata`));
  }

  async remove(id: string): Promise<{ file_id: string; deleted_chunks: number; failed_chunks: number }> {
    return this.json(await this.request('DELETE', `/files/${encodeURIComponent(id)}`));
  }

  /** POST /files with the raw bytes; `size` becomes Content-Length when known. */
  async upload(body: Readable, filename: string, size: number | undefined): Promise<Uploaded> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = String(size);
    else headers['Transfer-Encoding'] = 'chunked';
    return this.json(await this.request('POST', `/files?filename=${encodeURIComponent(filename)}`, headers, body), [201]);
  }

  /** GET /files/:id from byte `from` (a Range request when from > 0); the body is the caller's to read. */
  async download(id: string, from: number, etag?: string): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = from > 0 ? { Range: `bytes=${from}-`, ...(etag ? { 'If-Range': etag } : {}) } : {};
    const response = await this.request('GET', `/files/${encodeURIComponent(id)}`, headers);
    if (response.statusCode !== 200 && response.statusCode !== 206) throw failure(response.statusCode ?? 0, await readText(response));
    return response;
  }
}

function failure(status: number, text: string): ClientError {
  let message = text.trim().slice(0, 500);
  try {
    message = String((JSON.parse(text) as { error?: unknown }).error ?? message);
  } catch {
    // not JSON: keep the text
  }
  return new ClientError(`gateway answered ${status}: ${message}`, exitCodeForStatus(status));
}

async function readText(response: http.IncomingMessage): Promise<string> {
  const pieces: Buffer[] = [];
  for await (const piece of response) pieces.push(piece as Buffer);
  return Buffer.concat(pieces).toString('utf8');
}
