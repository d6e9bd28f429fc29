import type { Request } from 'express';

/**
 * After refusing an upload whose body is still arriving: read and drop the rest, so the
 * client (still sending) gets to read the error response on the same connection. A client
 * that stops sending is cut by the idle timeout (BODY_IDLE_TIMEOUT_MS).
 */
export function discardUnreadBody(req: Request): void {
  if (req.complete || req.destroyed) return;
  req.unpipe();
  req.resume();
}
