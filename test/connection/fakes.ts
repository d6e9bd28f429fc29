import type { Clock } from '../../src/connection/clock';
import type { ServerLink, ConnectionLogger } from '../../src/connection/server-effects';
import type { ChannelLike, Dialer, ProbeClient } from '../../src/connection/server-channel';
import type { ServerContext } from '../../machines/server';

/** grpc-js ConnectivityState numbers. */
export const IDLE = 0, CONNECTING = 1, READY = 2, TRANSIENT_FAILURE = 3, SHUTDOWN = 4;

/**
 * A channel that behaves like grpc-js's: watches are one-shot, never compare the given state
 * with the real one, fire synchronously on change; watching a closed channel throws; kicking an
 * IDLE channel moves it to CONNECTING.
 */
export class FakeChannel implements ChannelLike {
  kicks = 0;
  private watchers: Array<{ currentState: number; callback: () => void }> = [];

  /** connectOnKick false: the test alone moves the channel (model-based replays). */
  constructor(readonly address: string, public state = IDLE, private readonly connectOnKick = true) {}

  getConnectivityState(tryToConnect: boolean): number {
    const state = this.state;
    if (tryToConnect) {
      this.kicks++;
      if (this.state === IDLE && this.connectOnKick) this.setState(CONNECTING);
    }
    return state;
  }

  watchConnectivityState(currentState: number, _deadline: Date | number, callback: () => void): void {
    if (this.state === SHUTDOWN) throw new Error('Channel has been shut down');
    this.watchers.push({ currentState, callback });
  }

  get watcherCount(): number {
    return this.watchers.length;
  }

  setState(state: number): void {
    if (this.state === SHUTDOWN) return;
    this.state = state;
    const due = this.watchers.filter((w) => w.currentState !== state);
    this.watchers = this.watchers.filter((w) => w.currentState === state);
    for (const watcher of due) watcher.callback();
  }

  close(): void {
    this.setState(SHUTDOWN);
  }

  get closed(): boolean {
    return this.state === SHUTDOWN;
  }
}

/** A storage client whose health checks the test answers by hand. */
export class FakeClient implements ProbeClient {
  readonly probes: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  constructor(readonly channel: FakeChannel) {}
  healthCheck(): Promise<unknown> {
    return new Promise<void>((resolve, reject) => this.probes.push({ resolve, reject }));
  }
  close(): void {
    this.channel.close();
  }
}

/**
 * Dials fake channels and remembers every one, in order. In `passive` mode channels ignore kicks
 * and every dial starts in `nextState` (CONNECTING, as the link kicks it): the test drives them.
 */
export class FakeDialer {
  readonly dialled: FakeChannel[] = [];
  nextState = CONNECTING;
  constructor(private readonly passive = false) {}
  readonly dial: Dialer<FakeClient> = (address) => {
    const initial = this.passive ? this.nextState : IDLE;
    const channel = new FakeChannel(address, initial, !this.passive);
    this.dialled.push(channel);
    return { channel, client: new FakeClient(channel) };
  };
  latest(address: string): FakeChannel {
    const found = [...this.dialled].reverse().find((c) => c.address === address);
    if (!found) throw new Error(`nothing dialled to ${address}`);
    return found;
  }
  open(): FakeChannel[] {
    return this.dialled.filter((c) => !c.closed);
  }
}

/** Simulated time: timers run only when the test advances the clock; pending ones are countable. */
export class FakeClock implements Clock {
  private time = 1_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; callback: () => void; every?: number }>();

  now = (): number => this.time;
  setTimeout = (callback: () => void, ms: number): unknown => this.add(callback, ms);
  setInterval = (callback: () => void, ms: number): unknown => this.add(callback, ms, Math.max(1, ms));
  clearTimeout = (handle: unknown): void => void this.timers.delete(handle as number);
  clearInterval = (handle: unknown): void => void this.timers.delete(handle as number);

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: { due: number; callback: () => void; every?: number } | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.due <= end && (!next || timer.due < next.due)) [nextId, next] = [id, timer];
      }
      if (!next || nextId === undefined) break;
      this.time = next.due;
      if (next.every) next.due += next.every;
      else this.timers.delete(nextId);
      next.callback();
    }
    this.time = end;
  }

  private add(callback: () => void, ms: number, every?: number): number {
    const id = this.nextId++;
    this.timers.set(id, { due: this.time + Math.max(0, ms), callback, every });
    return id;
  }
}

export const silentLogger = { info: () => undefined, warn: () => undefined } as never;

/** A connection-layer logger that keeps every line it is given, info and warn, in `lines`. */
export function recordingLogger(lines: string[]): ConnectionLogger {
  return { info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m) } as unknown as ConnectionLogger;
}

/** The fake client of a server actor's current channel (a rebuilt channel has a fresh client), whether or not it takes traffic. */
export function currentClientOf(server: { getSnapshot(): { context: ServerContext } }): FakeClient {
  return (server.getSnapshot().context.effects as ServerLink<FakeClient>).link.client;
}
