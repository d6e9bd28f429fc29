import busboy from 'busboy';
import type { Request } from 'express';
import type { IncomingFile } from '../../files/file-service';
import { HttpError } from '../http-error';
import { BodyStalledError, clientStream, onBodyCutShort } from './client-stream';

const MAX_FILENAME_LENGTH = 255;
/** Bytes of a multipart body read ahead to find where the file part's data starts. */
const MULTIPART_PEEK_LIMIT = 64 * 1024;

/**
 * Control characters (C0, DEL, C1), line/paragraph separators and bidi overrides: nothing a
 * filename needs, and each can forge headers, log lines or how a name displays.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_FILENAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** A media type as RFC 9110 writes it (type/subtype and parameters), in printable ASCII. */
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/;
const MAX_CONTENT_TYPE_LENGTH = 255;

/** Strip any path, control characters and excess length from a client-supplied filename. */
export function sanitizeFilename(raw: string | undefined, fallback = 'unnamed'): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(UNSAFE_FILENAME_CHARS, '').trim();
  if (clean === '' || clean === '.' || clean === '..') return fallback;
  return clean.slice(0, MAX_FILENAME_LENGTH);
}

function contentLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const value = Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function tooLarge(maxFileSize: number, size: number): HttpError {
  return new HttpError(413, `file size ${size} bytes exceeds the maximum file size of ${maxFileSize} bytes`, {
    max_file_size: maxFileSize,
  });
}

export interface UploadLimits {
  maxFileSize: number;
  /** A body with no new bytes for this long, while we wait for them, is cut with a 408. */
  bodyIdleTimeoutMs: number;
}

/** How to send a file, for every refusal of a request that did not. */
export const HOW_TO_UPLOAD =
  "send the file as multipart/form-data in a field named 'file' (curl -F file=@FILE), or as the raw body with a file name: " +
  "curl -X POST -T FILE '/files?filename=NAME', or curl --data-binary @FILE -H 'Content-Type: application/octet-stream' '/files?filename=NAME'";

/** The file name a raw upload gives in `?filename=` or `X-Filename`, if any. */
function rawFilename(req: Request): string | undefined {
  // Read once: Express's req.query parses the query string again at every read.
  const fromQuery = req.query.filename;
  if (typeof fromQuery === 'string') return fromQuery;
  const header = req.headers['x-filename'];
  return typeof header === 'string' ? decodeHeader(header) : undefined;
}

/** No body at all: Content-Length 0, or neither a length nor a chunked body. */
function hasNoBody(req: Request): boolean {
  return contentLength(req) === 0 || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined);
}

/**
 * Opens the upload in a request: multipart/form-data (field `file`) via busboy, otherwise
 * the raw body. JSON bodies and other multipart types are refused: almost always a client
 * mistake. So are a form-encoded body and an empty request that name no file: an HTML form or
 * `requests.post(url, data=...)` sent by mistake, not a file (with a file name, a form-encoded
 * body is raw bytes: curl's --data-binary labels everything that way).
 */
export async function openIncomingFile(req: Request, limits: UploadLimits): Promise<IncomingFile> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return openMultipart(req, limits);
  if (type.startsWith('application/json')) {
    throw new HttpError(400, `a JSON body is not a file upload: ${HOW_TO_UPLOAD}`);
  }
  if (type.startsWith('multipart/')) {
    throw new HttpError(415, `unsupported content type "${type.slice(0, 100)}": ${HOW_TO_UPLOAD}`);
  }
  const filename = rawFilename(req);
  if (filename === undefined && type.startsWith('application/x-www-form-urlencoded')) {
    throw new HttpError(400, `a form-encoded body (application/x-www-form-urlencoded) without a file name is not a file upload: ${HOW_TO_UPLOAD}`);
  }
  if (filename === undefined && type === '' && hasNoBody(req)) {
    throw new HttpError(400, `the request carries no file: ${HOW_TO_UPLOAD}`);
  }
  return openRaw(req, filename, limits);
}

function openRaw(req: Request, rawName: string | undefined, { maxFileSize, bodyIdleTimeoutMs }: UploadLimits): IncomingFile {
  const expectedSize = contentLength(req);
  if (expectedSize !== undefined && expectedSize > maxFileSize) throw tooLarge(maxFileSize, expectedSize);
  const filename = sanitizeFilename(rawName, 'upload.bin');
  const type = req.headers['content-type'];
  // curl --data-binary labels everything form-urlencoded: that says nothing about the file.
  const meaningful = type && !type.startsWith('application/x-www-form-urlencoded') && type.length <= MAX_CONTENT_TYPE_LENGTH && MEDIA_TYPE.test(type);
  const contentType = meaningful ? type : guessContentType(filename);
  return {
    filename,
    contentType,
    expectedSize,
    sizeIsExact: expectedSize !== undefined,
    stream: clientStream(req, bodyIdleTimeoutMs, req),
    complete: Promise.resolve(),
  };
}

function decodeHeader(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

async function openMultipart(req: Request, { maxFileSize, bodyIdleTimeoutMs }: UploadLimits): Promise<IncomingFile> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { files: 1, fields: 32, parts: 64, headerPairs: 32, fieldSize: 64 * 1024, fileSize: maxFileSize },
    });
  } catch (error) {
    throw new HttpError(400, `malformed multipart request: ${(error as Error).message}`);
  }
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.headers['content-type'] ?? '');
  const declared = contentLength(req);
  const prefix = await readMultipartPrefix(req, bodyIdleTimeoutMs);
  // A client gone while we peeked: no 'close' is coming any more, so say so now.
  if (req.destroyed && !req.complete) throw new HttpError(400, 'client disconnected before the upload finished');
  const expectedSize =
    declared !== undefined && boundary ? estimateFileSize(declared, prefix, boundary[1] ?? boundary[2]) : undefined;
  if (expectedSize !== undefined && expectedSize > maxFileSize) {
    req.resume();
    throw tooLarge(maxFileSize, expectedSize);
  }

  return new Promise<IncomingFile>((resolve, reject) => {
    let fileSeen = false;
    let fileFieldWithoutFilename = false;
    let settle: { resolve: () => void; reject: (e: Error) => void };
    const complete = new Promise<void>((res, rej) => (settle = { resolve: res, reject: rej }));
    complete.catch(() => undefined); // observed by the caller once the file stream is read
    const fail = (error: HttpError) => {
      if (!fileSeen) reject(error);
      settle.reject(error);
    };

    parser.on('file', (name, stream, info) => {
      // Errors reach the upload through the parser and its reader; a part nobody reads (an
      // ignored field, an upload that already failed) must not crash the process with one.
      stream.on('error', () => undefined);
      if (name !== 'file') {
        stream.resume();
        return;
      }
      if (fileSeen) {
        stream.resume();
        fail(new HttpError(400, "only one 'file' field is allowed per upload"));
        return;
      }
      fileSeen = true;
      stream.on('limit', () => stream.destroy(tooLarge(maxFileSize, maxFileSize + 1)));
      resolve({
        filename: sanitizeFilename(info.filename),
        contentType: info.mimeType && info.mimeType !== 'application/octet-stream' ? info.mimeType : guessContentType(info.filename ?? ''),
        expectedSize,
        sizeIsExact: false,
        stream: clientStream(stream, bodyIdleTimeoutMs, req),
        complete,
      });
    });
    // busboy hands a part without a filename over as a plain field.
    parser.on('field', (name) => {
      if (name === 'file') fileFieldWithoutFilename = true;
    });
    parser.on('filesLimit', () => fail(new HttpError(400, "only one 'file' field is allowed per upload")));
    parser.on('partsLimit', () => fail(new HttpError(400, 'too many parts in the multipart body')));
    parser.on('fieldsLimit', () => fail(new HttpError(400, 'too many fields in the multipart body')));
    parser.on('error', (error: Error) => fail(new HttpError(400, `malformed multipart body: ${error.message}`)));
    parser.on('close', () => {
      if (fileSeen) settle.resolve();
      else if (fileFieldWithoutFilename) fail(new HttpError(400, "multipart field 'file' must be a file part (its Content-Disposition needs a filename)"));
      else fail(new HttpError(400, "missing multipart field 'file'"));
    });
    req.on('close', () => {
      if (!req.complete) {
        const error = new HttpError(400, 'client disconnected before the upload finished');
        parser.destroy(error);
        fail(error);
      }
    });
    // Until the file part is found; from then on its clientStream watches for this.
    const unsubscribe = onBodyCutShort(req, (error) => {
      if (fileSeen) return;
      parser.destroy(error);
      fail(error);
    });
    complete.finally(unsubscribe).catch(() => undefined);
    if (prefix.length > 0) parser.write(prefix);
    if (req.readableEnded) parser.end();
    else req.pipe(parser);
  });
}

/**
 * Reads the body until the first part's headers end (or a limit), pausing the request.
 * Rejects with a 408 when the client stops sending for `idleMs` before that.
 */
function readMultipartPrefix(req: Request, idleMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      unsubscribe();
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      req.pause();
      outcome();
    };
    const done = () => finish(() => resolve(Buffer.concat(parts)));
    const unsubscribe = onBodyCutShort(req, (error) => finish(() => reject(error)));
    const armIdleTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(() => reject(new BodyStalledError(idleMs))), idleMs);
    };
    const onData = (data: Buffer) => {
      parts.push(data);
      length += data.length;
      if (length >= MULTIPART_PEEK_LIMIT || Buffer.concat(parts).includes('\r\n\r\n')) done();
      else armIdleTimer();
    };
    armIdleTimer();
    req.on('data', onData);
    req.on('end', done);
    req.on('error', done);
  });
}

/**
 * The file's size from a multipart Content-Length: total minus the first part's header block
 * and the closing boundary. Exact for the usual single-part upload (curl, browsers), an upper
 * bound otherwise, which only makes the last chunk a little shorter.
 */
export function estimateFileSize(contentLength: number, prefix: Buffer, boundary: string): number | undefined {
  const headerEnd = prefix.indexOf('\r\n\r\n');
  if (headerEnd < 0) return undefined;
  const closing = `\r\n--${boundary}--\r\n`.length;
  return Math.max(0, contentLength - (headerEnd + 4) - closing);
}

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain', html: 'text/html', css: 'text/css', js: 'text/javascript', json: 'application/json',
  csv: 'text/csv', xml: 'application/xml', pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip',
  tar: 'application/x-tar', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif',
  webp: 'image/webp', svg: 'image/svg+xml', mp4: 'video/mp4', mp3: 'audio/mpeg', wav: 'audio/wav',
};

function guessContentType(filename: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(filename)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || 'application/octet-stream';
}
