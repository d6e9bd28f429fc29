import { createActor, fromCallback, type AnyActorRef, type InspectionEvent } from 'xstate';
import { serverMachine, type ServerEffects, type ServerTransition } from '../../machines/server';
import { SUPERVISOR_RULES, supervisorLogic, type ServerActorRef, type SupervisorEvent } from '../../machines/supervisor';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/connection/config';
import { SupervisorHandle } from '../../src/connection/supervisor';
import { FakeClock, FakeDialer, silentLogger, type FakeClient } from '../connection/fakes';
import { allTransitions, edgePaths, reportCoverage, timedLogic, transitionKey, transitionRecorder, type ModelEvent, type TimedSnapshot } from './model';
import { predict, ruleName, SERVER_RULES, ServerOracle } from './rules';

const CONNECTION_STATES = ['Idle', 'Connecting', 'Ready', 'TransientFailure', 'Shutdown'];
const BREAKER_STATES = ['closed', 'open', 'halfOpen'];

describe('server machine, model-based, against the rules table', () => {
  const settings = {
    connection: { connectTimeoutMs: 1, quietMs: 1, minReconnectIntervalMs: 1, shutdownBackoffBaseMs: 1, shutdownBackoffMaxMs: 1 },
    breaker: { failureThreshold: 1, cooldownMs: 1, maxCooldownMs: 1, trialTimeoutMs: 1 },
  };
  const reports: ServerTransition[] = [];
  const effects: ServerEffects = {
    open: () => () => undefined, kick: () => undefined, recreate: () => undefined, probe: () => undefined, now: () => 0,
    recheckChannel: () => undefined, transitioned: (change) => void reports.push(change),
  };
  const input = { serverId: 's', address: 's:1', at: 0, jitter: 1, settings, effects };
  // The children stand still, so what the server forwards is all that happens.
  const inert = fromCallback(() => undefined);
  const machine = serverMachine.provide({ actors: { connection: inert as never, breaker: inert as never } });
  const logic = timedLogic(machine, input, 0);
  type Snap = TimedSnapshot<typeof machine>;
  // A breaker reports only once spawned (at the first failure).
  const events = (snapshot: Snap): ModelEvent[] => [
    { type: 'REQUEST_CONNECT' },
    { type: 'CALL_OK' },
    { type: 'CALL_FAILED', error: 'UNAVAILABLE' },
    { type: 'TRIAL_STARTED' },
    { type: 'PROBE_ANSWERED' },
    { type: 'PROBE_ANSWERED', error: 'DEADLINE_EXCEEDED' },
    ...CONNECTION_STATES.map((state) => ({ type: 'CONNECTION_ENTERED', state, reason: 'model', reconnects: 0 })),
    ...(snapshot.machine.context.breakerSpawned ? BREAKER_STATES.map((state) => ({ type: 'BREAKER_ENTERED', state, reason: 'model' })) : []),
  ];
  const serialize = ({ machine: { context } }: Snap) => `${context.connection}/${context.breaker}/${context.breakerSpawned}`;

  it('has transitions to cover', () => {
    expect(allTransitions(serverMachine).size).toBeGreaterThan(0);
  });

  it('agrees with the rules table on every edge, replayed on a real server actor, covering every transition and row', () => {
    const paths = edgePaths(logic, events, serialize);
    const covered = new Set<string>();
    const rulesUsed = new Set<string>();
    for (const path of paths) {
      const recorder = transitionRecorder('server');
      const forwarded: string[] = [];
      let server: AnyActorRef | undefined;
      const inspect = (event: InspectionEvent) => {
        recorder.inspect(event);
        if (event.type === '@xstate.event' && server && event.sourceRef === server && event.actorRef !== server) {
          const child = (event.actorRef as AnyActorRef).id;
          // A child's init event, sent as it is spawned, is the spawn itself.
          forwarded.push(event.event.type === 'xstate.init' ? `spawn ${child}` : `${child} <- ${event.event.type}${connectedOf(event.event)}`);
        }
      };
      server = createActor(machine, { input, inspect }).start();
      recorder.start();
      const oracle = new ServerOracle();
      for (const [step, event] of path.entries()) {
        const at = step + 1;
        const key = event.type === 'CONNECTION_ENTERED' || event.type === 'BREAKER_ENTERED'
          ? `${event.type} ${event.state}`
          : event.type === 'PROBE_ANSWERED' ? `PROBE_ANSWERED ${event.error ? 'failed' : 'ok'}` : event.type;
        const expected = predict(SERVER_RULES, oracle, { ...event, type: key, at });
        rulesUsed.add(expected.rule);
        forwarded.length = 0;
        reports.length = 0;
        server.send({ ...event, at } as never);
        const context = server.getSnapshot().context;
        const real = {
          state: `${context.connection}/${context.breaker}`,
          breakerSpawned: context.breakerSpawned,
          effects: [...(reports.length ? ['report'] : []), ...forwarded].sort(),
        };
        const wanted = { state: expected.to, breakerSpawned: oracle.breakerSpawned, effects: [...expected.effects].sort() };
        if (JSON.stringify(real) !== JSON.stringify(wanted)) {
          throw new Error(`disagreement: ${JSON.stringify({ real, wanted, rule: expected.rule, path: path.slice(0, step + 1) })}`);
        }
        for (const taken of recorder.drain()) covered.add(transitionKey(taken));
      }
      server.stop();
    }
    expect(SERVER_RULES.map(ruleName).filter((name) => !rulesUsed.has(name))).toEqual([]);
    expect(reportCoverage('server machine', covered, allTransitions(serverMachine))).toEqual([]);
  });
});

/** A FAILURE tells the breaker whether the connection is Ready: part of what is forwarded. */
function connectedOf(event: { type: string; connected?: boolean }): string {
  if (event.type !== 'FAILURE') return '';
  return event.connected ? ' connected' : ' not connected';
}

describe('supervisor, model-based, against its rules', () => {
  /** The specification of a ring change, server by server (independent of planMembership). */
  function expectedRule(running: Map<string, string>, event: SupervisorEvent): string[] {
    if (event.type === 'TICK') return ['tick every server'];
    // A fleet this small is one slice: the timer's firing ticks every server.
    if (event.type === 'TICK_SLICE') return ['tick the next slice of servers'];
    if (event.type === 'SERVER_REMOVED') return [running.has(event.serverId) ? 'stop removed server' : 'ignore removal of unknown server'];
    const wanted = event.type === 'MEMBERSHIP' ? event.servers : [event.server];
    const rules = event.type === 'MEMBERSHIP'
      ? [...running.keys()].filter((id) => !wanted.some((s) => s.id === id)).map(() => 'stop server gone from the membership')
      : [];
    for (const server of wanted) {
      const address = running.get(server.id);
      rules.push(address === undefined ? 'spawn new server' : address === server.address ? 'keep unchanged server' : 'redial moved server');
    }
    return rules;
  }

  const a1 = { id: 'a', address: 'a:1' }, a2 = { id: 'a', address: 'a:2' }, b1 = { id: 'b', address: 'b:1' };
  const EVENTS: SupervisorEvent[] = [
    { type: 'MEMBERSHIP', servers: [] },
    { type: 'MEMBERSHIP', servers: [a1, b1] },
    { type: 'MEMBERSHIP', servers: [a2] },
    { type: 'SERVER_ADDED', server: a1 },
    { type: 'SERVER_ADDED', server: a2 },
    { type: 'SERVER_ADDED', server: b1 },
    { type: 'SERVER_REMOVED', serverId: 'a' },
    { type: 'SERVER_REMOVED', serverId: 'b' },
    { type: 'TICK', at: 0 },
    { type: 'TICK_SLICE', at: 0 },
  ];

  it('has rules to cover', () => {
    expect(SUPERVISOR_RULES.length).toBeGreaterThan(0);
  });

  it('spawns, stops, redials and ticks as the rules say, on every path, covering every rule', async () => {
    // Paths: every sequence of two events from every membership reachable in one event.
    const paths = EVENTS.flatMap((first) => EVENTS.flatMap((second) => EVENTS.map((third) => [first, second, third])));
    const applied = new Set<string>();
    for (const path of paths) {
      const clock = new FakeClock();
      clock.setInterval = () => 0; // the path's TICKs are the only ticks
      const dialer = new FakeDialer();
      const ticks: string[] = [];
      const spawned: string[] = [];
      let handle: SupervisorHandle<FakeClient> | undefined;
      const inspect = (event: InspectionEvent) => {
        const actor = event.actorRef as AnyActorRef;
        if (event.type === '@xstate.event' && event.event.type === 'TICK' && actor.id === 'connection') ticks.push(actor.sessionId);
        // A new child of the supervisor (its children are server actors).
        if (event.type === '@xstate.actor' && actor._parent !== undefined && actor._parent === supervisorActor()) spawned.push(actor.id);
      };
      const supervisorActor = () => handle?.actor;
      const supervisor = new SupervisorHandle<FakeClient>({ config: DEFAULT_CONNECTION_CONFIG, dial: dialer.dial, clock, logger: silentLogger, inspect });
      handle = supervisor;
      const running = new Map<string, string>();
      for (const [step, event] of path.entries()) {
        const rules = expectedRule(running, event);
        const before = { dialled: dialer.dialled.length, open: dialer.open().length, ticks: ticks.length, spawned: spawned.length };
        supervisor.actor.send(event);
        // The oracle's own bookkeeping of what runs where.
        if (event.type === 'MEMBERSHIP') {
          running.clear();
          for (const server of event.servers) running.set(server.id, server.address);
        } else if (event.type === 'SERVER_ADDED') running.set(event.server.id, event.server.address);
        else if (event.type === 'SERVER_REMOVED') running.delete(event.serverId);

        const where = JSON.stringify({ step, path: path.slice(0, step + 1), rules });
        const count = (rule: string) => rules.filter((r) => r === rule).length;
        const newServers = count('spawn new server') + count('redial moved server');
        // Effects: one dial and one child actor (of the supervisor) per new or moved server; a
        // closed channel per stopped or moved server; one tick per running connection.
        expect({ where, dialled: dialer.dialled.length - before.dialled }).toEqual({ where, dialled: newServers });
        expect({ where, spawned: spawned.length - before.spawned }).toEqual({ where, spawned: newServers });
        expect({ where, open: dialer.open().length }).toEqual({ where, open: running.size });
        expect({ where, ticks: ticks.length - before.ticks }).toEqual({ where, ticks: event.type === 'TICK' || event.type === 'TICK_SLICE' ? running.size : 0 });
        expect({ where, servers: supervisor.snapshot().map((s) => `${s.serverId}@${s.address}`).sort() })
          .toEqual({ where, servers: [...running].map(([id, address]) => `${id}@${address}`).sort() });
        const real = supervisor.actor.getSnapshot().context.applied.map((a) => a.rule);
        expect({ where, real: [...real].sort() }).toEqual({ where, real: [...rules].sort() });
        for (const rule of real) applied.add(rule);
      }
      await supervisor.close();
      expect(dialer.open()).toEqual([]);
    }
    process.stdout.write(`supervisor: replayed ${paths.length} paths, covered ${applied.size}/${SUPERVISOR_RULES.length} rules\n`);
    expect(SUPERVISOR_RULES.filter((rule) => !applied.has(rule))).toEqual([]);
  });

  it('its children are server actors whose parent it is, each with its connection and, once it failed, its breaker', () => {
    const supervisor = createActor(supervisorLogic, {
      input: {
        settings: { tickIntervalMs: 1_000, tickSliceServers: 500, server: { connection: { connectTimeoutMs: 1, quietMs: 1, minReconnectIntervalMs: 1, shutdownBackoffBaseMs: 1, shutdownBackoffMaxMs: 1 }, breaker: { failureThreshold: 1, cooldownMs: 1, maxCooldownMs: 1, trialTimeoutMs: 1 } } },
        effects: {
          now: () => 0, every: () => () => undefined, jitter: () => 1,
          dial: () => ({ open: () => () => undefined, kick: () => undefined, recreate: () => undefined, probe: () => undefined, now: () => 0, recheckChannel: () => undefined, transitioned: () => undefined }),
        },
      },
    }).start();
    supervisor.send({ type: 'MEMBERSHIP', servers: [a1, b1] });
    const children = [...supervisor.getSnapshot().context.servers.values()] as ServerActorRef[];
    expect(children.map((child) => (child as unknown as { _parent: unknown })._parent)).toEqual([supervisor, supervisor]);
    expect(children.map((child) => Object.keys(child.getSnapshot().children).sort())).toEqual([['connection'], ['connection']]);
    // A server's breaker is its child too, from its first failure on.
    children[0].send({ type: 'CALL_FAILED', at: 1, error: 'UNAVAILABLE' });
    expect(children.map((child) => Object.keys(child.getSnapshot().children).sort())).toEqual([['breaker', 'connection'], ['connection']]);
    supervisor.stop();
  });
});
