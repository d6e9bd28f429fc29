import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpError } from '../http-error';

/** A client stopped sending its body (408); the connection is closed after the answer. */
export class BodyStalledError extends HttpError {
  constructor(readonly idleMs: number) {
    super(408, `the upload body stalled: no data for ${idleMs} ms (BODY_IDLE_TIMEOUT_MS)`, {}, { Connection: 'close' });
  }
}

/** A body that can never be whole: the client closed its side, or its connection broke (400). */
export class BodyBrokenError extends HttpError {
  constructor(message: string) {
    super(400, message, {}, { Connection: 'close' });
  }
}

function bodyCutShort(req: IncomingMessage): BodyBrokenError {
  const declared = req.headers['content-length'];
  return new BodyBrokenError(
    `the request body ended early: the client closed its side of the connection before sending ${declared === undefined ? 'the whole body' : `the ${declared} bytes its Content-Length announced`}`,
  );
}

/**
 * Calls `onCutShort` with a 400 once the client half-closes (ends its side of the connection)
 * while its body is still incomplete: a Content-Length larger than what it sent. No more bytes
 * can come, so it is answered at once instead of after the idle timeout. Returns the unsubscribe.
 */
export function onBodyCutShort(req: IncomingMessage, onCutShort: (error: BodyBrokenError) => void): () => void {
  const socket = req.socket;
  const check = () => {
    if (!req.complete) onCutShort(bodyCutShort(req));
  };
  if (socket.readableEnded) {
    queueMicrotask(check);
    return () => undefined;
  }
  socket.once('end', check);
  return () => socket.off('end', check);
}

/**
 * The upload body, piece by piece, such that it:
 * - fails with a 408 when the client sends nothing for `idleMs` while we are waiting for it
 *   (time spent waiting on storage or the database never counts, so a slow server does not
 *   cut a client, and a long upload that keeps sending is never cut);
 * - fails with a 400 at once when the client half-closes before its body is complete;
 * - fails only with HttpErrors, or errors `keepsOwnError` accepts (a broken or abandoned body
 *   is the client's mistake, never a 500);
 * - leaves the request alone when the reader stops early, so the error response can still
 *   reach the client;
 * - keeps nothing it has handed out.
 * `stream` is the request itself (raw body) or a decoded view of it whose errors already say
 * what was wrong: the file part of a multipart body, an S3 aws-chunked body (whose framing errors
 * are S3 errors, kept by `keepsOwnError`). A 1 GiB body is some 16,000 reads, so each costs one
 * promise and no timer of its own.
 */
export function clientStream(
  stream: Readable,
  idleMs: number,
  req: IncomingMessage,
  keepsOwnError: (error: unknown) => boolean = () => false,
): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => readBody(stream, idleMs, req, keepsOwnError) };
}

/** Every byte the request's Content-Length announced is in its buffer, unread. */
function isBuffered(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && req.readableLength > 0 && Number(declared) === req.readableLength;
}

/** A body already whole when reading starts is taken from the request's buffer up to this size. */
const WHOLE_BODY_BYTES = 256 * 1024;

async function* readBody(stream: Readable, idleMs: number, req: IncomingMessage, keepsOwnError: (error: unknown) => boolean): AsyncGenerator<Buffer> {
  // A small body has usually arrived whole with its headers, before the upload starts reading
  // (often before Node's parser has marked the message complete: every byte its Content-Length
  // announced is buffered): nothing can stall or be cut short then, so it is taken from the
  // request's buffer at once, without the iterator, timer, listeners and promise per read below
  // (4-5 % of the gateway's CPU for a 4 KiB upload in a profile).
  if (stream === req && !req.readableFlowing && req.readableLength <= WHOLE_BODY_BYTES && (req.complete || isBuffered(req))) {
    for (let piece = req.read() as Buffer | null; piece !== null; piece = req.read() as Buffer | null) yield piece;
    return;
  }
  const iterator = stream.iterator({ destroyOnReturn: false });
  let failure: HttpError | undefined;
  /**
   * Rejects the read in progress. A promise of its own per read: racing every read against one
   * long-lived promise left a reaction on it per read, which kept each piece of the body
   * reachable until the upload ended (the whole body in memory, and GC work growing with it).
   */
  let failRead: ((error: HttpError) => void) | undefined;
  const fail = (error: HttpError) => {
    failure ??= error;
    failRead?.(error);
  };
  const unsubscribe = onBodyCutShort(req, fail);
  let waiting = false;
  // One timer for the whole body, re-armed as each read starts; it fails only a read that waits.
  const idle = setTimeout(() => waiting && fail(new BodyStalledError(idleMs)), idleMs);
  try {
    for (;;) {
      if (failure) throw failure;
      idle.refresh();
      waiting = true;
      const next = await new Promise<IteratorResult<unknown>>((resolve, reject) => {
        failRead = reject;
        iterator.next().then(resolve, reject);
      });
      failRead = undefined;
      waiting = false;
      if (next.done) return;
      yield next.value as Buffer;
    }
  } catch (error) {
    if (error instanceof HttpError || keepsOwnError(error)) throw error;
    throw new BodyBrokenError(`the upload body ended abnormally: ${(error as Error).message}`);
  } finally {
    clearTimeout(idle);
    unsubscribe();
    // A read still pending (stalled client) would block return(); the closed connection ends it.
    if (!waiting) await iterator.return?.();
  }
}
