import type { ServerResponse } from 'node:http';

/** How a request ended: its duration and status (0 when the client left before any response). */
export interface RequestEnd {
  seconds: number;
  status: number;
}

/**
 * Calls `done` once, when the response finishes or the client goes away (a dropped download
 * is still a request). Started when called, so call it as the request comes in.
 */
export function onRequestEnd(res: ServerResponse, done: (end: RequestEnd) => void): void {
  const startedAt = process.hrtime.bigint();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    done({ seconds: Number(process.hrtime.bigint() - startedAt) / 1e9, status: res.headersSent ? res.statusCode : 0 });
  };
  res.once('finish', end);
  res.once('close', end);
}
