import type { BreakerStateName } from '../../machines/breaker';
import type { ConnectionStateName } from '../../machines/connection';
import type { StorageClient } from '../rpc/storage-client';

/** A storage server as the ring knows it. */
export interface StorageServerInfo {
  id: string;
  /** host:port of its gRPC endpoint. */
  address: string;
}

export type ConnectionState = ConnectionStateName;
export type BreakerState = BreakerStateName;

export interface ConnectionSnapshot {
  serverId: string;
  address: string;
  state: ConnectionState;
  breaker: BreakerState;
  /** Epoch ms when the connection entered its current state. */
  since: number;
  /** Times the connection came back to Ready after having been Ready before. */
  reconnects: number;
  lastError: string | null;
}

export interface TransitionEvent {
  /** Which machine moved: the connection or its breaker. */
  machine: 'connection' | 'breaker';
  serverId: string;
  address: string;
  from: string;
  to: string;
  reason: string;
  /** Epoch ms. */
  at: number;
}

/** One health probe of a server: how long it took and whether it answered. */
export interface ProbeEvent {
  serverId: string;
  seconds: number;
  ok: boolean;
}

/**
 * What the gateway sees of the connection layer: ready clients for servers, and the outcome of
 * every call fed back so breakers and probes know what real traffic saw.
 */
export interface ConnectionSupervisor {
  /** Replace the set of servers (spawns, retires and re-dials server actors as needed). */
  update(servers: StorageServerInfo[]): void;
  /** Servers whose connection is Ready and whose breaker admits traffic. */
  readyServerIds(): string[];
  isAvailable(serverId: string): boolean;
  /** The client of a server if it is available right now (half-open: the one trial call). */
  clientIfReady(serverId: string): StorageClient | undefined;
  /**
   * The client of a server, waiting up to waitMs for it to become Ready (a non-Ready server is
   * asked to reconnect at once, rate-limited). Rejects when it does not become available.
   */
  getClient(serverId: string, waitMs?: number): Promise<StorageClient>;
  /**
   * The server just said it is up (a join or heartbeat): if its connection is not Ready,
   * reconnect now (rate-limited) instead of waiting out grpc-js's backoff.
   */
  serverAnnounced(serverId: string): void;
  recordSuccess(serverId: string): void;
  /** A failed call; only failures that say the server is unwell (see isServerFault) count. */
  recordFailure(serverId: string, error: unknown): void;
  snapshot(): ConnectionSnapshot[];
  /** Subscribe to every transition; returns an unsubscribe function. */
  onTransition(listener: (event: TransitionEvent) => void): () => void;
  /** Subscribe to every health probe (for latency metrics); returns an unsubscribe function. */
  onProbe(listener: (event: ProbeEvent) => void): () => void;
  close(): Promise<void>;
}
