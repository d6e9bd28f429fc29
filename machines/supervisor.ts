import { createActor, type ActorLogic, type ActorRefFrom, type ActorScope, type AnyActorRef, type Snapshot } from 'xstate';
import { serverMachine, tickServer, type ServerEffects, type ServerSettings } from './server';

/**
 * The supervisor: one server actor per storage server in the ring, as its children. Ring changes
 * arrive as events (the whole membership, one server added, one removed); a server whose address
 * changed is stopped and spawned again, so it dials the new address. It owns the shared tick and
 * sends it to every server.
 *
 * Custom actor logic rather than a state machine, because of cost at scale: a machine keeps its
 * children in an immutable map that spawnChild and stopChild copy on every call, so one change
 * among N servers costs O(N), and stopping a machine with N children stops them one stopChild at
 * a time: O(N^2), a minute for 10,000 (measured). Here the children live in one map owned by the
 * snapshot and changed in place: a change costs the same whatever N. The children are still
 * real XState actors with the supervisor as their parent, so the inspector shows the tree.
 *
 * What the supervisor does is decided by `planMembership` (pure) and the rules in
 * SUPERVISOR_RULES; the transition only carries the plan out.
 */
export interface ServerInfo {
  id: string;
  /** host:port of its gRPC endpoint. */
  address: string;
}

export interface SupervisorEffects {
  now(): number;
  /** Calls `tick` every `ms` ms until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
  /** The effects of a new server actor: its channel, probes and reports (dialled when it starts). */
  dial(server: ServerInfo): ServerEffects;
  /** This server's backoff factor (e.g. 0.8..1.2). */
  jitter(): number;
}

export interface SupervisorSettings {
  tickIntervalMs: number;
  server: ServerSettings;
}

export interface SupervisorInput {
  settings: SupervisorSettings;
  effects: SupervisorEffects;
}

export type SupervisorEvent =
  | { type: 'MEMBERSHIP'; servers: ServerInfo[] }
  | { type: 'SERVER_ADDED'; server: ServerInfo }
  | { type: 'SERVER_REMOVED'; serverId: string }
  | { type: 'TICK'; at: number };

export type ServerActorRef = ActorRefFrom<typeof serverMachine>;

/** What the supervisor does with one server for one event. */
export type SupervisorRule =
  | 'spawn new server'
  | 'keep unchanged server'
  | 'redial moved server'
  | 'stop server gone from the membership'
  | 'stop removed server'
  | 'ignore removal of unknown server'
  | 'tick every server';

export const SUPERVISOR_RULES: readonly SupervisorRule[] = [
  'spawn new server',
  'keep unchanged server',
  'redial moved server',
  'stop server gone from the membership',
  'stop removed server',
  'ignore removal of unknown server',
  'tick every server',
];

export interface MembershipPlan {
  stop: string[];
  spawn: ServerInfo[];
  /** Each server the event concerned, with the rule applied to it. */
  applied: Array<{ serverId: string; rule: SupervisorRule }>;
}

/** What a ring change means for the running servers (`addressOf` an id, undefined if none runs). Pure. */
export function planMembership(
  running: { keys(): Iterable<string>; has(id: string): boolean },
  addressOf: (id: string) => string | undefined,
  event: SupervisorEvent,
): MembershipPlan {
  const plan: MembershipPlan = { stop: [], spawn: [], applied: [] };
  const consider = (server: ServerInfo) => {
    const address = addressOf(server.id);
    if (address === server.address) return void plan.applied.push({ serverId: server.id, rule: 'keep unchanged server' });
    if (address !== undefined) plan.stop.push(server.id);
    plan.spawn.push(server);
    plan.applied.push({ serverId: server.id, rule: address === undefined ? 'spawn new server' : 'redial moved server' });
  };
  if (event.type === 'MEMBERSHIP') {
    const wanted = new Set(event.servers.map((server) => server.id));
    for (const id of running.keys()) {
      if (wanted.has(id)) continue;
      plan.stop.push(id);
      plan.applied.push({ serverId: id, rule: 'stop server gone from the membership' });
    }
    for (const server of event.servers) consider(server);
  } else if (event.type === 'SERVER_ADDED') {
    consider(event.server);
  } else if (event.type === 'SERVER_REMOVED') {
    const known = running.has(event.serverId);
    if (known) plan.stop.push(event.serverId);
    plan.applied.push({ serverId: event.serverId, rule: known ? 'stop removed server' : 'ignore removal of unknown server' });
  }
  return plan;
}

export type SupervisorSnapshot = Snapshot<undefined> & {
  context: SupervisorInput & {
    /** The server actors by id: one map, changed in place (see above). */
    servers: Map<string, ServerActorRef>;
    /** The rules the last event applied (the model-based tests check them against their table). */
    applied: MembershipPlan['applied'];
  };
};

/** The ticker's stop function, per supervisor actor (kept off the snapshot: it is not state). */
const tickers = new WeakMap<AnyActorRef, () => void>();

export const supervisorLogic: ActorLogic<SupervisorSnapshot, SupervisorEvent, SupervisorInput> = {
  config: { id: 'supervisor' },
  getInitialSnapshot: (_scope, input) => ({
    status: 'active',
    output: undefined,
    error: undefined,
    context: { ...input, servers: new Map(), applied: [] },
  }),
  start: (snapshot, { self }) => {
    const { effects, settings } = snapshot.context;
    tickers.set(self, effects.every(settings.tickIntervalMs, () => self.send({ type: 'TICK', at: effects.now() })));
  },
  transition: (snapshot, event, scope) => {
    const stopping = (event as { type: string }).type === 'xstate.stop';
    if (stopping) return stop(snapshot, scope);
    if (snapshot.status !== 'active') return snapshot;
    if (event.type === 'TICK') {
      for (const server of snapshot.context.servers.values()) tickServer(server, event.at);
      return { ...snapshot, context: { ...snapshot.context, applied: [{ serverId: '*', rule: 'tick every server' }] } };
    }
    const { servers, effects, settings } = snapshot.context;
    const plan = planMembership(servers, (id) => servers.get(id)?.getSnapshot().context.address, event);
    for (const id of plan.stop) {
      scope.stopChild(servers.get(id)!);
      servers.delete(id);
    }
    const at = effects.now();
    for (const server of plan.spawn) {
      const child = createActor(serverMachine, {
        id: server.id,
        parent: scope.self,
        input: { serverId: server.id, address: server.address, at, jitter: effects.jitter(), settings: settings.server, effects: effects.dial(server) },
      });
      servers.set(server.id, child);
      child.start();
    }
    return { ...snapshot, context: { ...snapshot.context, applied: plan.applied } };
  },
  getPersistedSnapshot: (snapshot) => snapshot,
};

function stop(snapshot: SupervisorSnapshot, scope: ActorScope<SupervisorSnapshot, SupervisorEvent>): SupervisorSnapshot {
  tickers.get(scope.self)?.();
  for (const server of snapshot.context.servers.values()) scope.stopChild(server);
  snapshot.context.servers.clear();
  return { ...snapshot, status: 'stopped', output: undefined, error: undefined };
}

export type SupervisorLogic = typeof supervisorLogic;
