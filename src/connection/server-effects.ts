import type { ConnectionStateName } from '../../machines/connection';
import type { ServerEffects, ServerTransition } from '../../machines/server';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import { watchChannel, type ChannelWatch } from './channel-watcher';
import type { Clock } from './clock';
import { ServerChannel, type Dialer, type ProbeClient } from './server-channel';
import type { ProbeEvent, StorageServerInfo, TransitionEvent } from './types';

export type ConnectionLogger = Pick<Logger, 'info' | 'warn'>;

export interface ServerEffectsOptions<C extends ProbeClient> {
  server: StorageServerInfo;
  dial: Dialer<C>;
  clock: Clock;
  logger: ConnectionLogger;
  probeTimeoutMs: number;
  onTransition(event: TransitionEvent): void;
  onProbe(event: ProbeEvent): void;
  /** The server actor stopped and its channel is closed. */
  onClosed(serverId: string): void;
}

/**
 * What one server actor does to the world: its long-lived channel (dialled and followed when
 * the connection actor starts, closed when it stops), kicks, rebuilds and probes, and the one
 * place a state change of its connection or breaker is logged and published.
 */
export class ServerLink<C extends ProbeClient> implements ServerEffects {
  private channel: ServerChannel<C> | undefined;
  private watching: ChannelWatch | undefined;
  private closed = false;

  constructor(private readonly options: ServerEffectsOptions<C>) {}

  get server(): StorageServerInfo {
    return this.options.server;
  }

  /** The channel, dialled the first time anything needs it. */
  get link(): ServerChannel<C> {
    this.channel ??= new ServerChannel(this.options.server.address, this.options.dial);
    return this.channel;
  }

  now(): number {
    return this.options.clock.now();
  }

  open(report: (state: ConnectionStateName, reason?: string) => void): () => void {
    if (this.closed) return () => undefined;
    this.link.kick();
    // The connection starts in Connecting: a channel that is so needs no report (no step).
    this.watching = watchChannel(this.link, report, 'Connecting');
    return () => this.close();
  }

  recheckChannel(): void {
    this.watching?.recheck();
  }

  kick(): void {
    if (this.closed) return;
    this.link.kick();
  }

  recreate(lastError: string | null): void {
    const { logger } = this.options;
    if (this.closed) return;
    if (lastError && this.link.state() === 'Connecting') logger.warn(`Failed to reconnect to server ${this.server.id}: ${lastError}`);
    try {
      this.link.recreate();
    } catch (error) {
      logger.warn(`Failed to reconnect to server ${this.server.id}: ${errorMessage(error)}`);
    }
  }

  probe(answer: (error: string | undefined) => void): void {
    const { clock, probeTimeoutMs, onProbe } = this.options;
    const client = this.link.client;
    // An answer from a channel replaced in the meantime says nothing about the current one.
    const stillCurrent = () => !this.closed && this.link.client === client;
    const startedAt = clock.now();
    const observe = (ok: boolean) => onProbe({ serverId: this.server.id, seconds: (clock.now() - startedAt) / 1000, ok });
    client.healthCheck({ deadlineMs: probeTimeoutMs }).then(
      () => {
        observe(true);
        if (stillCurrent()) answer(undefined);
      },
      (error: unknown) => {
        observe(false);
        if (stillCurrent()) answer(errorMessage(error));
      },
    );
  }

  transitioned({ machine, from, to, reason, reconnects }: ServerTransition): void {
    const { server, logger, clock } = this.options;
    logger.info(`Server ${server.id} (${server.address}) ${machine}: ${from} -> ${to} (${reason})`, {
      serverId: server.id,
      machine,
      from,
      to,
      reason,
    });
    if (machine === 'connection') this.logOperatorLine(from, to, reason, reconnects);
    this.options.onTransition({ machine, serverId: server.id, address: server.address, from, to, reason, at: clock.now() });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watching?.stop();
    this.channel?.close();
    this.options.onClosed(this.server.id);
  }

  /** The exact phrases operators grep for (docs/connection-layer.md). */
  private logOperatorLine(from: string, to: string, reason: string, reconnects: number): void {
    const { server, logger } = this.options;
    if (to === 'Ready' && reconnects > 0) {
      logger.info(`Reconnected to storage server: ${server.id} at ${server.address}`);
    } else if (to === 'TransientFailure' && from === 'Connecting') {
      logger.warn(`Failed to reconnect to server ${server.id}: ${reason}`);
    } else if (to === 'Idle' || to === 'TransientFailure' || to === 'Shutdown') {
      logger.warn(`Connection to server ${server.id} is in state ${to}, attempting reconnect`);
    }
  }
}
