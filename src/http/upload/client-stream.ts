import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { withDeadline } from '../../util/deadline';
import { HttpError } from '../http-error';

/** The 408 for a client that stopped sending its body; the connection is closed after it. */
export function bodyStalled(idleMs: number): HttpError {
  return new HttpError(408, `the upload body stalled: no data for ${idleMs} ms (BODY_IDLE_TIMEOUT_MS)`, {}, { Connection: 'close' });
}

function bodyCutShort(req: IncomingMessage): HttpError {
  const declared = req.headers['content-length'];
  return new HttpError(
    400,
    `the request body ended early: the client closed its side of the connection before sending ${declared === undefined ? 'the whole body' : `the ${declared} bytes its Content-Length announced`}`,
    {},
    { Connection: 'close' },
  );
}

/**
 * Calls `onCutShort` with a 400 once the client half-closes (ends its side of the connection)
 * while its body is still incomplete: a Content-Length larger than what it sent. No more bytes
 * can come, so it is answered at once instead of after the idle timeout. Returns the unsubscribe.
 */
export function onBodyCutShort(req: IncomingMessage, onCutShort: (error: HttpError) => void): () => void {
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
 * The upload body as a stream that:
 * - fails with a 408 when the client sends nothing for `idleMs` while we are waiting for it
 *   (time spent waiting on storage or the database never counts, so a slow server does not
 *   cut a client, and a long upload that keeps sending is never cut);
 * - fails with a 400 at once when the client half-closes before its body is complete;
 * - fails only with HttpErrors (a broken or abandoned body is the client's mistake, never a 500);
 * - leaves the request alone when the reader stops early, so the error response can still
 *   reach the client.
 * `stream` is the request itself (raw body) or the file part of its multipart body.
 */
export function clientStream(stream: Readable, idleMs: number, req: IncomingMessage): Readable {
  return Readable.from(
    (async function* () {
      const iterator = stream.iterator({ destroyOnReturn: false });
      let cutShort: HttpError | undefined;
      let failRead: ((error: HttpError) => void) | undefined;
      const unsubscribe = onBodyCutShort(req, (error) => {
        cutShort = error;
        failRead?.(error);
      });
      let waiting = false;
      try {
        for (;;) {
          if (cutShort) throw cutShort;
          waiting = true;
          // A fresh promise per read: racing every read against one long-lived promise leaves a
          // reaction on it per read, which keeps each read's piece of the body reachable until
          // the upload ends (the whole body in memory, and GC work that grows with it).
          const cut = new Promise<never>((_resolve, reject) => (failRead = reject));
          const next = await withDeadline(Promise.race([iterator.next(), cut]), idleMs, () => bodyStalled(idleMs));
          failRead = undefined;
          waiting = false;
          if (next.done) return;
          yield next.value as Buffer;
        }
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(400, `the upload body ended abnormally: ${(error as Error).message}`);
      } finally {
        unsubscribe();
        // A read still pending (stalled client) would block return(); the closed connection ends it.
        if (!waiting) await iterator.return?.();
      }
    })(),
    { objectMode: false },
  );
}
