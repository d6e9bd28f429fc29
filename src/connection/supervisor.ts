import type { InspectionEvent } from 'xstate';
import type { Clock } from './clock';
import type { ConnectionConfig } from './config';
import { createConnectionLogic, type ConnectionEffects, type ConnectionLogic } from './connection-logic';
import type { Dialer, ProbeClient } from './server-channel';
import { errorMessage } from '../util/error-message';
import { ServerConnection, type ConnectionLogger } from './server-connection';
import { isServerFault } from './server-fault';
import type { ConnectionSnapshot, ProbeEvent, StorageServerInfo, TransitionEvent } from './types';

export interface SupervisorOptions<C extends ProbeClient> {
  config: ConnectionConfig;
  dial: Dialer<C>;
  clock: Clock;
  logger: ConnectionLogger;
  /** Already guarded: must not throw. */
  inspect?: (event: InspectionEvent) => void;
  random?: () => number;
}

/**
 * Owns one ServerConnection per storage server. Connections live in a plain Map rather than as
 * XState children (spawnChild/stopChild copy the children map on every call, so a ring of N
 * servers would cost O(N) per change and O(N^2) to build); a change costs the same whatever N.
 * Drives every connection with one shared tick.
 */
export class MapSupervisor<C extends ProbeClient> {
  private readonly connections = new Map<string, ServerConnection<C>>();
  private readonly listeners = new Set<(event: TransitionEvent) => void>();
  private readonly probeListeners = new Set<(event: ProbeEvent) => void>();
  private readonly tickTimer: unknown;
  private readonly logic: ConnectionLogic;
  private closed = false;

  constructor(private readonly options: SupervisorOptions<C>) {
    const { clock, config, logger } = options;
    this.logic = createConnectionLogic((serverId) => this.connections.get(serverId) as ConnectionEffects | undefined, clock);
    this.tickTimer = clock.setInterval(() => this.tick(), config.healthCheckIntervalMs);
    logger.info(`Connection health check loop started (interval: ${formatSeconds(config.healthCheckIntervalMs)})`);
  }

  /** Make the set of connections match `servers`: spawn new, retire gone, re-dial moved. */
  update(servers: StorageServerInfo[]): void {
    if (this.closed) throw new Error('Connection pool is closed');
    const wanted = new Map(servers.map((server) => [server.id, server]));
    for (const [id, connection] of this.connections) {
      const server = wanted.get(id);
      if (!server || server.address !== connection.server.address) this.retire(id);
    }
    for (const server of wanted.values()) {
      if (!this.connections.has(server.id)) this.spawn(server);
    }
  }

  /** Spawn (or re-dial, if the address changed) one server without touching the others. */
  add(server: StorageServerInfo): void {
    const existing = this.connections.get(server.id);
    if (existing?.server.address === server.address) return;
    if (existing) this.retire(server.id);
    this.spawn(server);
  }

  remove(serverId: string): void {
    this.retire(serverId);
  }

  serverIds(): string[] {
    return [...this.connections.keys()];
  }

  readyServerIds(): string[] {
    const ready: string[] = [];
    for (const [id, connection] of this.connections) if (connection.isAvailable()) ready.push(id);
    return ready;
  }

  isAvailable(serverId: string): boolean {
    return this.connections.get(serverId)?.isAvailable() ?? false;
  }

  clientIfReady(serverId: string): C | undefined {
    const connection = this.connections.get(serverId);
    return connection?.isAvailable() ? connection.link.client : undefined;
  }

  async getClient(serverId: string, waitMs = this.options.config.readyWaitMs): Promise<C> {
    const connection = this.connections.get(serverId);
    if (!connection) throw new Error(`Storage server ${serverId} is not in the ring`);
    if (connection.isAvailable()) return connection.link.client;
    connection.requestConnect(this.options.clock.now());
    if (await connection.waitUntilAvailable(waitMs)) return connection.link.client;
    const { state, breaker } = connection.snapshot();
    throw new Error(
      `Storage server ${serverId} (${connection.server.address}) is not available: connection ${state}, breaker ${breaker}, waited ${waitMs} ms`,
    );
  }

  serverAnnounced(serverId: string): void {
    const connection = this.connections.get(serverId);
    if (connection && connection.state !== 'Ready') connection.requestConnect(this.options.clock.now());
  }

  recordSuccess(serverId: string): void {
    this.connections.get(serverId)?.recordSuccess(this.options.clock.now());
  }

  recordFailure(serverId: string, error: unknown): void {
    if (!isServerFault(error)) return;
    this.connections.get(serverId)?.recordFailure(this.options.clock.now(), error);
  }

  snapshot(): ConnectionSnapshot[] {
    return [...this.connections.values()].map((connection) => connection.snapshot());
  }

  onTransition(listener: (event: TransitionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onProbe(listener: (event: ProbeEvent) => void): () => void {
    this.probeListeners.add(listener);
    return () => this.probeListeners.delete(listener);
  }

  /** One tick to every connection (also run by the interval timer). */
  tick(): void {
    const at = this.options.clock.now();
    for (const connection of this.connections.values()) connection.tick(at);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.clock.clearInterval(this.tickTimer);
    for (const id of [...this.connections.keys()]) this.retire(id);
    this.listeners.clear();
    this.probeListeners.clear();
  }

  private spawn(server: StorageServerInfo): void {
    const { config, dial, clock, logger, inspect, random } = this.options;
    const connection = new ServerConnection<C>({
      server,
      dial,
      config,
      clock,
      logger,
      inspect,
      random,
      logic: this.logic,
      onTransition: (event) => this.publish(this.listeners, event),
      onProbe: (event) => this.publish(this.probeListeners, event),
    });
    this.connections.set(server.id, connection);
    connection.start();
  }

  private retire(serverId: string): void {
    const connection = this.connections.get(serverId);
    if (!connection) return;
    this.connections.delete(serverId);
    connection.retire();
  }

  /** Tells every subscriber; a throwing one is logged and never reaches the actors. */
  private publish<E>(listeners: ReadonlySet<(event: E) => void>, event: E): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.warn(`Connection event listener threw: ${errorMessage(error)}`);
      }
    }
  }
}

/** 10000 -> "10s", 500 -> "0.5s". */
function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}
