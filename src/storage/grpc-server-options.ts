import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger';
import { HTTP2_WINDOW_BYTES } from '../wire/http2-window';
import { requireClusterToken } from './cluster-token';
import type { StorageConfig } from './storage-config';

const MiB = 1024 * 1024;

/**
 * Largest message a client may send. ringstore sends 1 MiB frames; the original contract's
 * clients send frames up to 4 MiB, so twice that leaves headroom. Larger messages are refused
 * with RESOURCE_EXHAUSTED on that call alone.
 */
const MAX_RECEIVE_MESSAGE_BYTES = 8 * MiB;

/**
 * Calls one connection may run at once. A gateway multiplexes all its calls to a server on one
 * connection, so this is generous; beyond it HTTP/2 makes the client queue new calls.
 */
const MAX_CONCURRENT_STREAMS_PER_CONNECTION = 1000;

/** Server pings detect clients that vanished without closing (their puts are then cancelled). */
const KEEPALIVE_TIME_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

/**
 * grpc-js has no server option for the HTTP/2 window (only the client has
 * grpc-node.flow_control_window), so the settings it passes to http2.createServer are extended
 * (call before bind: the per-stream window) and each new session's connection window is raised
 * (call again after bind). Reaches into grpc-js internals; without them it changes nothing.
 */
export function widenReceiveWindow(server: grpc.Server): void {
  const internals = server as unknown as {
    commonServerOptions?: { settings?: Record<string, unknown> };
    http2Servers?: Map<{ on(event: 'session', listener: (session: { setLocalWindowSize(size: number): void }) => void): void }, unknown>;
  };
  if (internals.commonServerOptions) {
    internals.commonServerOptions.settings = { ...internals.commonServerOptions.settings, initialWindowSize: HTTP2_WINDOW_BYTES };
  }
  for (const http2Server of internals.http2Servers?.keys() ?? []) {
    http2Server.on('session', (session) => session.setLocalWindowSize(HTTP2_WINDOW_BYTES));
  }
}

/** grpc-js server options: message and stream limits, keepalive and, with CLUSTER_TOKEN, the token check. */
export function storageServerOptions(config: StorageConfig, logger: Logger): grpc.ServerOptions {
  const token = config.security.clusterToken;
  return {
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS_PER_CONNECTION,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    interceptors: token === undefined ? [] : [requireClusterToken(token, logger)],
  };
}
