import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { errorMessage } from '../util/error-message';
import { breakerMachine } from '../../machines/breaker';
import type { ConnectionStateName } from '../../machines/connection';
import type { Logger } from '../util/logger';
import type { Clock } from './clock';
import { createConnectionLogic, type ConnectionEffects, type ConnectionLogic } from './connection-logic';
import type { ConnectionConfig } from './config';
import { ServerChannel, type Dialer, type ProbeClient } from './server-channel';
import type { BreakerState, ConnectionSnapshot, ProbeEvent, StorageServerInfo, TransitionEvent } from './types';

export type ConnectionLogger = Pick<Logger, 'info' | 'warn'>;

export interface ServerConnectionOptions<C extends ProbeClient> {
  server: StorageServerInfo;
  dial: Dialer<C>;
  config: ConnectionConfig;
  clock: Clock;
  logger: ConnectionLogger;
  onTransition: (event: TransitionEvent) => void;
  onProbe?: (event: ProbeEvent) => void;
  inspect?: (event: InspectionEvent) => void;
  /** The pool's shared connection logic (see createConnectionLogic); standalone if absent. */
  logic?: ConnectionLogic;
  /** Jitter source for the shutdown backoff (0..1). */
  random?: () => number;
}

/**
 * One storage server: its long-lived channel (ServerChannel), its connection actor and its
 * circuit breaker actor, wired together. Every state change of either actor goes through
 * `reportTransition`, which logs it and tells subscribers.
 */
export class ServerConnection<C extends ProbeClient> implements ConnectionEffects {
  readonly server: StorageServerInfo;
  readonly link: ServerChannel<C>;
  private readonly connection: Actor<ConnectionLogic>;
  private readonly breaker: Actor<typeof breakerMachine>;
  private readonly waiters = new Set<(available: boolean) => void>();
  private retired = false;

  constructor(private readonly options: ServerConnectionOptions<C>) {
    const { server, config, clock, dial } = options;
    this.server = server;
    this.link = new ServerChannel(server.address, dial);
    const random = options.random ?? Math.random;

    // Standalone (tests): a logic of its own; in a pool, the pool's shared one.
    const logic = options.logic ?? createConnectionLogic(() => this as ConnectionEffects, clock);
    this.connection = createActor(logic, {
      inspect: options.inspect,
      input: {
        serverId: server.id,
        address: server.address,
        at: clock.now(),
        // +-20%, so servers shut down together do not all redial on the same tick.
        jitter: 0.8 + 0.4 * random(),
        settings: {
          connectTimeoutMs: config.connectTimeoutMs,
          probeIntervalMs: config.healthCheckIntervalMs,
          minReconnectIntervalMs: config.minReconnectIntervalMs,
          shutdownBackoffBaseMs: config.shutdownBackoffBaseMs,
          shutdownBackoffMaxMs: config.shutdownBackoffMaxMs,
        },
      },
    });
    this.breaker = createActor(breakerMachine, {
      inspect: options.inspect,
      input: {
        settings: {
          failureThreshold: config.breakerFailureThreshold,
          cooldownMs: config.breakerCooldownMs,
          maxCooldownMs: config.breakerMaxCooldownMs,
        },
      },
    });

    let connectionState = this.connection.getSnapshot().value as ConnectionStateName;
    this.connection.subscribe((snapshot) => {
      const next = snapshot.value as ConnectionStateName;
      if (next === connectionState) return;
      const from = connectionState;
      connectionState = next;
      this.reportTransition('connection', from, next, snapshot.context.reason);
      if (next === 'Ready') this.breaker.send({ type: 'RECONNECTED', at: clock.now() });
    });
    let breakerState = this.breaker.getSnapshot().value as BreakerState;
    this.breaker.subscribe((snapshot) => {
      const next = snapshot.value as BreakerState;
      if (next === breakerState) return;
      const from = breakerState;
      breakerState = next;
      this.reportTransition('breaker', from, next, snapshot.context.reason);
    });
  }

  /** Separate from the constructor so a pool can register the connection before its first effect. */
  start(): void {
    this.breaker.start();
    this.connection.start();
  }

  get state(): ConnectionStateName {
    return this.connection.getSnapshot().value as ConnectionStateName;
  }

  get breakerState(): BreakerState {
    return this.breaker.getSnapshot().value as BreakerState;
  }

  /** Ready and admitted by the breaker (half-open admits trial calls). */
  isAvailable(): boolean {
    return !this.retired && this.state === 'Ready' && this.breakerState !== 'open';
  }

  /** The shared tick: reconcile with the real channel state, then let both machines act. */
  tick(at: number): void {
    if (this.retired) return;
    const real = this.link.state();
    if (real !== this.state) {
      this.connection.send({ type: 'CHANNEL_STATE', state: real, at, reason: `reconciled on tick: channel is ${real}` });
    }
    this.connection.send({ type: 'TICK', at });
    // Only an open breaker has anything to do on the tick; skipping the rest keeps a tick of
    // thousands of servers cheap.
    if (this.breakerState === 'open') this.breaker.send({ type: 'TICK', at });
  }

  /** A caller found this server not Ready: reconnect now (the machine rate-limits it). */
  requestConnect(at: number): void {
    if (!this.retired) this.connection.send({ type: 'REQUEST_CONNECT', at });
  }

  /**
   * Called once per successful call, so it sends only events that change something: a machine
   * step costs more than the call's own bookkeeping (measured on 4 KiB downloads: six chunk
   * calls each). Activity only decides whether a probe is due, so a quarter of the probe
   * interval is precision enough.
   */
  recordSuccess(at: number): void {
    if (this.retired) return;
    const { lastActivityAt, settings } = this.connection.getSnapshot().context;
    if (at - lastActivityAt >= settings.probeIntervalMs / 4) this.connection.send({ type: 'CALL_OK', at });
    const breaker = this.breaker.getSnapshot();
    if (breaker.value !== 'closed' || breaker.context.consecutiveFailures > 0) this.breaker.send({ type: 'SUCCESS', at });
  }

  recordFailure(at: number, error: unknown): void {
    if (!this.retired) this.breaker.send({ type: 'FAILURE', at, error: errorMessage(error) });
  }

  /** Resolves true as soon as the server is available, false after waitMs or when retired. */
  waitUntilAvailable(waitMs: number): Promise<boolean> {
    if (this.isAvailable()) return Promise.resolve(true);
    if (this.retired || waitMs <= 0) return Promise.resolve(false);
    const { clock } = this.options;
    return new Promise((resolve) => {
      const settle = (available: boolean) => {
        clock.clearTimeout(timer);
        this.waiters.delete(settle);
        resolve(available);
      };
      const timer = clock.setTimeout(() => settle(false), waitMs);
      this.waiters.add(settle);
    });
  }

  snapshot(): ConnectionSnapshot {
    const { context } = this.connection.getSnapshot();
    return {
      serverId: this.server.id,
      address: this.server.address,
      state: this.state,
      breaker: this.breakerState,
      since: context.since,
      reconnects: context.reconnects,
      lastError: context.lastError,
    };
  }

  /** Stop both actors (cancelling their timers), close the channel, release waiters. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.connection.stop();
    this.breaker.stop();
    this.link.close();
    for (const settle of [...this.waiters]) settle(false);
  }

  /** The one place a state change is logged and published. */
  private reportTransition(machine: TransitionEvent['machine'], from: string, to: string, reason: string): void {
    const { server, logger } = this.options;
    logger.info(`Server ${server.id} (${server.address}) ${machine}: ${from} -> ${to} (${reason})`, {
      serverId: server.id,
      machine,
      from,
      to,
      reason,
    });
    if (machine === 'connection') this.logOperatorLine(from, to, reason);
    this.options.onTransition({ machine, serverId: server.id, address: server.address, from, to, reason, at: this.options.clock.now() });
    const available = this.isAvailable();
    if (available) for (const settle of [...this.waiters]) settle(true);
  }

  /** The exact phrases operators grep for (DESIGN.md). */
  private logOperatorLine(from: string, to: string, reason: string): void {
    const { server, logger } = this.options;
    if (to === 'Ready' && this.connection.getSnapshot().context.reconnects > 0) {
      logger.info(`Reconnected to storage server: ${server.id} at ${server.address}`);
    } else if (to === 'TransientFailure' && from === 'Connecting') {
      logger.warn(`Failed to reconnect to server ${server.id}: ${reason}`);
    } else if (to === 'Idle' || to === 'TransientFailure' || to === 'Shutdown') {
      logger.warn(`Connection to server ${server.id} is in state ${to}, attempting reconnect`);
    }
  }

  recreateChannel(lastError: string | null): void {
    const { server, logger } = this.options;
    if (this.state === 'Connecting' && lastError) logger.warn(`Failed to reconnect to server ${server.id}: ${lastError}`);
    try {
      this.link.recreate();
    } catch (error) {
      logger.warn(`Failed to reconnect to server ${server.id}: ${errorMessage(error)}`);
    }
  }

  startProbe(): void {
    const { clock, config, server } = this.options;
    const client = this.link.client;
    const stillCurrent = () => !this.retired && this.link.client === client;
    const startedAt = clock.now();
    const observe = (ok: boolean) => this.options.onProbe?.({ serverId: server.id, seconds: (clock.now() - startedAt) / 1000, ok });
    client.healthCheck({ deadlineMs: config.probeTimeoutMs }).then(
      () => {
        observe(true);
        if (!stillCurrent()) return;
        this.connection.send({ type: 'PROBE_OK', at: clock.now() });
        this.breaker.send({ type: 'SUCCESS', at: clock.now() });
      },
      (error: unknown) => {
        observe(false);
        if (!stillCurrent()) return;
        this.connection.send({ type: 'PROBE_FAILED', at: clock.now(), error: errorMessage(error) });
        this.breaker.send({ type: 'FAILURE', at: clock.now(), error: errorMessage(error) });
      },
    );
  }
}

