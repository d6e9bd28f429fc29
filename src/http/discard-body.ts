import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long a refused body may go on arriving after the answer before its connection is cut
 * (nginx's lingering close): long enough for a client to finish sending a refused upload of a
 * few GiB on a fast link and read the answer, short enough that one cannot feed us forever.
 */
const LINGER_MS = 30_000;

/**
 * After refusing an upload whose body is still arriving: read and drop the rest, so the
 * client (still sending) gets to read the error response. A client that stops sending is cut
 * by the idle timeout (BODY_IDLE_TIMEOUT_MS).
 */
function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  req.unpipe();
  // A reader that stopped part way (an abandoned async iterator) may still listen for
  // 'readable', and while it does, resume() does nothing: the body would stall unread.
  req.removeAllListeners('readable');
  req.on('data', ignore);
  req.resume();
}

/**
 * An answer sent before the request's body was read: the body is read and dropped, and the
 * connection is kept for the next request once it ends. Closing at once instead would reset
 * a client still sending (EPIPE before it reads the answer); leaving it unread would stall
 * that client until the keep-alive timeout. A body still arriving LINGER_MS after the answer
 * has its connection cut.
 */
export function answerBeforeBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || req.destroyed) return;
  discardUnreadBody(req);
  res.once('finish', () => {
    if (req.complete) return;
    const cut = setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
    const done = () => clearTimeout(cut);
    req.once('end', done);
    req.once('close', done);
  });
}

function ignore(): void {}
