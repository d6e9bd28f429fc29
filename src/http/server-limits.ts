import type http from 'node:http';
/** The gateway settings that bound what a client may hold or send. */
export interface ServerLimits {
  /** An upload body with no new bytes for this long is cut with a 408. */
  bodyIdleTimeoutMs: number;
  /** A client must send its complete request headers within this long (slowloris), else 408. */
  headersTimeoutMs: number;
  /** Largest request line plus headers accepted; more gets 431. */
  maxHeaderSize: number;
}

/** Keep-alive idle time: longer than common load balancers' 60 s, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Quiet time after which any connection is cut: never shorter than an upload body may stall. */
const SOCKET_IDLE_TIMEOUT_MS = 120_000;
/**
 * How much longer than BODY_IDLE_TIMEOUT_MS a socket may stay quiet: a stalled upload is
 * answered with a 408 when its body timer fires, and the socket must still be open to carry it.
 * With both at 120 s the socket went first, and the client got no answer at all.
 */
const BODY_TIMEOUT_MARGIN_MS = 10_000;

export function socketIdleTimeoutMs(config: ServerLimits): number {
  return Math.max(SOCKET_IDLE_TIMEOUT_MS, config.bodyIdleTimeoutMs + BODY_TIMEOUT_MARGIN_MS);
}

/** Node HTTP server limits against slow and oversized requests. */
export function serverOptions(config: ServerLimits): http.ServerOptions {
  return {
    maxHeaderSize: config.maxHeaderSize,
    headersTimeout: config.headersTimeoutMs,
    // Large uploads legitimately outlast any total request deadline; stalls are cut instead.
    requestTimeout: 0,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Node checks headersTimeout on this interval (default 30 s): check often enough to honour it.
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(config.headersTimeoutMs / 4))),
  };
}
