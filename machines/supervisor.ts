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
 *
 * The shared tick is spread over the interval for a large fleet: the timer fires `slices` times
 * per interval and each firing ticks the next slice of servers, so every server is still ticked
 * (and a quiet Ready one probed) once per interval, but no firing holds the event loop for the
 * whole fleet (10,000 probe starts at once). A fleet of up to `tickSliceServers` is one slice:
 * the timer fires once per interval and ticks everyone, as if there were no slicing.
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
  /** Servers per slice of the tick (see above); the fleet is cut into at most MAX_TICK_SLICES. */
  tickSliceServers: number;
  server: ServerSettings;
}

/** Servers per slice of the tick unless told otherwise: ~500 probe starts hold the loop ~10 ms. */
export const TICK_SLICE_SERVERS = 500;

/** Slices of one tick interval at most (so each firing still has a few hundred ms to itself). */
export const MAX_TICK_SLICES = 20;

/** How many firings one tick interval is cut into for `servers` servers. */
export function tickSlices(servers: number, tickSliceServers: number): number {
  return Math.min(MAX_TICK_SLICES, Math.max(1, Math.ceil(servers / tickSliceServers)));
}

export interface SupervisorInput {
  settings: SupervisorSettings;
  effects: SupervisorEffects;
}

export type SupervisorEvent =
  | { type: 'MEMBERSHIP'; servers: ServerInfo[] }
  | { type: 'SERVER_ADDED'; server: ServerInfo }
  | { type: 'SERVER_REMOVED'; serverId: string }
  /** Tick every server now. */
  | { type: 'TICK'; at: number }
  /** The timer: tick the next slice of servers. */
  | { type: 'TICK_SLICE'; at: number };

export type ServerActorRef = ActorRefFrom<typeof serverMachine>;

/** What the supervisor does with one server for one event. */
export type SupervisorRule =
  | 'spawn new server'
  | 'keep unchanged server'
  | 'redial moved server'
  | 'stop server gone from the membership'
  | 'stop removed server'
  | 'ignore removal of unknown server'
  | 'tick every server'
  | 'tick the next slice of servers';

/** The rules each event may apply, server by server (also the supervisor's description on /admin). */
export const SUPERVISOR_RULES_BY_EVENT: Readonly<Record<SupervisorEvent['type'], readonly SupervisorRule[]>> = {
  MEMBERSHIP: ['spawn new server', 'keep unchanged server', 'redial moved server', 'stop server gone from the membership'],
  SERVER_ADDED: ['spawn new server', 'keep unchanged server', 'redial moved server'],
  SERVER_REMOVED: ['stop removed server', 'ignore removal of unknown server'],
  TICK: ['tick every server'],
  TICK_SLICE: ['tick the next slice of servers'],
};

export const SUPERVISOR_RULES: readonly SupervisorRule[] = [...new Set(Object.values(SUPERVISOR_RULES_BY_EVENT).flat())];

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
    /** Where the spread tick is in its interval (changed in place, like `servers`). */
    round: TickRound;
  };
};

/** One interval of the spread tick: `slices` firings, each ticking its share of the servers. */
interface TickRound {
  /** Firings per interval, the timer's period being tickIntervalMs / slices. */
  slices: number;
  /** Firings of this round so far (0: the next firing starts a round). */
  fired: number;
  /** Servers when the round started: each firing ticks its share of them. */
  size: number;
  ticked: number;
  /** The servers not ticked yet this round (the map's live iterator: stopped ones are skipped, new ones come last). */
  cursor: Iterator<ServerActorRef>;
}

/** The ticker's stop function, per supervisor actor (kept off the snapshot: it is not state). */
const tickers = new WeakMap<AnyActorRef, () => void>();

/** What a tick applied, allocated once (a tick must not allocate per firing what it can share). */
const TICKED_ALL: MembershipPlan['applied'] = [{ serverId: '*', rule: 'tick every server' }];
const TICKED_SLICE: MembershipPlan['applied'] = [{ serverId: '*', rule: 'tick the next slice of servers' }];

export const supervisorLogic: ActorLogic<SupervisorSnapshot, SupervisorEvent, SupervisorInput> = {
  config: { id: 'supervisor' },
  getInitialSnapshot: (_scope, input) => ({
    status: 'active',
    output: undefined,
    error: undefined,
    context: { ...input, servers: new Map(), applied: [], round: { slices: 1, fired: 0, size: 0, ticked: 0, cursor: [].values() } },
  }),
  start: (snapshot, { self }) => armTicker(snapshot, self),
  transition: (snapshot, event, scope) => {
    const stopping = (event as { type: string }).type === 'xstate.stop';
    if (stopping) return stop(snapshot, scope);
    if (snapshot.status !== 'active') return snapshot;
    if (event.type === 'TICK') {
      for (const server of snapshot.context.servers.values()) tickServer(server, event);
      return withApplied(snapshot, TICKED_ALL);
    }
    if (event.type === 'TICK_SLICE') {
      tickSlice(snapshot, event.at, scope.self);
      return withApplied(snapshot, TICKED_SLICE);
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
    // Between rounds, the fleet's new size may call for another number of slices.
    if (snapshot.context.round.fired === 0) armTicker(snapshot, scope.self);
    return withApplied(snapshot, plan.applied);
  },
  getPersistedSnapshot: (snapshot) => snapshot,
};

function withApplied(snapshot: SupervisorSnapshot, applied: MembershipPlan['applied']): SupervisorSnapshot {
  return snapshot.context.applied === applied ? snapshot : { ...snapshot, context: { ...snapshot.context, applied } };
}

/**
 * One firing of the spread tick: the round's next share of servers (the last firing of a round
 * ticks all the round has left, servers added meanwhile included), then, at the round's end, a
 * new period if the fleet's size calls for another number of slices.
 */
function tickSlice(snapshot: SupervisorSnapshot, at: number, self: AnyActorRef): void {
  const { round, servers } = snapshot.context;
  const tick = { type: 'TICK' as const, at };
  if (round.fired === 0) Object.assign(round, { cursor: servers.values(), size: servers.size, ticked: 0 });
  round.fired++;
  const last = round.fired >= round.slices;
  const share = last ? Infinity : Math.ceil((round.fired * round.size) / round.slices);
  for (; round.ticked < share; round.ticked++) {
    const next = round.cursor.next();
    if (next.done) break;
    tickServer(next.value, tick);
  }
  if (!last) return;
  round.fired = 0;
  armTicker(snapshot, self);
}

/** Starts the timer, or restarts it when the fleet's size calls for another number of slices. */
function armTicker(snapshot: SupervisorSnapshot, self: AnyActorRef): void {
  const { effects, settings, servers, round } = snapshot.context;
  const slices = tickSlices(servers.size, settings.tickSliceServers);
  const running = tickers.get(self);
  if (running && slices === round.slices) return;
  running?.();
  round.slices = slices;
  const periodMs = Math.max(1, Math.round(settings.tickIntervalMs / slices));
  tickers.set(self, effects.every(periodMs, () => self.send({ type: 'TICK_SLICE', at: effects.now() })));
}

function stop(snapshot: SupervisorSnapshot, scope: ActorScope<SupervisorSnapshot, SupervisorEvent>): SupervisorSnapshot {
  tickers.get(scope.self)?.();
  for (const server of snapshot.context.servers.values()) scope.stopChild(server);
  snapshot.context.servers.clear();
  return { ...snapshot, status: 'stopped', output: undefined, error: undefined };
}

export type SupervisorLogic = typeof supervisorLogic;
