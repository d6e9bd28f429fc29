import type { ServerResponse } from 'node:http';

/** How a request ended: its duration and status (0 when the client left before any response). */
export interface RequestEnd {
  seconds: number;
  status: number;
}

const OBSERVERS = Symbol('requestEndObservers');
type ObservedResponse = ServerResponse & { [OBSERVERS]?: Array<(end: RequestEnd) => void> };

/**
 * Calls `done` once, when the response finishes or the client goes away (a dropped download
 * is still a request). Started when first called for a response, so call it as the request
 * comes in.
 *
 * Every observer of one response (the access log, the request metrics) shares one 'finish' and
 * one 'close' listener and one start time: per request that is two listeners instead of two
 * per observer, each a `once` wrapper to make and take off again.
 */
export function onRequestEnd(res: ServerResponse, done: (end: RequestEnd) => void): void {
  const observed = res as ObservedResponse;
  const observers = observed[OBSERVERS];
  if (observers) {
    observers.push(done);
    return;
  }
  const startedAt = process.hrtime.bigint();
  const all = [done];
  observed[OBSERVERS] = all;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    const outcome: RequestEnd = { seconds: Number(process.hrtime.bigint() - startedAt) / 1e9, status: res.headersSent ? res.statusCode : 0 };
    for (const observer of all) observer(outcome);
  };
  // Plain listeners: `end` runs its observers once, and the response (with its listeners) is
  // dropped after the request.
  res.on('finish', end);
  res.on('close', end);
}
