import { assign, enqueueActions, setup } from 'xstate';
import { breakerAdmits, breakerMachine, type BreakerContext, type BreakerReport, type BreakerSettings, type BreakerStateName } from './breaker';
import { connectionMachine, type ConnectionContext, type ConnectionEffects, type ConnectionReport, type ConnectionSettings, type ConnectionStateName } from './connection';

/**
 * One storage server: its connection machine and its circuit breaker machine as children, and the
 * rules that tie them together. Everything from outside (the supervisor's tick, call outcomes, a
 * caller's request to connect) arrives here and is routed to the child it concerns; what the
 * children report comes back here, is mirrored in the context and handed to the runtime.
 * - the connection reaches Ready: the breaker hears RECONNECTED;
 * - the connection drops out of Ready by itself (Idle, TransientFailure, Shutdown), or the
 *   breaker opens while it is not Ready (each FAILURE says whether it is): the breaker counts
 *   the connection lost (so a reconnect may close it; a rebuild after a failed probe is not a
 *   loss);
 * - a probe answer counts for the breaker like a call's.
 *
 * The breaker is spawned at the server's first failure (a failed call or probe), not with the
 * server: until then it would be closed with no failures counted, a state in which every other
 * event leaves it as it is, so nothing is sent to it. A breaker at each of 10,000 servers was
 * a fifth of the time to spawn them (measured), for servers that mostly never fail.
 */
export interface ServerEffects extends ConnectionEffects {
  /** Read the channel's state now and report it if the watch missed a change (on every tick). */
  recheckChannel(): void;
  /** A child entered a new state: log it and tell subscribers. */
  transitioned(change: ServerTransition): void;
}

export interface ServerTransition {
  machine: 'connection' | 'breaker';
  from: string;
  to: string;
  reason: string;
  /** The connection's returns to Ready so far. */
  reconnects: number;
}

export interface ServerSettings {
  connection: ConnectionSettings;
  breaker: BreakerSettings;
}

export interface ServerInput {
  serverId: string;
  address: string;
  at: number;
  /** This server's backoff factor (e.g. 0.8..1.2), so servers shut down together spread out. */
  jitter: number;
  settings: ServerSettings;
  effects: ServerEffects;
}

export interface ServerContext extends ServerInput {
  /** The children's states as they last reported them. */
  connection: ConnectionStateName;
  breaker: BreakerStateName;
  /** The breaker has been spawned (at the first failure; see above). */
  breakerSpawned: boolean;
}

export type ServerEvent =
  | { type: 'REQUEST_CONNECT'; at: number }
  | { type: 'CALL_OK'; at: number }
  | { type: 'CALL_FAILED'; at: number; error: string }
  | { type: 'TRIAL_STARTED'; at: number }
  | ConnectionReport
  | BreakerReport;

const LOST_STATES: ReadonlySet<ConnectionStateName> = new Set(['Idle', 'TransientFailure', 'Shutdown']);

export const serverMachine = setup({
  types: {
    context: {} as ServerContext,
    events: {} as ServerEvent,
    input: {} as ServerInput,
  },
  actors: {
    connection: connectionMachine,
    breaker: breakerMachine,
  },
  actions: {
    requestConnect: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'REQUEST_CONNECT') enqueue.sendTo('connection', { type: 'REQUEST_CONNECT', at: event.at });
    }),
    callSucceeded: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CALL_OK') return;
      enqueue.sendTo('connection', { type: 'CALL_OK', at: event.at });
      if (context.breakerSpawned) enqueue.sendTo('breaker', { type: 'SUCCESS', at: event.at });
    }),
    /** A failed call or probe: the breaker hears it, spawned first if this is the server's first failure. */
    failed: enqueueActions(({ context, event, enqueue }) => {
      const error = event.type === 'CALL_FAILED' ? event.error
        : event.type === 'PROBE_ANSWERED' && event.error !== undefined ? `health probe failed: ${event.error}` : undefined;
      if (error === undefined) return;
      if (!context.breakerSpawned) {
        enqueue.spawnChild('breaker', { id: 'breaker', input: { settings: context.settings.breaker } });
        enqueue.assign({ breakerSpawned: true });
      }
      enqueue.sendTo('breaker', { type: 'FAILURE', at: event.at, error, connected: context.connection === 'Ready' });
    }),
    trialStarted: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'TRIAL_STARTED' && context.breakerSpawned) enqueue.sendTo('breaker', { type: 'TRIAL_STARTED', at: event.at });
    }),
    probeSucceeded: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'PROBE_ANSWERED' && event.error === undefined && context.breakerSpawned) {
        enqueue.sendTo('breaker', { type: 'SUCCESS', at: event.at });
      }
    }),
    connectionEntered: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CONNECTION_ENTERED') return;
      const { at } = event;
      if (context.breakerSpawned) {
        if (event.state === 'Ready') enqueue.sendTo('breaker', { type: 'RECONNECTED', at });
        else if (context.connection === 'Ready' && LOST_STATES.has(event.state)) enqueue.sendTo('breaker', { type: 'CONNECTION_LOST', at });
      }
      enqueue.assign({ connection: event.state });
    }),
    breakerEntered: assign(({ context, event }) => ({ breaker: event.type === 'BREAKER_ENTERED' ? event.state : context.breaker })),
    report: ({ context, event }, params: { machine: ServerTransition['machine'] }) => {
      if (event.type !== 'CONNECTION_ENTERED' && event.type !== 'BREAKER_ENTERED') return;
      const from = params.machine === 'connection' ? context.connection : context.breaker;
      context.effects.transitioned({
        machine: params.machine,
        from,
        to: event.state,
        reason: event.reason,
        reconnects: event.type === 'CONNECTION_ENTERED' ? event.reconnects : 0,
      });
    },
  },
  guards: {
    /** A child announcing the state it is already known to be in (its start) is no change. */
    connectionChanged: ({ context, event }) => event.type === 'CONNECTION_ENTERED' && event.state !== context.connection,
    breakerChanged: ({ context, event }) => event.type === 'BREAKER_ENTERED' && event.state !== context.breaker,
  },
}).createMachine({
  id: 'server',
  // Field by field: spreading the input was a hot spot of spawning 10,000 servers (profile).
  context: ({ input: { serverId, address, at, jitter, settings, effects } }) => ({
    serverId, address, at, jitter, settings, effects, connection: 'Connecting', breaker: 'closed', breakerSpawned: false,
  }),
  invoke: {
    id: 'connection',
    src: 'connection',
    input: ({ context }) => ({
      serverId: context.serverId,
      address: context.address,
      at: context.at,
      jitter: context.jitter,
      settings: context.settings.connection,
      effects: context.effects,
    }),
  },
  on: {
    REQUEST_CONNECT: { actions: 'requestConnect' },
    CALL_OK: { actions: 'callSucceeded' },
    CALL_FAILED: { actions: 'failed' },
    TRIAL_STARTED: { actions: 'trialStarted' },
    PROBE_ANSWERED: { actions: ['probeSucceeded', 'failed'] },
    CONNECTION_ENTERED: { guard: 'connectionChanged', actions: [{ type: 'report', params: { machine: 'connection' } }, 'connectionEntered'] },
    BREAKER_ENTERED: { guard: 'breakerChanged', actions: [{ type: 'report', params: { machine: 'breaker' } }, 'breakerEntered'] },
  },
});

export type ServerMachine = typeof serverMachine;

/** The child actors of a running server actor (the runtime reads their snapshots); the breaker from the first failure on. */
export interface ServerChildren {
  connection: { getSnapshot(): { value: unknown; context: ConnectionContext }; send(event: { type: 'TICK'; at: number }): void };
  breaker?: { getSnapshot(): { value: unknown; context: BreakerContext }; send(event: { type: 'TICK'; at: number }): void };
}



/**
 * The shared tick, for one server: reconcile with the real channel, then tick the connection, and
 * the breaker when it waits on time (cool-down, trial). Not an event of the server machine: at
 * 10,000 servers a server-level step per tick tripled the tick's cost (measured), and the tick
 * changes nothing of the server's own. One tick event is shared by every server of a firing.
 */
export function tickServer(server: { getSnapshot(): { context: ServerContext; children: unknown } }, tick: { type: 'TICK'; at: number }): void {
  const { context, children } = server.getSnapshot();
  context.effects.recheckChannel();
  const { connection, breaker } = children as ServerChildren;
  connection.send(tick);
  if (context.breaker !== 'closed') breaker?.send(tick);
}

/**
 * Ready and admitted by the breaker (half-open admits one trial call at a time), from the states
 * the server mirrors: one snapshot read per server on the hot path, the breaker's only when
 * half-open.
 */
export function serverAdmitsTraffic(server: { getSnapshot(): { context: ServerContext; children: unknown } }): boolean {
  const { context, children } = server.getSnapshot();
  if (context.connection !== 'Ready') return false;
  if (context.breaker === 'closed') return true;
  const { breaker } = children as ServerChildren;
  return context.breaker === 'halfOpen' && breaker !== undefined && breakerAdmits(breaker.getSnapshot());
}
