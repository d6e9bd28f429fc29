import * as grpc from '@grpc/grpc-js';
import type { InspectionEvent } from 'xstate';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/connection/config';
import { guardInspector } from '../../src/connection/guard-inspector';
import { SupervisorHandle } from '../../src/connection/supervisor';
import type { TransitionEvent } from '../../src/connection/types';
import { CONNECTING, currentClientOf, FakeClient, FakeClock, FakeDialer, IDLE, READY, recordingLogger, TRANSIENT_FAILURE } from './fakes';

const config: ConnectionConfig = {
  ...DEFAULT_CONNECTION_CONFIG,
  healthCheckIntervalMs: 1_000,
  connectTimeoutMs: 2_500,
  readyWaitMs: 500,
  breakerFailureThreshold: 3,
  breakerCooldownMs: 5_000,
  breakerMaxCooldownMs: 20_000,
};

function setup(overrides: Partial<ConnectionConfig> = {}, inspect?: (event: InspectionEvent) => void, tickSliceServers?: number) {
  const clock = new FakeClock();
  const dialer = new FakeDialer();
  const lines: string[] = [];
  const logger = recordingLogger(lines);
  const supervisor = new SupervisorHandle<FakeClient>({
    config: { ...config, ...overrides },
    dial: dialer.dial,
    clock,
    logger,
    inspect,
    random: () => 0.5,
    tickSliceServers,
  });
  const transitions: TransitionEvent[] = [];
  supervisor.onTransition((event) => transitions.push(event));
  return { clock, dialer, supervisor, lines, transitions };
}

const servers = (...ids: string[]) => ids.map((id) => ({ id, address: `${id}.local:1` }));

describe('connection supervisor', () => {
  it('dials every server once, kicks it, and reports it ready when its channel is', async () => {
    const { dialer, supervisor, lines } = setup();
    expect(lines).toContain('Connection health check loop started (interval: 1s)');
    supervisor.update(servers('a', 'b', 'c'));
    expect(dialer.dialled.map((c) => c.address)).toEqual(['a.local:1', 'b.local:1', 'c.local:1']);
    expect(dialer.dialled.every((c) => c.state === CONNECTING)).toBe(true);
    expect(supervisor.readyServerIds()).toEqual([]);

    dialer.latest('b.local:1').setState(READY);
    expect(supervisor.readyServerIds()).toEqual(['b']);
    expect(supervisor.clientIfReady('b')?.channel).toBe(dialer.latest('b.local:1'));
    expect(supervisor.clientIfReady('a')).toBeUndefined();
    expect(lines).toContain('Server b (b.local:1) connection: Connecting -> Ready (channel reported Ready)');
  });

  it('retires removed servers: actor stopped, channel closed, watch released, no timers left', async () => {
    const { clock, dialer, supervisor } = setup();
    supervisor.update(servers('a', 'b'));
    // A caller waiting for b holds a timer: the worst case for leftovers.
    const waiting = supervisor.getClient('b', 10_000);
    expect(clock.pendingTimers).toBe(2); // the shared tick + b's bounded wait

    supervisor.update(servers('a'));
    await expect(waiting).rejects.toThrow('is not available');
    expect(supervisor.serverIds()).toEqual(['a']);
    expect(dialer.open().map((c) => c.address)).toEqual(['a.local:1']);
    expect(dialer.latest('b.local:1').watcherCount).toBe(0);
    expect(clock.pendingTimers).toBe(1); // only the shared tick
    clock.advance(60_000); // nothing of b may wake up and redial
    expect(dialer.dialled.filter((c) => c.address === 'b.local:1')).toHaveLength(1);

    await supervisor.close();
    expect(clock.pendingTimers).toBe(0);
    expect(dialer.open()).toEqual([]);
    expect(dialer.dialled.every((c) => c.watcherCount === 0)).toBe(true);
  });

  it('re-dials a server whose address changed and closes the old channel', () => {
    const { dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    const old = dialer.latest('a.local:1');
    supervisor.update([{ id: 'a', address: 'a.moved:2' }]);
    expect(old.closed).toBe(true);
    expect(dialer.latest('a.moved:2').state).toBe(CONNECTING);
    expect(supervisor.snapshot().map((s) => s.address)).toEqual(['a.moved:2']);
  });

  it('getClient reconnects on demand and waits a bounded time for Ready', async () => {
    const { clock, dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    const channel = dialer.latest('a.local:1');
    channel.setState(READY);
    channel.setState(IDLE); // dropped connection: kicked at once
    expect(channel.state).toBe(CONNECTING);

    const waiting = supervisor.getClient('a');
    channel.setState(READY);
    await expect(waiting).resolves.toBeInstanceOf(FakeClient);

    channel.setState(TRANSIENT_FAILURE);
    const failing = supervisor.getClient('a');
    // The request rebuilt the channel at once instead of waiting for grpc's backoff.
    expect(channel.closed).toBe(true);
    clock.advance(config.readyWaitMs);
    await expect(failing).rejects.toThrow('Storage server a (a.local:1) is not available: connection Connecting, breaker closed, waited 500 ms');
    await expect(supervisor.getClient('zzz')).rejects.toThrow('Storage server zzz is not in the ring');
    expect(clock.pendingTimers).toBe(1);
  });

  it('a server that announces itself while in backoff gets a fresh channel at once; a Ready one is left alone', () => {
    const { dialer, supervisor } = setup();
    supervisor.update(servers('a', 'b'));
    const [a, b] = [dialer.latest('a.local:1'), dialer.latest('b.local:1')];
    a.setState(TRANSIENT_FAILURE);
    b.setState(READY);
    supervisor.serverAnnounced('a');
    supervisor.serverAnnounced('b');
    supervisor.serverAnnounced('not-in-the-ring');
    expect([a.closed, dialer.latest('a.local:1') !== a]).toEqual([true, true]);
    expect([b.closed, dialer.latest('b.local:1')]).toEqual([false, b]);
    expect(supervisor.snapshot().find((s) => s.serverId === 'a')?.state).toBe('Connecting');
  });

  it('the tick probes silent Ready servers only, and a failed probe rebuilds the channel', async () => {
    const { clock, dialer, supervisor, lines } = setup();
    supervisor.update(servers('a', 'b'));
    const [a, b] = [dialer.latest('a.local:1'), dialer.latest('b.local:1')];
    a.setState(READY);
    b.setState(READY);
    clock.advance(500);
    supervisor.recordSuccess('a'); // a answered a real call recently: no probe needed
    clock.advance(500); // tick
    const probesOf = (ch: typeof a) => (supervisor.clientIfReady(ch === a ? 'a' : 'b') as FakeClient).probes.length;
    expect(probesOf(a)).toBe(0);
    expect(probesOf(b)).toBe(1);

    (supervisor.clientIfReady('b') as FakeClient).probes[0].reject(new Error('DEADLINE_EXCEEDED'));
    await Promise.resolve();
    await Promise.resolve();
    expect(b.closed).toBe(true);
    expect(supervisor.snapshot().find((s) => s.serverId === 'b')).toMatchObject({
      state: 'Connecting',
      lastError: 'DEADLINE_EXCEEDED',
    });
    const fresh = dialer.latest('b.local:1');
    expect(fresh).not.toBe(b);
    fresh.setState(READY);
    expect(lines).toContain('Reconnected to storage server: b at b.local:1');
    expect(supervisor.snapshot().find((s) => s.serverId === 'b')?.reconnects).toBe(1);
  });

  it('a channel stuck Connecting is rebuilt after CONNECT_TIMEOUT_MS, on the tick', () => {
    const { clock, dialer, supervisor, lines } = setup();
    supervisor.update(servers('a'));
    const first = dialer.latest('a.local:1');
    clock.advance(2_000);
    expect(first.closed).toBe(false);
    clock.advance(1_000); // tick at 3 s >= 2.5 s
    expect(first.closed).toBe(true);
    expect(dialer.latest('a.local:1').state).toBe(CONNECTING);
    expect(lines).toContain('Failed to reconnect to server a: connect timed out after 3000 ms');
  });

  it('the tick reconciles a state change the watch missed', () => {
    const { clock, dialer, supervisor, transitions } = setup();
    supervisor.update(servers('a'));
    const channel = dialer.latest('a.local:1');
    channel.state = READY; // changed without notifying watchers
    clock.advance(1_000);
    expect(supervisor.snapshot()[0]).toMatchObject({ state: 'Ready' });
    expect(transitions.at(-1)).toMatchObject({ from: 'Connecting', to: 'Ready', reason: 'reconciled on tick: channel is Ready' });
  });

  it('logs the operator phrases on drops and failed reconnects', () => {
    const { dialer, supervisor, lines } = setup();
    supervisor.update(servers('a'));
    const channel = dialer.latest('a.local:1');
    channel.setState(READY);
    channel.setState(TRANSIENT_FAILURE);
    expect(lines).toContain('Connection to server a is in state TransientFailure, attempting reconnect');
    channel.setState(CONNECTING);
    channel.setState(TRANSIENT_FAILURE);
    expect(lines).toContain('Failed to reconnect to server a: channel reported TransientFailure');
  });

  it('the breaker opens after consecutive failures and half-opens after the cool-down', () => {
    const { clock, dialer, supervisor, transitions } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    for (let i = 0; i < 3; i++) supervisor.recordFailure('a', new Error('UNAVAILABLE'));
    expect(supervisor.isAvailable('a')).toBe(false);
    expect(supervisor.readyServerIds()).toEqual([]);
    clock.advance(5_000);
    expect(supervisor.snapshot()[0].breaker).toBe('halfOpen');
    expect(supervisor.isAvailable('a')).toBe(true);
    supervisor.recordSuccess('a');
    expect(supervisor.snapshot()[0].breaker).toBe('closed');
    expect(transitions.filter((t) => t.machine === 'breaker').map((t) => `${t.from}->${t.to}`)).toEqual([
      'closed->open',
      'open->halfOpen',
      'halfOpen->closed',
    ]);
  });

  it('a success between failures resets the count, so only consecutive failures open the breaker', () => {
    const { dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    for (let round = 0; round < 3; round++) {
      supervisor.recordSuccess('a');
      supervisor.recordFailure('a', new Error('UNAVAILABLE'));
      supervisor.recordFailure('a', new Error('UNAVAILABLE'));
    }
    expect(supervisor.snapshot()[0].breaker).toBe('closed');
    supervisor.recordFailure('a', new Error('UNAVAILABLE'));
    expect(supervisor.snapshot()[0].breaker).toBe('open');
  });

  it('failures that answer for one request (full disk, bad chunk) never open the breaker', () => {
    const { dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    const refusal = (code: number) => Object.assign(new Error(`refused with ${code}`), { code });
    for (const code of [grpc.status.RESOURCE_EXHAUSTED, grpc.status.NOT_FOUND, grpc.status.DATA_LOSS, grpc.status.CANCELLED]) {
      for (let i = 0; i < 5; i++) supervisor.recordFailure('a', refusal(code));
    }
    expect(supervisor.snapshot()[0].breaker).toBe('closed');
    expect(supervisor.isAvailable('a')).toBe(true);
    for (let i = 0; i < 3; i++) supervisor.recordFailure('a', refusal(grpc.status.UNAVAILABLE));
    expect(supervisor.snapshot()[0].breaker).toBe('open');
  });

  it('a throwing inspect observer never harms the actors', () => {
    const warn = jest.fn();
    const inspect = guardInspector(() => {
      throw new Error('dashboard bug');
    }, { warn });
    const { dialer, supervisor } = setup({}, inspect);
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    expect(supervisor.readyServerIds()).toEqual(['a']);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('an unexpectedly shut-down channel is rebuilt on the tick with growing backoff', () => {
    const { clock, dialer, supervisor } = setup({ healthCheckIntervalMs: 100, shutdownBackoffBaseMs: 150, connectTimeoutMs: 60_000 });
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').close();
    expect(supervisor.snapshot()[0].state).toBe('Shutdown');
    clock.advance(100);
    expect(dialer.dialled).toHaveLength(1); // 150 ms backoff not yet over
    clock.advance(100);
    expect(dialer.dialled).toHaveLength(2);
    expect(supervisor.snapshot()[0].state).toBe('Connecting');

    dialer.latest('a.local:1').close(); // again: now 300 ms
    clock.advance(200);
    expect(dialer.dialled).toHaveLength(2);
    clock.advance(100);
    expect(dialer.dialled).toHaveLength(3);
    expect(dialer.latest('a.local:1').state).toBe(CONNECTING);
  });
});

describe('the breaker and probe keep their promises', () => {
  const failing = (supervisor: SupervisorHandle<FakeClient>, times: number) => {
    for (let i = 0; i < times; i++) supervisor.recordFailure('a', new Error('INTERNAL: handler crashed'));
  };

  it('probes a quiet Ready server on every tick, not every other one (a probe answer is no call)', async () => {
    const { clock, dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    const probes: number[] = [];
    const answerAfterMs = 5;
    clock.advance(config.healthCheckIntervalMs - answerAfterMs);
    for (let tick = 1; tick <= 6; tick++) {
      clock.advance(answerAfterMs); // the tick
      const client = supervisor.clientIfReady('a') as FakeClient;
      probes.push(client.probes.length);
      // Answered 5 ms later: an answer is no call, so the next tick probes again.
      clock.advance(answerAfterMs);
      client.probes.splice(0).forEach((probe) => probe.resolve());
      await flush();
      clock.advance(config.healthCheckIntervalMs - 2 * answerAfterMs);
    }
    expect(probes).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('a large fleet\'s tick is spread over the interval, and every quiet Ready server is still probed once per interval', async () => {
    // 10 servers per slice: 95 servers are 10 slices, a firing every 100 ms of the 1 s interval.
    const { clock, dialer, supervisor } = setup({}, undefined, 10);
    const fleet = Array.from({ length: 95 }, (_, i) => `s${i}`);
    const probedAt = new Map<string, number[]>(fleet.map((id) => [id, []]));
    const perFiring: number[] = [];
    /** Steps the clock one slice period at a time, answering every probe at once. */
    const run = async (ms: number, periodMs: number) => {
      for (let elapsed = 0; elapsed < ms; elapsed += periodMs) {
        clock.advance(periodMs);
        let started = 0;
        for (const id of probedAt.keys()) {
          const probes = currentClient(supervisor, id).probes.splice(0);
          for (let i = 0; i < probes.length; i++) probedAt.get(id)!.push(clock.now());
          probes.forEach((probe) => probe.resolve());
          started += probes.length;
        }
        perFiring.push(started);
        await flush();
      }
    };
    supervisor.update(servers(...fleet));
    for (const channel of dialer.dialled) channel.setState(READY);
    await run(5 * config.healthCheckIntervalMs, 100);
    expect(perFiring.every((n) => n <= 10)).toBe(true);
    for (const [id, times] of probedAt) {
      expect({ id, probes: times.length }).toEqual({ id, probes: 5 });
      expect({ id, gaps: times.slice(1).map((t, i) => t - times[i]) }).toEqual({ id, gaps: [1_000, 1_000, 1_000, 1_000] });
    }

    // The fleet grows to 150 (15 slices, from the next round on): everyone, old and new, is still
    // probed about once per interval, never more than one interval and one slice period apart.
    const more = Array.from({ length: 55 }, (_, i) => `t${i}`);
    for (const id of more) probedAt.set(id, []);
    supervisor.update(servers(...fleet, ...more));
    for (const channel of dialer.dialled) if (channel.state !== READY) channel.setState(READY);
    const since = clock.now();
    perFiring.length = 0;
    await run(6 * config.healthCheckIntervalMs, 1_000 / 15);
    for (const [id, all] of probedAt) {
      const times = all.filter((t) => t > since);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      expect({ id, enough: times.length >= 5, late: gaps.filter((gap) => gap > 1_000 + 100) }).toEqual({ id, enough: true, late: [] });
    }
    expect(Math.max(...perFiring.slice(-30))).toBeLessThanOrEqual(10);
  });

  it('a reconnect does not close a breaker that RPC failures opened; a successful probe after the cool-down does', async () => {
    const { clock, dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    failing(supervisor, 3);
    expect(supervisor.snapshot()[0].breaker).toBe('open');

    // The tick's probe fails too: the channel is rebuilt and connects at once (the server accepts
    // connections, it only fails its calls).
    clock.advance(config.healthCheckIntervalMs);
    const probe = currentClient(supervisor, 'a').probes[0];
    probe.reject(new Error('INTERNAL: handler crashed'));
    await flush();
    const rebuilt = dialer.latest('a.local:1');
    rebuilt.setState(READY);
    expect(supervisor.snapshot()[0]).toMatchObject({ state: 'Ready', breaker: 'open' });
    expect(supervisor.isAvailable('a')).toBe(false);

    clock.advance(config.breakerCooldownMs); // cool-down over: half-open, and the tick probes
    expect(supervisor.snapshot()[0].breaker).toBe('halfOpen');
    const trial = currentClient(supervisor, 'a').probes;
    expect(trial.length).toBeGreaterThan(0);
    trial.splice(0).forEach((p) => p.resolve());
    await flush();
    expect(supervisor.snapshot()[0].breaker).toBe('closed');
  });

  it('a reconnect closes a breaker that opened because the connection was lost', () => {
    const { dialer, supervisor } = setup();
    supervisor.update(servers('a'));
    const channel = dialer.latest('a.local:1');
    channel.setState(READY);
    failing(supervisor, 3); // calls in flight when the server died
    channel.setState(IDLE); // and the connection drops: kicked at once
    expect(supervisor.snapshot()[0]).toMatchObject({ state: 'Connecting', breaker: 'open' });
    channel.setState(READY);
    expect(supervisor.snapshot()[0]).toMatchObject({ state: 'Ready', breaker: 'closed' });
    expect(supervisor.isAvailable('a')).toBe(true);
  });

  it('half-open admits one trial call and routes the rest elsewhere until it answers', () => {
    const { clock, dialer, supervisor } = setup();
    supervisor.update(servers('a', 'b'));
    dialer.latest('a.local:1').setState(READY);
    dialer.latest('b.local:1').setState(READY);
    failing(supervisor, 3);
    clock.advance(config.breakerCooldownMs);
    expect(supervisor.snapshot()[0].breaker).toBe('halfOpen');

    expect(supervisor.clientIfReady('a')).toBeInstanceOf(FakeClient); // the trial
    expect(supervisor.clientIfReady('a')).toBeUndefined();
    expect(supervisor.isAvailable('a')).toBe(false);
    expect(supervisor.readyServerIds()).toEqual(['b']);

    supervisor.recordSuccess('a'); // the trial answered
    expect(supervisor.snapshot()[0].breaker).toBe('closed');
    expect(supervisor.readyServerIds()).toEqual(['a', 'b']);
  });

  it('a failed trial opens the breaker again, for a longer cool-down', () => {
    const { clock, dialer, supervisor, transitions } = setup();
    supervisor.update(servers('a'));
    dialer.latest('a.local:1').setState(READY);
    failing(supervisor, 3);
    clock.advance(config.breakerCooldownMs);
    expect(supervisor.clientIfReady('a')).toBeInstanceOf(FakeClient);
    failing(supervisor, 1);
    expect(supervisor.snapshot()[0].breaker).toBe('open');
    clock.advance(config.breakerCooldownMs);
    expect(supervisor.snapshot()[0].breaker).toBe('open'); // 2 x the cool-down now
    clock.advance(config.breakerCooldownMs);
    expect(supervisor.snapshot()[0].breaker).toBe('halfOpen');
    expect(transitions.filter((t) => t.machine === 'breaker').map((t) => t.to)).toEqual(['open', 'halfOpen', 'open', 'halfOpen']);
  });
});

/** The client of a server's current channel, whether or not it takes traffic. */
function currentClient(supervisor: SupervisorHandle<FakeClient>, serverId: string): FakeClient {
  return currentClientOf(supervisor.actor.getSnapshot().context.servers.get(serverId)!);
}

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
