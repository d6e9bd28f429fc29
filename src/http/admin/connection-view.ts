import type { ConnectionSnapshot, TransitionEvent } from '../../connection/types';

/** A storage server's disk: the host filesystem from its last heartbeat, and what ringstore keeps on it. */
export interface ServerDiskInfo {
  serverId: string;
  availableSpace?: number;
  totalSpace?: number;
  /** Bytes of the chunk replicas recorded on it. */
  bytesHeld?: number;
}

/** One storage server as /admin/connections and the `snapshot` SSE event show it. */
export interface ConnectionView {
  server_id: string;
  address: string;
  state: string;
  breaker: string;
  since: string;
  reconnects: number;
  last_error: string | null;
  available_space?: number;
  total_space?: number;
  bytes_held?: number;
}

export function toConnectionView(server: ConnectionSnapshot, disk?: ServerDiskInfo): ConnectionView {
  return {
    server_id: server.serverId,
    address: server.address,
    state: server.state,
    breaker: server.breaker,
    since: new Date(server.since).toISOString(),
    reconnects: server.reconnects,
    last_error: server.lastError,
    ...(disk?.availableSpace !== undefined && { available_space: disk.availableSpace }),
    ...(disk?.totalSpace !== undefined && { total_space: disk.totalSpace }),
    ...(disk?.bytesHeld !== undefined && { bytes_held: disk.bytesHeld }),
  };
}

/** A transition as the `transition` SSE event carries it (same field style as the snapshot). */
export function toTransitionView(event: TransitionEvent) {
  return {
    machine: event.machine,
    server_id: event.serverId,
    address: event.address,
    from: event.from,
    to: event.to,
    reason: event.reason,
    at: new Date(event.at).toISOString(),
  };
}
