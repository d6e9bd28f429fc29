/**
 * The oracle: the connection layer's rules written from its specification (docs/connection-layer.md),
 * not from the machines. Each table row is state x event [condition] -> next state and effects.
 * Each oracle keeps its own bookkeeping (times, counts) to decide the conditions, so a machine
 * that disagrees with the table on any generated path fails its model-based test.
 */

export interface Rule<O> {
  from: string | '*';
  event: string;
  /** The condition, in the spec's words (also the row's name in failures). */
  when?: { says: string; holds: (oracle: O, event: OracleEvent) => boolean };
  /** Omitted: the state stays (or is what `note` made it). */
  to?: string;
  effects: string[];
  /** What the oracle itself notes (times, counts) when the row applies. */
  note?: (oracle: O, event: OracleEvent) => void;
}

export interface OracleEvent {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface Prediction {
  to: string;
  effects: string[];
  rule: string;
}

/** The first row that matches; no row means the event changes nothing and does nothing. */
export function predict<O extends { state: string }>(rules: Array<Rule<O>>, oracle: O, event: OracleEvent): Prediction {
  for (const rule of rules) {
    if (rule.from !== '*' && rule.from !== oracle.state) continue;
    if (rule.event !== event.type) continue;
    if (rule.when && !rule.when.holds(oracle, event)) continue;
    rule.note?.(oracle, event);
    if (rule.to) oracle.state = rule.to;
    return { to: oracle.state, effects: rule.effects, rule: ruleName(rule) };
  }
  return { to: oracle.state, effects: [], rule: '(no rule: nothing happens)' };
}

export function ruleName<O>(rule: Rule<O>): string {
  return `${rule.from} --${rule.event}${rule.when ? ` [${rule.when.says}]` : ''}--> ${rule.to ?? '(stays)'}`;
}

// ---------------------------------------------------------------- connection

export interface ConnectionTimings {
  connectTimeoutMs: number;
  quietMs: number;
  minReconnectIntervalMs: number;
  shutdownBackoffMs: number;
}

export class ConnectionOracle {
  /** A new server's channel is dialled already asked to connect. */
  state = 'Connecting';
  attemptStartedAt: number;
  lastCallOkAt = -Infinity;
  lastRequestAt = -Infinity;
  probeOut = false;
  shutdownAt = 0;
  constructor(readonly timings: ConnectionTimings, start: number) {
    this.attemptStartedAt = start;
  }
}

const C = (rows: Array<Rule<ConnectionOracle>>) => rows;
const requestAllowed = {
  says: 'at most one on-demand reconnect per MIN_RECONNECT_INTERVAL_MS',
  holds: (o: ConnectionOracle, e: OracleEvent) => e.at - o.lastRequestAt >= o.timings.minReconnectIntervalMs,
};
const attempt = (o: ConnectionOracle, e: OracleEvent) => void (o.attemptStartedAt = e.at);
const rebuilt = (o: ConnectionOracle, e: OracleEvent) => {
  o.attemptStartedAt = e.at;
  o.probeOut = false;
};
const STATES = ['Idle', 'Connecting', 'Ready', 'TransientFailure', 'Shutdown'];

export const CONNECTION_RULES = C([
  // The channel says where it is: follow it (an IDLE channel is asked to connect at once). A
  // closed channel never reports again: only a rebuild leaves Shutdown.
  ...STATES.filter((from) => from !== 'Shutdown').flatMap((from) =>
    STATES.filter((to) => to !== from).map((to): Rule<ConnectionOracle> => ({
      from,
      event: `CHANNEL_STATE ${to}`,
      to,
      effects: to === 'Idle' ? ['kick'] : [],
      note: (o, e) => {
        if (to === 'Connecting') attempt(o, e);
        if (to === 'Shutdown') o.shutdownAt = e.at;
      },
    })),
  ),
  // The shared tick.
  { from: 'Idle', event: 'TICK', effects: ['kick'] },
  { from: 'TransientFailure', event: 'TICK', effects: ['kick'] },
  {
    from: 'Connecting', event: 'TICK', effects: ['rebuild'], note: rebuilt,
    when: { says: 'connecting for CONNECT_TIMEOUT_MS or longer', holds: (o, e) => e.at - o.attemptStartedAt >= o.timings.connectTimeoutMs },
  },
  {
    from: 'Ready', event: 'TICK', effects: ['probe'], note: (o) => void (o.probeOut = true),
    when: {
      says: 'no probe out and no successful call for a tick interval',
      holds: (o, e) => !o.probeOut && e.at - o.lastCallOkAt >= o.timings.quietMs,
    },
  },
  {
    from: 'Shutdown', event: 'TICK', to: 'Connecting', effects: ['rebuild'], note: rebuilt,
    when: { says: 'the shutdown backoff has passed', holds: (o, e) => e.at - o.shutdownAt >= o.timings.shutdownBackoffMs },
  },
  // A caller needs the server now.
  { from: 'Idle', event: 'REQUEST_CONNECT', when: requestAllowed, effects: ['kick'], note: (o, e) => void (o.lastRequestAt = e.at) },
  ...['TransientFailure', 'Shutdown'].map((from): Rule<ConnectionOracle> => ({
    from, event: 'REQUEST_CONNECT', when: requestAllowed, to: 'Connecting', effects: ['rebuild'],
    note: (o, e) => {
      o.lastRequestAt = e.at;
      rebuilt(o, e);
    },
  })),
  // Probe answers; a failed probe of a Ready channel rebuilds it.
  { from: 'Ready', event: 'PROBE_FAILED', to: 'Connecting', effects: ['rebuild'], note: rebuilt },
  { from: '*', event: 'PROBE_FAILED', effects: [], note: (o) => void (o.probeOut = false) },
  { from: '*', event: 'PROBE_OK', effects: [], note: (o) => void (o.probeOut = false) },
  { from: '*', event: 'CALL_OK', effects: [], note: (o, e) => void (o.lastCallOkAt = e.at) },
]);

// ---------------------------------------------------------------- breaker

export interface BreakerTimings {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
  trialTimeoutMs: number;
}

export class BreakerOracle {
  state = 'closed';
  failures = 0;
  opens = 0;
  openedAt = 0;
  lost = false;
  trialAt: number | null = null;
  constructor(readonly timings: BreakerTimings) {}
}

const opened = (o: BreakerOracle, e: OracleEvent) => {
  o.opens += 1;
  o.openedAt = e.at;
  o.failures = 0;
  // Opening while the connection is not Ready counts as lost.
  o.lost = e.connected === false;
  o.trialAt = null;
};
const closed = (o: BreakerOracle) => {
  o.opens = 0;
  o.failures = 0;
  o.lost = false;
  o.trialAt = null;
};
const wasLost = { says: 'the connection was lost since it opened', holds: (o: BreakerOracle) => o.lost };

export const BREAKER_RULES: Array<Rule<BreakerOracle>> = [
  {
    from: 'closed', event: 'FAILURE', to: 'open', effects: ['announce open'], note: opened,
    when: { says: 'the failures in a row reach the threshold', holds: (o) => o.failures + 1 >= o.timings.failureThreshold },
  },
  { from: 'closed', event: 'FAILURE', effects: [], note: (o) => void (o.failures += 1) },
  { from: 'closed', event: 'SUCCESS', effects: [], note: (o) => void (o.failures = 0) },
  {
    from: 'open', event: 'TICK', to: 'halfOpen', effects: ['announce halfOpen'],
    when: {
      says: 'the cool-down (base x opens, capped) has passed',
      holds: (o, e) => e.at - o.openedAt >= Math.min(o.timings.maxCooldownMs, o.timings.cooldownMs * Math.max(1, o.opens)),
    },
  },
  ...['open', 'halfOpen'].flatMap((from): Array<Rule<BreakerOracle>> => [
    { from, event: 'CONNECTION_LOST', effects: [], note: (o) => void (o.lost = true) },
    { from, event: 'RECONNECTED', when: wasLost, to: 'closed', effects: ['announce closed'], note: closed },
  ]),
  {
    from: 'halfOpen', event: 'TRIAL_STARTED', effects: [], note: (o, e) => void (o.trialAt = e.at),
    when: { says: 'no trial call is out', holds: (o) => o.trialAt === null },
  },
  {
    from: 'halfOpen', event: 'TICK', effects: [], note: (o) => void (o.trialAt = null),
    when: { says: 'the trial call has been out for the trial timeout', holds: (o, e) => o.trialAt !== null && e.at - o.trialAt >= o.timings.trialTimeoutMs },
  },
  { from: 'halfOpen', event: 'SUCCESS', to: 'closed', effects: ['announce closed'], note: closed },
  { from: 'halfOpen', event: 'FAILURE', to: 'open', effects: ['announce open'], note: opened },
];

/** Whether the breaker lets a call through, by the spec: closed, or half-open with no trial out. */
export function breakerAdmitsBySpec(o: BreakerOracle): boolean {
  return o.state === 'closed' || (o.state === 'halfOpen' && o.trialAt === null);
}

// ---------------------------------------------------------------- server

/** The server's state is what it knows of its children: `<connection>/<breaker>`. */
export class ServerOracle {
  state = 'Connecting/closed';
  /** The breaker is spawned at the server's first failure (a failed call or probe); nothing is sent to it before. */
  breakerSpawned = false;
  get connection(): string {
    return this.state.split('/')[0];
  }
  get breaker(): string {
    return this.state.split('/')[1];
  }
}

const LOST = new Set(['Idle', 'TransientFailure', 'Shutdown']);
const connectionNow = (state: string) => (o: ServerOracle) => void (o.state = `${state}/${o.breaker}`);
const breakerNow = (state: string) => (o: ServerOracle) => void (o.state = `${o.connection}/${state}`);

const spawnsBreaker = (o: ServerOracle) => void (o.breakerSpawned = true);
const toBreaker = (effect: string) => effect.startsWith('breaker <- ');

/** A row that tells the breaker something, as two: the breaker spawned, or not yet (then it is not told). */
function onceSpawned(rule: Rule<ServerOracle>): Array<Rule<ServerOracle>> {
  if (!rule.effects.some(toBreaker)) return [rule];
  const also = (says: string, holds: (o: ServerOracle) => boolean): Rule<ServerOracle>['when'] => ({
    says: rule.when ? `${rule.when.says}, ${says}` : says,
    holds: (o, e) => (rule.when?.holds(o, e) ?? true) && holds(o),
  });
  return [
    { ...rule, when: also('the breaker spawned', (o) => o.breakerSpawned) },
    { ...rule, when: also('no breaker yet', (o) => !o.breakerSpawned), effects: rule.effects.filter((effect) => !toBreaker(effect)) },
  ];
}

export const SERVER_RULES: Array<Rule<ServerOracle>> = [
  { from: '*', event: 'REQUEST_CONNECT', effects: ['connection <- REQUEST_CONNECT'] },
  // A failure spawns the breaker if it is the first, and the breaker hears it, with whether the
  // connection is Ready.
  ...['CALL_FAILED', 'PROBE_ANSWERED failed'].flatMap((event) => [true, false].flatMap((ready): Array<Rule<ServerOracle>> => {
    const failure = `breaker <- FAILURE ${ready ? 'connected' : 'not connected'}`;
    const connection = { says: ready ? 'the connection Ready' : 'the connection not Ready', holds: (o: ServerOracle) => (o.connection === 'Ready') === ready };
    return [
      {
        from: '*', event, effects: ['spawn breaker', failure], note: spawnsBreaker,
        when: { says: `the first failure, ${connection.says}`, holds: (o) => !o.breakerSpawned && connection.holds(o) },
      },
      { from: '*', event, effects: [failure], when: { says: connection.says, holds: connection.holds } },
    ];
  })),
  // Everything else the breaker would hear, only once it is spawned.
  ...([
    { from: '*', event: 'CALL_OK', effects: ['connection <- CALL_OK', 'breaker <- SUCCESS'] },
    { from: '*', event: 'TRIAL_STARTED', effects: ['breaker <- TRIAL_STARTED'] },
    { from: '*', event: 'PROBE_ANSWERED ok', effects: ['breaker <- SUCCESS'] },
    // The connection reports a new state: Ready again tells the breaker; dropping out of Ready
    // by itself (not a rebuild) is a lost connection.
    {
      from: '*', event: 'CONNECTION_ENTERED Ready', effects: ['report', 'breaker <- RECONNECTED'], note: connectionNow('Ready'),
      when: { says: 'not Ready before', holds: (o) => o.connection !== 'Ready' },
    },
    ...STATES.filter((state) => state !== 'Ready').flatMap((state): Array<Rule<ServerOracle>> => [
      {
        from: '*', event: `CONNECTION_ENTERED ${state}`, note: connectionNow(state),
        effects: ['report', ...(LOST.has(state) ? ['breaker <- CONNECTION_LOST'] : [])],
        when: { says: 'was Ready', holds: (o) => o.connection === 'Ready' },
      },
      {
        from: '*', event: `CONNECTION_ENTERED ${state}`, effects: ['report'], note: connectionNow(state),
        when: { says: `was neither Ready nor ${state}`, holds: (o) => o.connection !== state },
      },
    ]),
  ] as Array<Rule<ServerOracle>>).flatMap(onceSpawned),
  // The breaker reports a new state.
  ...['closed', 'open', 'halfOpen'].map((state): Rule<ServerOracle> => ({
    from: '*', event: `BREAKER_ENTERED ${state}`, effects: ['report'], note: breakerNow(state),
    when: { says: `was not ${state}`, holds: (o) => o.breaker !== state },
  })),
];
