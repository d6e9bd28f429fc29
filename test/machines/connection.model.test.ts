import { breakerMachine } from '../../machines/breaker';
import { CONNECTION_STATES, connectionMachine, type ConnectionEffects, type ConnectionStateName } from '../../machines/connection';
import { serverAdmitsTraffic, type ServerChildren } from '../../machines/server';
import type { ServerActorRef } from '../../machines/supervisor';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/connection/config';
import { SupervisorHandle } from '../../src/connection/supervisor';
import { currentClientOf, FakeClient, FakeClock, FakeDialer, READY, silentLogger, type FakeChannel } from '../connection/fakes';
import { allTransitions, atOf, edgePaths, reportCoverage, timedLogic, transitionKey, transitionRecorder, type ModelEvent, type TimedSnapshot } from './model';
import { BREAKER_RULES, BreakerOracle, breakerAdmitsBySpec, CONNECTION_RULES, ConnectionOracle, predict, ruleName } from './rules';

/** Small thresholds: a "late" step (LATE_MS) passes every timeout, 1 ms steps none. */
const config: ConnectionConfig = {
  ...DEFAULT_CONNECTION_CONFIG,
  healthCheckIntervalMs: 1_000,
  connectTimeoutMs: 1_000,
  minReconnectIntervalMs: 1_000,
  shutdownBackoffBaseMs: 1_000,
  shutdownBackoffMaxMs: 1_000,
  breakerFailureThreshold: 3,
  breakerCooldownMs: 1_000,
  breakerMaxCooldownMs: 3_000,
  callTimeoutMs: 1_000,
};
const GRPC_STATE: Record<ConnectionStateName, number> = { Idle: 0, Connecting: 1, Ready: 2, TransientFailure: 3, Shutdown: 4 };
/** The machines in a pure traversal have no parent to tell and no channel. */
const inertEffects: ConnectionEffects = { open: () => () => undefined, kick: () => undefined, recreate: () => undefined, probe: () => undefined, now: () => 0 };

/** The real runtime, one server 's' under a real supervisor, on a fake channel the test drives, and a simulated clock. */
function systemUnderTest(machineId: string) {
  const clock = new FakeClock();
  // The model's TICK events are the only ticks: the supervisor's own interval never fires.
  clock.setInterval = () => 0;
  const dialer = new FakeDialer(true);
  const recorder = transitionRecorder(machineId);
  const supervisor = new SupervisorHandle<FakeClient>({
    config, dial: dialer.dial, clock, logger: silentLogger, inspect: recorder.inspect, random: () => 0.5, // jitter factor exactly 1
  });
  supervisor.update([{ id: 's', address: 's:1' }]);
  const server = () => supervisor.actor.getSnapshot().context.servers.get('s') as ServerActorRef;
  const children = () => server().getSnapshot().children as unknown as ServerChildren & { breaker: { send(event: unknown): void } };
  const channel = () => dialer.dialled.at(-1) as FakeChannel;
  const client = () => supervisor.clientIfReady('s') as FakeClient | undefined;
  const moveClockTo = (at: number) => clock.advance(at - clock.now());
  return { clock, dialer, recorder, supervisor, server, children, channel, client, moveClockTo };
}

describe('connection machine, model-based, against the rules table', () => {
  const start = new FakeClock().now();
  const input = { serverId: 's', address: 's:1', at: start, jitter: 1, effects: inertEffects, settings: {
    connectTimeoutMs: config.connectTimeoutMs,
    quietMs: config.healthCheckIntervalMs,
    minReconnectIntervalMs: config.minReconnectIntervalMs,
    shutdownBackoffBaseMs: config.shutdownBackoffBaseMs,
    shutdownBackoffMaxMs: config.shutdownBackoffMaxMs,
  } };
  const machine = connectionMachine.provide({ actions: { announce: () => undefined, reportProbe: () => undefined } });
  const logic = timedLogic(machine, input, start);
  type Snap = TimedSnapshot<typeof machine>;

  const events = (snapshot: Snap): ModelEvent[] => [
    ...CONNECTION_STATES.map((state) => ({ type: 'CHANNEL_STATE', state })),
    { type: 'TICK' },
    { type: 'TICK', late: true },
    { type: 'REQUEST_CONNECT' },
    { type: 'REQUEST_CONNECT', late: true },
    { type: 'CALL_OK' },
    // Probe answers exist only while a probe on the current channel is pending.
    ...(snapshot.machine.context.probeInFlight
      ? [{ type: 'PROBE_OK' }, { type: 'PROBE_FAILED', error: 'DEADLINE_EXCEEDED: probe timed out' }]
      : []),
  ];
  const serialize = ({ machine: { value, context: c }, now }: Snap) =>
    JSON.stringify({
      value,
      probeInFlight: c.probeInFlight,
      everReady: c.everReady,
      attemptOld: now - c.attemptStartedAt >= c.settings.connectTimeoutMs,
      callOld: now - c.lastCallOkAt >= c.settings.quietMs,
      requestOld: now - c.lastReconnectRequestAt >= c.settings.minReconnectIntervalMs,
      retryDue: now >= c.retryAt,
    });

  it('has transitions to cover', () => {
    expect(allTransitions(connectionMachine).size).toBeGreaterThan(0);
    expect(CONNECTION_RULES.length).toBeGreaterThan(0);
  });

  it('agrees with the rules table on every edge of the model, replayed on the real actor, covering every transition', async () => {
    const paths = edgePaths(logic, events, serialize);
    const covered = new Set<string>();
    const rulesUsed = new Set<string>();
    for (const path of paths) await replay(path, covered, rulesUsed);
    process.stdout.write(`connection machine: replayed ${paths.length} paths, ${paths.reduce((n, p) => n + p.length, 0)} steps, ${rulesUsed.size} table rows used\n`);
    const missing = reportCoverage('connection machine', covered, allTransitions(connectionMachine));
    expect(missing).toEqual([]);
  });

  async function replay(path: ModelEvent[], covered: Set<string>, rulesUsed: Set<string>): Promise<void> {
    const sut = systemUnderTest('connection');
    sut.recorder.start();
    const oracle = new ConnectionOracle({
      connectTimeoutMs: config.connectTimeoutMs,
      quietMs: config.healthCheckIntervalMs,
      minReconnectIntervalMs: config.minReconnectIntervalMs,
      shutdownBackoffMs: config.shutdownBackoffBaseMs,
    }, sut.clock.now());
    let model = logic.getInitialSnapshot(null as never, input);
    for (const [step, event] of path.entries()) {
      const channel = sut.channel();
      const before = { dialled: sut.dialer.dialled.length, kicks: channel.kicks };
      const probesBefore = probesOn(sut);
      const at = atOf(model.now, event);
      model = logic.transition(model, event, null as never);
      sut.moveClockTo(at);
      const expected = predict(CONNECTION_RULES, oracle, { ...event, type: event.type === 'CHANNEL_STATE' ? `CHANNEL_STATE ${event.state}` : event.type, at });
      rulesUsed.add(expected.rule);
      await perform(sut, event, at);

      const rebuilt = sut.dialer.dialled.length > before.dialled;
      const effects = [
        ...(rebuilt ? ['rebuild'] : []),
        ...(!rebuilt && channel.kicks > before.kicks ? ['kick'] : []),
        ...(probesOn(sut) > probesBefore ? ['probe'] : []),
      ];
      const real = sut.supervisor.snapshot()[0];
      const where = { step, path: path.slice(0, step + 1), rule: expected.rule };
      if (real.state !== expected.to || real.state !== model.machine.value || effects.join() !== expected.effects.join()) {
        // Only built on a mismatch: the path is what makes the failure readable.
        throw new Error(`disagreement: ${JSON.stringify({ state: real.state, machine: model.machine.value, effects, expected, ...where })}`);
      }
      if (rebuilt) expect(sut.dialer.dialled[before.dialled - 1].closed).toBe(true);
      for (const taken of sut.recorder.drain()) covered.add(transitionKey(taken));
    }
    await sut.supervisor.close();
  }

  /** Probes started on the current channel's client (a rebuilt channel has a fresh client). */
  function probesOn(sut: ReturnType<typeof systemUnderTest>): number {
    return currentClientOf(sut.server()).probes.length + probesAnswered;
  }
  let probesAnswered = 0;

  async function perform(sut: ReturnType<typeof systemUnderTest>, event: ModelEvent, at: number): Promise<void> {
    switch (event.type) {
      case 'CHANNEL_STATE': {
        const state = GRPC_STATE[event.state as ConnectionStateName];
        // A closed channel never changes again (the fake, like grpc-js, ignores it).
        if (state === GRPC_STATE.Shutdown) sut.channel().close();
        else sut.channel().setState(state);
        return;
      }
      case 'TICK':
        return sut.supervisor.tick();
      case 'REQUEST_CONNECT':
        return void sut.server().send({ type: 'REQUEST_CONNECT', at });
      case 'CALL_OK':
        return void sut.server().send({ type: 'CALL_OK', at });
      case 'PROBE_OK':
      case 'PROBE_FAILED': {
        const probe = currentClientOf(sut.server()).probes.shift();
        if (!probe) throw new Error('the model has a probe in flight, the runtime has none');
        probesAnswered++;
        if (event.type === 'PROBE_OK') probe.resolve();
        else probe.reject(new Error(String(event.error)));
        return flushPromises();
      }
      default:
        throw new Error(`no adapter for ${event.type}`);
    }
  }
});

describe('breaker machine, model-based, against the rules table', () => {
  const start = new FakeClock().now();
  const settings = {
    failureThreshold: config.breakerFailureThreshold, cooldownMs: config.breakerCooldownMs,
    maxCooldownMs: config.breakerMaxCooldownMs, trialTimeoutMs: config.callTimeoutMs,
  };
  const machine = breakerMachine.provide({ actions: { announce: () => undefined } });
  const logic = timedLogic(machine, { settings }, start);
  type Snap = TimedSnapshot<typeof machine>;
  const events = (): ModelEvent[] => [
    { type: 'FAILURE', error: 'UNAVAILABLE', connected: true },
    { type: 'FAILURE', error: 'UNAVAILABLE', connected: false },
    { type: 'SUCCESS' },
    { type: 'TRIAL_STARTED' },
    { type: 'CONNECTION_LOST' },
    { type: 'RECONNECTED' },
    { type: 'TICK' },
    { type: 'TICK', late: true },
  ];
  const serialize = ({ machine: { value, context: c } }: Snap) =>
    JSON.stringify({ value, failures: c.consecutiveFailures, opens: Math.min(c.opens, 4), lost: c.connectionLost, trial: c.trialStartedAt !== null });

  it('has transitions to cover', () => {
    expect(allTransitions(breakerMachine).size).toBeGreaterThan(0);
    expect(BREAKER_RULES.length).toBeGreaterThan(0);
  });

  it('agrees with the rules table on every edge of the model, replayed on the real actor, covering every transition', async () => {
    const paths = edgePaths(logic, events, serialize);
    const covered = new Set<string>();
    const rulesUsed = new Set<string>();
    for (const path of paths) {
      const sut = systemUnderTest('breaker');
      sut.channel().setState(READY);
      // The breaker is spawned at the server's first failure; a success then leaves it as new.
      sut.server().send({ type: 'CALL_FAILED', at: sut.clock.now(), error: 'UNAVAILABLE' });
      sut.server().send({ type: 'CALL_OK', at: sut.clock.now() });
      expect(sut.children().breaker?.getSnapshot().context).toMatchObject({ consecutiveFailures: 0, opens: 0 });
      sut.recorder.start();
      const oracle = new BreakerOracle(settings);
      let model = logic.getInitialSnapshot(null as never, { settings });
      for (const [step, event] of path.entries()) {
        const at = atOf(model.now, event);
        model = logic.transition(model, event, null as never);
        sut.moveClockTo(at);
        const expected = predict(BREAKER_RULES, oracle, { ...event, at });
        rulesUsed.add(expected.rule);
        // Straight to the real breaker actor, in its real place under its server.
        sut.children().breaker!.send({ ...event, at });
        const real = {
          breaker: sut.children().breaker!.getSnapshot().value,
          // The server heard about it (the breaker's announcement is its one effect).
          serverKnows: sut.server().getSnapshot().context.breaker,
          admits: serverAdmitsTraffic(sut.server()),
        };
        const wanted = { breaker: expected.to, serverKnows: expected.to, admits: breakerAdmitsBySpec(oracle) };
        if (JSON.stringify(real) !== JSON.stringify(wanted)) {
          expect({ ...real, step, path: path.slice(0, step + 1), rule: expected.rule }).toEqual({ ...wanted, step, path: path.slice(0, step + 1), rule: expected.rule });
        }
        for (const taken of sut.recorder.drain()) covered.add(transitionKey(taken));
      }
      await sut.supervisor.close();
    }
    const unused = BREAKER_RULES.map(ruleName).filter((name) => !rulesUsed.has(name));
    expect(unused).toEqual([]);
    const missing = reportCoverage('breaker machine', covered, allTransitions(breakerMachine));
    expect(missing).toEqual([]);
  });
});

/** Lets the runtime's promise callbacks (probe answers) run before the next step. */
function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
