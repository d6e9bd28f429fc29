import { Router, type RequestHandler, type Response } from 'express';
import type { ByteRange } from '../../files/byte-range';
import type { FileService } from '../../files/file-service';
import type { FileRecord, FileSummary } from '../../metadata/types';
import { drainedOrClosed } from '../../util/drained-or-closed';
import { isUuid } from '../../util/uuid';
import type { Logger } from '../../util/logger';
import { contentDisposition } from '../content-disposition';
import { HttpError, toHttpError } from '../http-error';
import type { HotRoute } from '../hot-routes';
import { sendJson } from '../json-answer';
import { parseRange } from '../range';
import { openIncomingFile } from '../upload/upload-source';
import { UploadSlots } from '../upload/upload-slots';

const MAX_PER_PAGE = 1000;

export interface FilesRouterDeps {
  files: FileService;
  /**
   * Guards every route (API_TOKENS). Run per route, not in front of the router, so a refused
   * request is still counted under its route's pattern.
   */
  auth?: RequestHandler;
  log: Logger;
  maxFileSize: number;
  /** Uploads in progress at once (MAX_CONCURRENT_UPLOADS); more get 503. */
  maxConcurrentUploads: number;
  /** An upload body that stalls this long is cut with a 408 (BODY_IDLE_TIMEOUT_MS). */
  bodyIdleTimeoutMs: number;
  /** Address of a storage server, for metadata responses. */
  addressOf(serverId: string): string | null;
  onBytesDownloaded?(bytes: number): void;
  onBytesUploaded?(bytes: number): void;
}

export interface FilesRoutes {
  router: Router;
  /** Upload and download, the same handlers, also taken ahead of Express's router (hot-routes.ts). */
  hot: HotRoute[];
}

export function createFilesRouter(deps: FilesRouterDeps): FilesRoutes {
  const router = Router();
  const { files } = deps;
  const uploadSlots = new UploadSlots(deps.maxConcurrentUploads, deps.log);

  async function requireFile(id: string): Promise<FileRecord> {
    if (!isUuid(id)) throw new HttpError(400, `malformed file id "${id.slice(0, 64)}": expected a UUID`);
    const file = await files.getFile(id.toLowerCase());
    if (!file) throw new HttpError(404, `file ${id} not found`, { file_id: id });
    return file;
  }

  const guard: RequestHandler = deps.auth ?? ((_req, _res, next) => next());

  const upload: RequestHandler = async (req, res) => {
    let release: (() => void) | undefined;
    let record: FileRecord;
    try {
      release = uploadSlots.acquire();
      record = await files.upload(await openIncomingFile(req, deps));
    } finally {
      release?.();
    }
    deps.onBytesUploaded?.(record.size);
    sendJson(res, 201, {
      file_id: record.fileId,
      filename: record.filename,
      size: record.size,
      content_type: record.contentType,
      checksum: record.checksum,
      chunks: record.chunks.length,
      status: 'completed',
      // Where every chunk is fsynced: at least WRITE_QUORUM servers each.
      replicas: record.chunks.map((chunk) => ({
        chunk_number: chunk.chunkNumber,
        chunk_id: chunk.chunkId,
        server_ids: chunk.replicas.map((r) => r.serverId),
      })),
    });
  };

  const list: RequestHandler = async (req, res) => {
    const page = positiveInt(req.query.page, 'page', 1);
    const perPage = Math.min(positiveInt(req.query.per_page, 'per_page', 20), MAX_PER_PAGE);
    const { files: list, total } = await files.listFiles(page, perPage, nameFilter(req.query.q));
    res.json({
      files: list.map(summaryJson),
      total,
      page,
      per_page: perPage,
      pagination: { page, per_page: perPage, total_count: total, total_pages: Math.ceil(total / perPage) },
    });
  };

  const metadata: RequestHandler = async (req, res) => {
    const file = await requireFile(req.params.id as string);
    res.json(metadataJson(file, deps.addressOf));
  };

  const head: RequestHandler = async (req, res) => {
    const file = await requireFile(req.params.id as string);
    setFileHeaders(res, file);
    res.setHeader('Content-Length', file.size);
    res.status(200).end();
  };

  const get: RequestHandler = async (req, res) => {
    const file = await requireFile(req.params.id as string);
    const notModified = req.headers['if-none-match'] === etag(file);
    // Before any file header is set, so a 416 goes out as a plain JSON error.
    const range = notModified ? undefined : parseRange(req.headers.range, file.size);
    if (!notModified && !range && file.size > 0) {
      // The whole of a small file (most downloads) is read before any header: its answer is
      // then one writeHead of the record's header list.
      const content = await smallContent(res, file);
      if (content) {
        res.writeHead(200, wholeFileHeaders(file));
        res.end(content);
        deps.onBytesDownloaded?.(file.size);
        return;
      }
    }
    setFileHeaders(res, file);
    if (notModified) {
      res.status(304).end();
      return;
    }
    if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    const length = range ? range.end - range.start + 1 : file.size;
    res.setHeader('Content-Length', length);
    res.status(range ? 206 : 200);
    if (length === 0) {
      res.end();
      return;
    }
    await sendBody(res, file, range ?? { start: 0, end: file.size - 1 });
  };

  const remove: RequestHandler = async (req, res) => {
    const id = req.params.id as string;
    if (!isUuid(id)) throw new HttpError(400, `malformed file id "${id.slice(0, 64)}": expected a UUID`);
    const outcome = await files.deleteFile(id.toLowerCase());
    if (!outcome) throw new HttpError(404, `file ${id} not found`, { file_id: id });
    res.json({
      message: outcome.failedChunks === 0 ? 'file deleted' : 'file deleted; some chunks will be removed from storage later',
      file_id: id,
      deleted_chunks: outcome.deletedChunks,
      failed_chunks: outcome.failedChunks,
    });
  };

  // Every method a path takes; any other gets a 405 naming them (express answers HEAD with GET).
  router.route('/').get(guard, list).post(guard, upload).all(methodNotAllowed('GET, HEAD, POST'));
  router.route('/:id').head(guard, head).get(guard, get).delete(guard, remove).all(methodNotAllowed('GET, HEAD, DELETE'));
  router.route('/:id/metadata').get(guard, metadata).all(methodNotAllowed('GET, HEAD'));

  /** A small file goes out whole from memory (read and checked first); a larger one streams. */
  async function sendBody(res: Response, file: FileRecord, range: ByteRange) {
    const content = await smallContent(res, file);
    if (!content) return streamBody(res, file, range);
    res.end(content.subarray(range.start, range.end + 1));
    deps.onBytesDownloaded?.(range.end - range.start + 1);
  }

  /** A small file's bytes, read whole and checked (undefined for a larger one, which streams). */
  async function smallContent(res: Response, file: FileRecord): Promise<Buffer | undefined> {
    try {
      return await files.smallFileContent(file);
    } catch (error) {
      throw failedBeforeHeaders(res, file, error);
    }
  }

  /**
   * Streams the body with backpressure. Headers go out only once the first bytes are in hand;
   * after that an unrecoverable failure aborts the connection, so a client never takes a
   * short or corrupt body for a whole one.
   */
  async function streamBody(res: Response, file: FileRecord, range: ByteRange) {
    const body = files.read(file, range);
    let sent = 0;
    try {
      let next = await body.next();
      while (!next.done) {
        if (res.destroyed) break;
        sent += next.value.length;
        const piece = next.value;
        if (!res.write(piece, () => files.release(piece))) await drainedOrClosed(res);
        next = await body.next();
      }
      if (!res.destroyed) res.end();
    } catch (error) {
      if (!res.headersSent) throw failedBeforeHeaders(res, file, error);
      deps.log.error(`Download of ${file.fileId} aborted after ${sent} bytes: ${(error as Error).message}`);
      res.destroy(error as Error);
    } finally {
      await body.return(undefined);
      deps.onBytesDownloaded?.(sent);
    }
  }

  return {
    router,
    hot: [
      { method: 'POST', path: '/', handlers: [guard, upload] },
      { method: 'GET', path: '/:id', handlers: [guard, get] },
    ],
  };
}

/** 405 with `Allow` (a body the client is still sending is read and dropped by sendError). */
function methodNotAllowed(allow: string): RequestHandler {
  return (req) => {
    const hint = req.method === 'PUT' ? ' (to upload, POST the file: curl -X POST -T FILE \'/files?filename=NAME\')' : '';
    throw new HttpError(405, `method ${req.method} is not allowed on ${req.baseUrl}${req.path === '/' ? '' : req.path}: use ${allow}${hint}`, { allow }, { Allow: allow });
  };
}

/** `?q=`: part of a file name to look for (case-insensitive), or undefined for every file. */
function nameFilter(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 255) throw new HttpError(400, 'q must be one piece of a file name, at most 255 characters');
  return value;
}

/** A download that failed before its first byte: a JSON error instead of the file's headers. */
function failedBeforeHeaders(res: Response, file: FileRecord, error: unknown): unknown {
  removeFileHeaders(res, file);
  return toHttpError(error, { file_id: file.fileId }) ?? error;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || parsed < 1 || !Number.isSafeInteger(parsed)) {
    throw new HttpError(400, `${name} must be a positive whole number, got "${String(value).slice(0, 32)}"`);
  }
  return parsed;
}

function etag(file: FileRecord): string {
  return `"${file.checksum}"`;
}

/** Each record's headers, built once: a cached record (FileCache) serves many downloads. */
const headersOfFile = new WeakMap<FileRecord, ReadonlyArray<[string, string]>>();

/** The headers that describe a file, on every answer that serves it: name, value, name, value... */
function describingHeaders(file: FileRecord): string[] {
  return [
    'ETag', etag(file),
    'Accept-Ranges', 'bytes',
    'Content-Type', file.contentType,
    // Stored bytes are the client's: never let a browser sniff them into something runnable.
    'X-Content-Type-Options', 'nosniff',
    'Content-Disposition', contentDisposition(file.filename),
    'Last-Modified', file.completedAt.toUTCString(),
  ];
}

/** The headers that describe a file, as pairs (for HEAD, ranges, streamed bodies). */
function fileHeaders(file: FileRecord): ReadonlyArray<[string, string]> {
  let headers = headersOfFile.get(file);
  if (!headers) {
    const list = describingHeaders(file);
    headers = Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i], list[2 * i + 1]] as [string, string]);
    headersOfFile.set(file, headers);
  }
  return headers;
}

/**
 * The headers of a 200 with the whole file, as one list for writeHead; built once per record,
 * straight from the file (a record just looked up is often read once: no pairs kept for it).
 */
const wholeFileHeadersOf = new WeakMap<FileRecord, string[]>();

function wholeFileHeaders(file: FileRecord): string[] {
  let headers = wholeFileHeadersOf.get(file);
  if (!headers) {
    headers = describingHeaders(file);
    headers.push('Content-Length', String(file.size));
    wholeFileHeadersOf.set(file, headers);
  }
  return headers;
}

function setFileHeaders(res: Response, file: FileRecord): void {
  for (const [name, value] of fileHeaders(file)) res.setHeader(name, value);
}

/** A download that fails before its first byte answers with a JSON error, not the file's headers. */
function removeFileHeaders(res: Response, file: FileRecord): void {
  for (const [name] of fileHeaders(file)) res.removeHeader(name);
  res.removeHeader('Content-Length');
  res.removeHeader('Content-Range');
}

function summaryJson(file: FileSummary) {
  return {
    file_id: file.fileId,
    filename: file.filename,
    content_type: file.contentType,
    size: file.size,
    checksum: file.checksum,
    status: file.status,
    chunks: file.chunkCount,
    created_at: file.createdAt.toISOString(),
    updated_at: file.updatedAt.toISOString(),
    completed_at: file.completedAt.toISOString(),
  };
}

function metadataJson(file: FileRecord, addressOf: (serverId: string) => string | null) {
  return {
    file_id: file.fileId,
    filename: file.filename,
    content_type: file.contentType,
    size: file.size,
    status: file.status,
    upload_status: file.status,
    checksum: file.checksum,
    created_at: file.createdAt.toISOString(),
    updated_at: file.updatedAt.toISOString(),
    completed_at: file.completedAt.toISOString(),
    chunks: file.chunks.map((chunk) => {
      const replicas = chunk.replicas.map((r) => ({ server_id: r.serverId, server_address: addressOf(r.serverId), status: r.status }));
      return {
        chunk_number: chunk.chunkNumber,
        chunk_id: chunk.chunkId,
        offset: chunk.offset,
        size: chunk.size,
        checksum: chunk.checksum,
        server_id: replicas[0]?.server_id ?? null,
        server_address: replicas[0]?.server_address ?? null,
        replicas,
      };
    }),
  };
}
