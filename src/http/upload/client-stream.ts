import { Readable } from 'node:stream';
import { withDeadline } from '../../util/deadline';
import { HttpError } from '../http-error';

/** The 408 for a client that stopped sending its body; the connection is closed after it. */
export function bodyStalled(idleMs: number): HttpError {
  return new HttpError(408, `the upload body stalled: no data for ${idleMs} ms (BODY_IDLE_TIMEOUT_MS)`, {}, { Connection: 'close' });
}

/**
 * The upload body as a stream that:
 * - fails with a 408 when the client sends nothing for `idleMs` while we are waiting for it
 *   (time spent waiting on storage or the database never counts, so a slow server does not
 *   cut a client, and a long upload that keeps sending is never cut);
 * - fails only with HttpErrors (a broken or abandoned body is the client's mistake, never a 500);
 * - leaves the request alone when the reader stops early, so the error response can still
 *   reach the client.
 */
export function clientStream(stream: Readable, idleMs: number): Readable {
  return Readable.from(
    (async function* () {
      const iterator = stream.iterator({ destroyOnReturn: false });
      let waiting = false;
      try {
        for (;;) {
          waiting = true;
          const next = await withDeadline(iterator.next(), idleMs, () => bodyStalled(idleMs));
          waiting = false;
          if (next.done) return;
          yield next.value as Buffer;
        }
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(400, `the upload body ended abnormally: ${(error as Error).message}`);
      } finally {
        // A read still pending (stalled client) would block return(); the closed connection ends it.
        if (!waiting) await iterator.return?.();
      }
    })(),
    { objectMode: false },
  );
}
