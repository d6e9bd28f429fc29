import type { RequestHandler, Response } from 'express';
import type { ConnectionSupervisor, TransitionEvent } from '../../connection/types';
import type { Logger } from '../../util/logger';
import { toTransitionView } from './connection-view';
import { loadServerViews, type ServerInfoSource } from './server-views';

/** A client this far behind is not reading: drop it rather than buffer without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Transitions replayed in the snapshot, so a page opened after an incident still shows it. */
const RECENT_TRANSITIONS = 50;

export interface EventStreamOptions {
  supervisor: ConnectionSupervisor;
  serverInfo?: ServerInfoSource;
  heartbeatMs: number;
  log: Logger;
}

export interface EventStream {
  handler: RequestHandler;
  /** Ends every open stream, so a stopping gateway is not held open by dashboards. */
  closeAll(): void;
}

/**
 * Server-Sent Events: a `snapshot` event first, `{servers, recent}` with every server and the
 * latest transitions (so late joiners catch up), then one `transition` event per transition of
 * any connection or breaker actor, and a heartbeat comment so proxies keep the stream open.
 */
export function eventStream({ supervisor, serverInfo, heartbeatMs, log }: EventStreamOptions): EventStream {
  const open = new Set<Response>();
  const recent: TransitionEvent[] = [];
  supervisor.onTransition((event) => {
    recent.push(event);
    if (recent.length > RECENT_TRANSITIONS) recent.shift();
  });

  const handler: RequestHandler = async (req, res) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');

    let closed = false;
    const write = (text: string) => {
      if (closed) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        log.warn(`Dropping a /admin/events client that stopped reading (${req.ip})`);
        res.destroy();
        return;
      }
      res.write(text);
    };
    const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

    // Subscribe before reading the snapshot; events that arrive while the snapshot is being
    // prepared are held and sent right after it, in order.
    let held: TransitionEvent[] | undefined = [];
    const unsubscribe = supervisor.onTransition((event) => {
      if (held) held.push(event);
      else send('transition', toTransitionView(event));
    });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    open.add(res);
    res.on('close', () => {
      open.delete(res);
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
    });

    const history = recent.map(toTransitionView);
    const servers = await loadServerViews(supervisor, serverInfo, log);
    send('snapshot', { servers, recent: history });
    const backlog = held;
    held = undefined;
    for (const event of backlog) send('transition', toTransitionView(event));
  };
  return {
    handler,
    closeAll: () => {
      for (const res of open) res.end();
    },
  };
}
