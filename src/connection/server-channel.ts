import { CONNECTION_STATES, type ConnectionStateName } from '../../machines/connection';

/** The part of a grpc-js Channel the connection layer uses (a fake implements it in tests). */
export interface ChannelLike {
  getConnectivityState(tryToConnect: boolean): number;
  watchConnectivityState(currentState: number, deadline: Date | number, callback: (error?: Error) => void): void;
  close(): void;
}

/** The part of a storage client the connection layer itself calls. */
export interface ProbeClient {
  healthCheck(options?: { deadlineMs?: number }): Promise<unknown>;
  close(): void;
}

/** A freshly dialled channel to one address and the client that uses it. */
export interface Dialled<C extends ProbeClient> {
  channel: ChannelLike;
  client: C;
}

export type Dialer<C extends ProbeClient> = (address: string) => Dialled<C>;

/** grpc-js numbers its ConnectivityState in the order of CONNECTION_STATES. */
export function connectivityStateName(state: number): ConnectionStateName {
  return CONNECTION_STATES[state] ?? 'Shutdown';
}

/**
 * The one long-lived channel of a server. Replaced only when the connection actor decides so
 * (connect timeout, failed probe, unexpected shutdown); every replaced channel is closed.
 */
export class ServerChannel<C extends ProbeClient> {
  private current: Dialled<C>;
  private closed = false;
  private readonly replacedListeners = new Set<() => void>();

  constructor(readonly address: string, private readonly dial: Dialer<C>) {
    this.current = dial(address);
  }

  get channel(): ChannelLike {
    return this.current.channel;
  }

  get client(): C {
    return this.current.client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  state(): ConnectionStateName {
    return connectivityStateName(this.current.channel.getConnectivityState(false));
  }

  /** Ask an IDLE channel to connect (grpc-js never does so by itself). */
  kick(): void {
    if (!this.closed) this.current.channel.getConnectivityState(true);
  }

  /** Close the channel and dial a new one, already asked to connect. */
  recreate(): void {
    if (this.closed) return;
    const old = this.current;
    this.current = this.dial(this.address);
    // Kick first, so watchers moving to the new channel find it CONNECTING, not IDLE.
    this.current.channel.getConnectivityState(true);
    for (const listener of this.replacedListeners) listener();
    old.client.close();
  }

  onReplaced(listener: () => void): () => void {
    this.replacedListeners.add(listener);
    return () => this.replacedListeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.replacedListeners.clear();
    this.current.client.close();
  }
}
