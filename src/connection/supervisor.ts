import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { serverAdmitsTraffic, type ServerChildren } from '../../machines/server';
import { supervisorLogic, TICK_SLICE_SERVERS, type ServerActorRef } from '../../machines/supervisor';
import { errorMessage } from '../util/error-message';
import type { Clock } from './clock';
import type { ConnectionConfig } from './config';
import type { Dialer, ProbeClient } from './server-channel';
import { ServerLink, type ConnectionLogger } from './server-effects';
import { isServerFault } from './server-fault';
import type { BreakerState, ConnectionSnapshot, ConnectionState, ProbeEvent, StorageServerInfo, TransitionEvent } from './types';

export interface SupervisorOptions<C extends ProbeClient> {
  config: ConnectionConfig;
  dial: Dialer<C>;
  clock: Clock;
  logger: ConnectionLogger;
  /** Already guarded: must not throw. */
  inspect?: (event: InspectionEvent) => void;
  random?: () => number;
  /** Servers per slice of the spread tick (machines/supervisor.ts); tests make it small. */
  tickSliceServers?: number;
}

/**
 * The gateway's handle on the supervisor actor (machines/supervisor.ts), created with
 * `createActor`: ring changes become its events, and questions ("is this server available, give
 * me its client") are answered from the snapshots of its children. Also holds what is not actor
 * state: callers waiting a bounded time for a server, and the subscribers to transitions.
 */
export class SupervisorHandle<C extends ProbeClient> {
  readonly actor: Actor<typeof supervisorLogic>;
  private readonly listeners = new Set<(event: TransitionEvent) => void>();
  private readonly probeListeners = new Set<(event: ProbeEvent) => void>();
  private readonly waiters = new Map<string, Set<(available: boolean) => void>>();
  private closed = false;

  constructor(private readonly options: SupervisorOptions<C>) {
    const { config, clock, logger, dial, inspect } = options;
    const random = options.random ?? Math.random;
    this.actor = createActor(supervisorLogic, {
      inspect,
      input: {
        settings: {
          tickIntervalMs: config.healthCheckIntervalMs,
          tickSliceServers: options.tickSliceServers ?? TICK_SLICE_SERVERS,
          server: {
            connection: {
              connectTimeoutMs: config.connectTimeoutMs,
              quietMs: config.healthCheckIntervalMs,
              minReconnectIntervalMs: config.minReconnectIntervalMs,
              shutdownBackoffBaseMs: config.shutdownBackoffBaseMs,
              shutdownBackoffMaxMs: config.shutdownBackoffMaxMs,
            },
            breaker: {
              failureThreshold: config.breakerFailureThreshold,
              cooldownMs: config.breakerCooldownMs,
              maxCooldownMs: config.breakerMaxCooldownMs,
              trialTimeoutMs: config.callTimeoutMs,
            },
          },
        },
        effects: {
          now: () => clock.now(),
          every: (ms, tick) => {
            const timer = clock.setInterval(tick, ms);
            return () => clock.clearInterval(timer);
          },
          // +-20%, so servers shut down together do not all redial on the same tick.
          jitter: () => 0.8 + 0.4 * random(),
          dial: (server) =>
            new ServerLink<C>({
              server,
              dial,
              clock,
              logger,
              probeTimeoutMs: config.probeTimeoutMs,
              onTransition: (event) => this.transitioned(event),
              onProbe: (event) => this.publish(this.probeListeners, event),
              onClosed: (serverId) => this.settleWaiters(serverId, false),
            }),
        },
      },
    });
    this.actor.start();
    logger.info(`Connection health check loop started (interval: ${formatSeconds(config.healthCheckIntervalMs)})`);
  }

  /** Make the set of servers match `servers`: spawn new, retire gone, re-dial moved. */
  update(servers: StorageServerInfo[]): void {
    this.assertOpen();
    this.actor.send({ type: 'MEMBERSHIP', servers });
  }

  /** Spawn (or re-dial, if the address changed) one server without touching the others. */
  add(server: StorageServerInfo): void {
    this.assertOpen();
    this.actor.send({ type: 'SERVER_ADDED', server });
  }

  remove(serverId: string): void {
    this.assertOpen();
    this.actor.send({ type: 'SERVER_REMOVED', serverId });
  }

  /** One tick to every server now (the supervisor's own timer sends one every interval). */
  tick(): void {
    this.actor.send({ type: 'TICK', at: this.options.clock.now() });
  }

  serverIds(): string[] {
    return [...this.servers().keys()];
  }

  readyServerIds(): string[] {
    const ready: string[] = [];
    for (const [id, server] of this.servers()) if (serverAdmitsTraffic(server)) ready.push(id);
    return ready;
  }

  isAvailable(serverId: string): boolean {
    const server = this.server(serverId);
    return server !== undefined && serverAdmitsTraffic(server);
  }

  /** The client of a server if it is available right now; half-open, this call is its one trial. */
  clientIfReady(serverId: string): C | undefined {
    const server = this.server(serverId);
    return server && this.admit(server);
  }

  async getClient(serverId: string, waitMs = this.options.config.readyWaitMs): Promise<C> {
    const server = this.server(serverId);
    if (!server) throw new Error(`Storage server ${serverId} is not in the ring`);
    const admitted = this.admit(server);
    if (admitted) return admitted;
    server.send({ type: 'REQUEST_CONNECT', at: this.options.clock.now() });
    if (await this.waitUntilAvailable(serverId, waitMs)) {
      const now = this.server(serverId);
      const client = now && this.admit(now);
      if (client) return client;
    }
    const current = this.server(serverId);
    const { address } = server.getSnapshot().context;
    const seen = current && snapshotOf(current);
    const why = seen ? `connection ${seen.state}, breaker ${seen.breaker}` : 'removed from the ring';
    throw new Error(`Storage server ${serverId} (${address}) is not available: ${why}, waited ${waitMs} ms`);
  }

  serverAnnounced(serverId: string): void {
    const server = this.server(serverId);
    if (server && server.getSnapshot().context.connection !== 'Ready') {
      server.send({ type: 'REQUEST_CONNECT', at: this.options.clock.now() });
    }
  }

  /**
   * Called once per successful call, so it sends only events that change something: a machine
   * step costs more than the call's own bookkeeping (measured on 4 KiB downloads: six chunk
   * calls each). The connection only needs to hear of a success once in a while (it decides
   * whether a probe is due), the breaker only once spawned and when not closed or counting failures.
   */
  recordSuccess(serverId: string): void {
    const server = this.server(serverId);
    if (!server) return;
    const at = this.options.clock.now();
    const { connection, breaker } = childrenOf(server);
    const { lastCallOkAt, settings } = connection.getSnapshot().context;
    const breakerNow = breaker?.getSnapshot();
    const breakerCares = breakerNow !== undefined && (breakerNow.value !== 'closed' || breakerNow.context.consecutiveFailures > 0);
    if (breakerCares || at - lastCallOkAt >= settings.quietMs / 4) server.send({ type: 'CALL_OK', at });
  }

  /** A failed call; only failures that say the server is unwell (see isServerFault) count. */
  recordFailure(serverId: string, error: unknown): void {
    if (!isServerFault(error)) return;
    this.server(serverId)?.send({ type: 'CALL_FAILED', at: this.options.clock.now(), error: errorMessage(error) });
  }

  snapshot(): ConnectionSnapshot[] {
    return [...this.servers().values()].map(snapshotOf);
  }

  onTransition(listener: (event: TransitionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onProbe(listener: (event: ProbeEvent) => void): () => void {
    this.probeListeners.add(listener);
    return () => this.probeListeners.delete(listener);
  }

  /** Stops the supervisor actor and with it every server actor (closing their channels). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.actor.stop();
    for (const serverId of [...this.waiters.keys()]) this.settleWaiters(serverId, false);
    this.listeners.clear();
    this.probeListeners.clear();
  }

  private servers(): ReadonlyMap<string, ServerActorRef> {
    return this.actor.getSnapshot().context.servers;
  }

  private server(serverId: string): ServerActorRef | undefined {
    return this.servers().get(serverId);
  }

  /** The server's client if it takes traffic now; a half-open breaker counts it as its trial. */
  private admit(server: ServerActorRef): C | undefined {
    if (!serverAdmitsTraffic(server)) return undefined;
    if (server.getSnapshot().context.breaker === 'halfOpen') server.send({ type: 'TRIAL_STARTED', at: this.options.clock.now() });
    return linkOf<C>(server).link.client;
  }

  /** Resolves true as soon as the server is available, false after waitMs or when it is retired. */
  private waitUntilAvailable(serverId: string, waitMs: number): Promise<boolean> {
    if (this.isAvailable(serverId)) return Promise.resolve(true);
    if (this.closed || waitMs <= 0) return Promise.resolve(false);
    const { clock } = this.options;
    return new Promise((resolve) => {
      const waiting = this.waiters.get(serverId) ?? new Set();
      this.waiters.set(serverId, waiting);
      const settle = (available: boolean) => {
        clock.clearTimeout(timer);
        waiting.delete(settle);
        if (waiting.size === 0 && this.waiters.get(serverId) === waiting) this.waiters.delete(serverId);
        resolve(available);
      };
      const timer = clock.setTimeout(() => settle(false), waitMs);
      waiting.add(settle);
    });
  }

  private transitioned(event: TransitionEvent): void {
    this.publish(this.listeners, event);
    // Reported while the server actor takes the step: its new state is readable once it is done.
    if (this.waiters.has(event.serverId)) {
      queueMicrotask(() => {
        if (this.isAvailable(event.serverId)) this.settleWaiters(event.serverId, true);
      });
    }
  }

  private settleWaiters(serverId: string, available: boolean): void {
    for (const settle of [...(this.waiters.get(serverId) ?? [])]) settle(available);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Connection supervisor is closed');
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

function childrenOf(server: ServerActorRef): ServerChildren {
  return server.getSnapshot().children as unknown as ServerChildren;
}

/** The runtime effects a server actor was given (the supervisor's dial made them ServerLinks). */
function linkOf<C extends ProbeClient>(server: ServerActorRef): ServerLink<C> {
  return server.getSnapshot().context.effects as ServerLink<C>;
}

function snapshotOf(server: ServerActorRef): ConnectionSnapshot {
  const { context } = server.getSnapshot();
  const connectionNow = childrenOf(server).connection.getSnapshot();
  return {
    serverId: context.serverId,
    address: context.address,
    state: connectionNow.value as ConnectionState,
    breaker: context.breaker as BreakerState,
    since: connectionNow.context.since,
    reconnects: connectionNow.context.reconnects,
    lastError: connectionNow.context.lastError,
  };
}

/** 10000 -> "10s", 500 -> "0.5s". */
function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}
