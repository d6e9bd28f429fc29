/** GetObject and HeadObject: conditions, Range, stored and overridden headers, streaming. */
import type { ServerResponse } from 'node:http';
import type { ByteRange } from '../files/byte-range';
import type { ObjectRecord, ObjectWithChunks } from '../metadata/types';
import { drainedOrClosed } from '../util/drained-or-closed';
import { parseRange } from '../http/range';
import type { S3Context, S3Deps } from './context';
import { checkConditions } from './conditions';
import { S3Error } from './errors';
import { setObjectHeaders } from './object-headers';

/** The byte range a Range header asks for (undefined: all); InvalidRange when it cannot be served. */
export function requestedRange(header: string | undefined, size: number): ByteRange | undefined {
  try {
    return parseRange(header, size);
  } catch {
    throw new S3Error('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: size });
  }
}

/** Conditions, then the headers both GET and HEAD answer with; false when 304 was sent. */
function answerHeaders(ctx: S3Context, object: ObjectRecord, range: ByteRange | undefined): boolean {
  if (checkConditions((name) => ctx.header(name), object) === 'not-modified') {
    ctx.res.setHeader('ETag', `"${object.etag}"`);
    ctx.res.setHeader('Last-Modified', object.lastModified.toUTCString());
    ctx.res.writeHead(304);
    ctx.res.end();
    return false;
  }
  // response-* overrides only on signed requests: every request here is signed.
  setObjectHeaders(ctx.res, object, ctx.target.query, range === undefined && ctx.header('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED');
  if (range) {
    ctx.res.statusCode = 206;
    ctx.res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${object.size}`);
    ctx.res.setHeader('Content-Length', range.end - range.start + 1);
  } else {
    ctx.res.setHeader('Content-Length', object.size);
  }
  return true;
}

/** HEAD ignores a Range it cannot satisfy less strictly than GET: S3 answers 416 there too. */
export async function headObject(ctx: S3Context, deps: S3Deps): Promise<void> {
  const object = await deps.objects.headObject(ctx.bucket, ctx.key);
  const range = requestedRange(ctx.header('range'), object.size);
  if (answerHeaders(ctx, object, range)) ctx.res.end();
}

export async function getObject(ctx: S3Context, deps: S3Deps): Promise<void> {
  const object = await deps.objects.getObject(ctx.bucket, ctx.key);
  const range = requestedRange(ctx.header('range'), object.size);
  if (!answerHeaders(ctx, object, range)) return;
  if (object.size === 0) {
    ctx.res.end();
    return;
  }
  const bytes = range ?? { start: 0, end: object.size - 1 };
  // A small object's content is read and checked already: it goes out whole, never to the read pool.
  if (object.content) ctx.res.end(object.content.subarray(bytes.start, bytes.end + 1));
  else await streamObject(ctx.res, deps, object, bytes);
}

/**
 * Streams with backpressure. Headers go out with the first bytes; a failure before them is an
 * S3 error, after them the connection is cut, so a short body is never taken for a whole one.
 */
async function streamObject(res: ServerResponse, deps: S3Deps, object: ObjectWithChunks, range: ByteRange): Promise<void> {
  const body = deps.objects.read(object, range);
  let sent = 0;
  try {
    for (let next = await body.next(); !next.done; next = await body.next()) {
      if (res.destroyed) break;
      const piece = next.value;
      sent += piece.length;
      if (!res.write(piece, () => deps.objects.release(piece))) await drainedOrClosed(res);
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    if (!res.headersSent) {
      for (const name of res.getHeaderNames()) if (name !== 'x-amz-request-id') res.removeHeader(name);
      throw error;
    }
    deps.log.error(`GetObject of ${object.bucket}/${object.key} aborted after ${sent} bytes: ${(error as Error).message}`);
    res.destroy(error as Error);
  } finally {
    await body.return(undefined);
  }
}
