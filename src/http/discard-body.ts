import type { IncomingMessage } from 'node:http';

/**
 * After refusing an upload whose body is still arriving: read and drop the rest, so the
 * client (still sending) gets to read the error response before the connection closes (the
 * file API and the S3 listener both close it after such an answer). A client that stops
 * sending is cut by the idle timeout (BODY_IDLE_TIMEOUT_MS).
 */
export function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  req.unpipe();
  req.resume();
}
