import { breakerMachine } from '../../machines/breaker';
import { CONNECTION_STATES, connectionMachine, type ConnectionStateName } from '../../machines/connection';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/connection/config';
import { ServerConnection } from '../../src/connection/server-connection';
import { FakeClient, FakeClock, FakeDialer, IDLE, READY, silentLogger } from '../connection/fakes';
import { allTransitions, atOf, edgePaths, reportCoverage, timedLogic, transitionKey, transitionRecorder, type ModelEvent, type TimedSnapshot } from './model';

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
};
const GRPC_STATE: Record<ConnectionStateName, number> = { Idle: 0, Connecting: 1, Ready: 2, TransientFailure: 3, Shutdown: 4 };

/** The real runtime for one server, on a fake channel the test drives, and a simulated clock. */
function systemUnderTest(machineId: string) {
  const clock = new FakeClock();
  const dialer = new FakeDialer(true);
  const recorder = transitionRecorder(machineId);
  const connection = new ServerConnection<FakeClient>({
    server: { id: 's', address: 's:1' },
    dial: dialer.dial,
    config,
    clock,
    logger: silentLogger,
    onTransition: () => undefined,
    inspect: recorder.inspect,
    random: () => 0.5, // jitter factor exactly 1
  });
  connection.start();
  const channel = () => connection.link.channel as unknown as import('../connection/fakes').FakeChannel;
  const moveClockTo = (at: number) => clock.advance(at - clock.now());
  return { clock, dialer, recorder, connection, channel, moveClockTo };
}

describe('connection machine, model-based', () => {
  const start = new FakeClock().now();
  const input = { serverId: 's', address: 's:1', at: start, jitter: 1, settings: {
    connectTimeoutMs: config.connectTimeoutMs,
    probeIntervalMs: config.healthCheckIntervalMs,
    minReconnectIntervalMs: config.minReconnectIntervalMs,
    shutdownBackoffBaseMs: config.shutdownBackoffBaseMs,
    shutdownBackoffMaxMs: config.shutdownBackoffMaxMs,
  } };
  const logic = timedLogic(connectionMachine, input, start);
  type Snap = TimedSnapshot<typeof connectionMachine>;

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
      activityOld: now - c.lastActivityAt >= c.settings.probeIntervalMs,
      requestOld: now - c.lastReconnectRequestAt >= c.settings.minReconnectIntervalMs,
      retryDue: now >= c.retryAt,
    });

  it('replays every edge of the model on the real actor and covers every transition', async () => {
    const paths = edgePaths(logic, events, serialize);
    const covered = new Set<string>();
    for (const path of paths) await replay(path, covered);
    process.stdout.write(`connection machine: replayed ${paths.length} paths, ${paths.reduce((n, p) => n + p.length, 0)} steps\n`);
    const missing = reportCoverage('connection machine', covered, allTransitions(connectionMachine));
    expect(missing).toEqual([]);
  });

  async function replay(path: ModelEvent[], covered: Set<string>): Promise<void> {
    const sut = systemUnderTest('connection');
    sut.recorder.start();
    let model = logic.getInitialSnapshot(null as never, input);
    for (const event of path) {
      const before = { dialled: sut.dialer.dialled.length, kicks: sut.channel().kicks, client: sut.connection.link.client };
      const at = atOf(model.now, event);
      model = logic.transition(model, event, null as never);
      sut.moveClockTo(at);
      await perform(sut, event, at);

      const real = sut.connection.snapshot();
      const { reconnects, lastError, since } = model.machine.context;
      if (real.state !== model.machine.value || real.reconnects !== reconnects || real.lastError !== lastError || real.since !== since) {
        // Only built on a mismatch: the path is what makes the failure readable.
        expect({ ...real, path }).toEqual({ ...real, state: model.machine.value, reconnects, lastError, since, path });
      }
      for (const taken of sut.recorder.drain()) {
        covered.add(transitionKey(taken));
        const actions = taken.actions.map((action) => (typeof action === 'string' ? action : (action as { type?: string }).type));
        // The effects the transition asked for really happened.
        if (actions.includes('recreateChannel')) {
          expect(sut.dialer.dialled.length).toBe(before.dialled + 1);
          expect(sut.dialer.dialled[before.dialled - 1].closed).toBe(true);
        }
        if (actions.includes('kickChannel')) expect(sut.dialer.dialled.at(-1)!.kicks).toBeGreaterThan(before.kicks);
        if (actions.includes('startProbe')) expect((sut.connection.link.client as FakeClient).probes.length).toBe(1);
      }
    }
    sut.connection.retire();
  }

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
        return sut.connection.tick(at);
      case 'REQUEST_CONNECT':
        return sut.connection.requestConnect(at);
      case 'CALL_OK':
        return sut.connection.recordSuccess(at);
      case 'PROBE_OK':
      case 'PROBE_FAILED': {
        const probe = (sut.connection.link.client as FakeClient).probes.shift();
        if (!probe) throw new Error('the model has a probe in flight, the runtime has none');
        if (event.type === 'PROBE_OK') probe.resolve();
        else probe.reject(new Error(String(event.error)));
        return flushPromises();
      }
      default:
        throw new Error(`no adapter for ${event.type}`);
    }
  }
});

describe('breaker machine, model-based', () => {
  const start = new FakeClock().now();
  const input = { settings: { failureThreshold: config.breakerFailureThreshold, cooldownMs: config.breakerCooldownMs, maxCooldownMs: config.breakerMaxCooldownMs } };
  const logic = timedLogic(breakerMachine, input, start);
  type Snap = TimedSnapshot<typeof breakerMachine>;
  const events = (): ModelEvent[] => [
    { type: 'FAILURE', error: 'UNAVAILABLE' },
    { type: 'SUCCESS' },
    { type: 'RECONNECTED' },
    { type: 'TICK' },
    { type: 'TICK', late: true },
  ];
  const serialize = ({ machine: { value, context: c } }: Snap) =>
    JSON.stringify({ value, failures: c.consecutiveFailures, opens: Math.min(c.opens, 4) });

  it('replays every edge of the model on the real actor and covers every transition', () => {
    const paths = edgePaths(logic, events, serialize);
    const covered = new Set<string>();
    for (const path of paths) {
      const sut = systemUnderTest('breaker');
      sut.channel().setState(READY);
      sut.recorder.start();
      let model = logic.getInitialSnapshot(null as never, input);
      for (const event of path) {
        const at = atOf(model.now, event);
        model = logic.transition(model, event, null as never);
        sut.moveClockTo(at);
        if (event.type === 'FAILURE') sut.connection.recordFailure(at, new Error(String(event.error)));
        else if (event.type === 'SUCCESS') sut.connection.recordSuccess(at);
        else if (event.type === 'TICK') sut.connection.tick(at);
        else {
          // A good reconnect: the channel drops and comes back.
          sut.channel().setState(IDLE);
          sut.channel().setState(READY);
        }
        expect({ breaker: sut.connection.snapshot().breaker, path }).toEqual({ breaker: model.machine.value, path });
        for (const taken of sut.recorder.drain()) covered.add(transitionKey(taken));
      }
      sut.connection.retire();
    }
    const missing = reportCoverage('breaker machine', covered, allTransitions(breakerMachine));
    expect(missing).toEqual([]);
  });
});

/** Lets the runtime's promise callbacks (probe answers) run before the next step. */
function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
