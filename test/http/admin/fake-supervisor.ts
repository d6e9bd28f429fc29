import type {
  ConnectionSupervisor, ConnectionSnapshot, ConnectionState, ProbeEvent, StorageServerInfo, TransitionEvent,
} from '../../../src/connection/types';

/** A ConnectionSupervisor whose servers move only when a test says so. */
export class FakeSupervisor implements ConnectionSupervisor {
  private readonly servers = new Map<string, ConnectionSnapshot>();
  private readonly listeners = new Set<(event: TransitionEvent) => void>();

  constructor(servers: Array<Partial<ConnectionSnapshot> & { serverId: string }> = []) {
    servers.forEach((server, i) => this.servers.set(server.serverId, {
      address: `127.0.0.1:${50051 + i}`, state: 'Ready', breaker: 'closed', since: Date.now(),
      reconnects: 0, lastError: null, ...server,
    }));
  }

  /** Move a server's connection (or breaker) and tell every listener, as the real supervisor does. */
  move(serverId: string, to: string, { machine = 'connection', reason = 'test', at = Date.now() }: {
    machine?: TransitionEvent['machine']; reason?: string; at?: number;
  } = {}): TransitionEvent {
    const server = this.servers.get(serverId);
    if (!server) throw new Error(`FakeSupervisor has no server ${serverId}`);
    const from = machine === 'connection' ? server.state : server.breaker;
    if (machine === 'connection') {
      if (to === 'Ready' && server.state !== 'Ready' && server.lastError !== null) server.reconnects += 1;
      if (to === 'TransientFailure') server.lastError = reason;
      server.state = to as ConnectionState;
      server.since = at;
    } else {
      server.breaker = to as ConnectionSnapshot['breaker'];
    }
    const event: TransitionEvent = { machine, serverId, address: server.address, from, to, reason, at };
    for (const listener of this.listeners) listener(event);
    return event;
  }

  remove(serverId: string): void {
    this.servers.delete(serverId);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  snapshot(): ConnectionSnapshot[] {
    return [...this.servers.values()].map((server) => ({ ...server }));
  }

  onTransition(listener: (event: TransitionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private readonly probeListeners = new Set<(event: ProbeEvent) => void>();

  onProbe(listener: (event: ProbeEvent) => void): () => void {
    this.probeListeners.add(listener);
    return () => this.probeListeners.delete(listener);
  }

  /** Reports a health probe of a server, as the real supervisor does after each one. */
  probe(serverId: string, seconds: number, ok = true): void {
    for (const listener of this.probeListeners) listener({ serverId, seconds, ok });
  }

  update(_servers: StorageServerInfo[]): void {}
  readyServerIds(): string[] {
    return this.snapshot().filter((s) => s.state === 'Ready' && s.breaker !== 'open').map((s) => s.serverId);
  }
  isAvailable(serverId: string): boolean {
    return this.readyServerIds().includes(serverId);
  }
  clientIfReady(): undefined {
    return undefined;
  }
  getClient(serverId: string): Promise<never> {
    return Promise.reject(new Error(`FakeSupervisor has no clients (asked for ${serverId})`));
  }
  serverAnnounced(): void {}
  recordSuccess(): void {}
  recordFailure(): void {}
  async close(): Promise<void> {}
}
