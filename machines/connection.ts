import { assign, fromCallback, sendParent, setup } from 'xstate';

/**
 * One storage server's gRPC channel as a state machine. The five states mirror grpc-js
 * connectivity states; the machine adds what grpc-js lacks: kicking an IDLE channel, a connect
 * timeout (grpc-js has none), health probes of silent READY channels and recreating a channel
 * that was shut down under us. Pure: every effect goes through the `effects` its input carries,
 * every clock reading arrives inside an event (`at`) and there are no timers: time passes through
 * the shared TICK, so every path can be replayed with a fake channel and a simulated clock.
 * It tells its parent (the server machine) every state it enters and every probe answer.
 */
export const CONNECTION_STATES = ['Idle', 'Connecting', 'Ready', 'TransientFailure', 'Shutdown'] as const;
export type ConnectionStateName = (typeof CONNECTION_STATES)[number];

/** What the machine does to the world: one server's channel, given by the runtime. */
export interface ConnectionEffects {
  /**
   * Dial the server's channel, ask it to connect (the machine starts in Connecting), and follow
   * it, calling `report` with every state it enters; returns the function that closes the
   * channel for good.
   */
  open(report: (state: ConnectionStateName, reason?: string) => void): () => void;
  /** Ask an IDLE channel to connect: getConnectivityState(true). */
  kick(): void;
  /** Build a new channel, already asked to connect (so it is CONNECTING), and close the old one. */
  recreate(lastError: string | null): void;
  /** Start a HealthCheck with a deadline; `answer` gets undefined when it answered, the error otherwise. */
  probe(answer: (error: string | undefined) => void): void;
  now(): number;
}

/** What the connection tells its parent. */
export type ConnectionReport =
  | { type: 'CONNECTION_ENTERED'; state: ConnectionStateName; at: number; reason: string; reconnects: number }
  | { type: 'PROBE_ANSWERED'; at: number; error?: string };

export interface ConnectionSettings {
  /** A channel CONNECTING for longer than this is closed and recreated. */
  connectTimeoutMs: number;
  /**
   * A READY channel with no successful call for this long gets a health probe on the tick (probe
   * answers do not count, so a quiet server is probed on every tick).
   */
  quietMs: number;
  /** On-demand reconnects (REQUEST_CONNECT) happen at most once per this many ms. */
  minReconnectIntervalMs: number;
  /** Backoff for recreating an unexpectedly shut-down channel: base x 2^n, capped. */
  shutdownBackoffBaseMs: number;
  shutdownBackoffMaxMs: number;
}

export interface ConnectionInput {
  serverId: string;
  address: string;
  at: number;
  settings: ConnectionSettings;
  effects: ConnectionEffects;
  jitter?: number;
}

export interface ConnectionContext {
  serverId: string;
  address: string;
  settings: ConnectionSettings;
  effects: ConnectionEffects;
  /** When the current state was entered. */
  since: number;
  /** Why the last transition happened (logged with it). */
  reason: string;
  /** Returns to Ready after the first one. */
  reconnects: number;
  everReady: boolean;
  lastError: string | null;
  /** Start of the current connect attempt (reset when the channel is recreated). */
  attemptStartedAt: number;
  /** Last successful call (probe answers do not count: a quiet server is probed on every tick). */
  lastCallOkAt: number;
  /** Last on-demand reconnect, for rate limiting. */
  lastReconnectRequestAt: number;
  /** A probe on the current channel has not answered yet (a replaced channel's answer is dropped). */
  probeInFlight: boolean;
  /** Consecutive recreations while Shutdown (drives the backoff). */
  shutdownRetries: number;
  /** While Shutdown: the first tick at or after this rebuilds the channel. */
  retryAt: number;
  /** This server's backoff factor (e.g. 0.8..1.2), so servers shut down together spread out. */
  jitter: number;
}

export type ConnectionEvent =
  | { type: 'CHANNEL_STATE'; state: ConnectionStateName; at: number; reason?: string }
  | { type: 'TICK'; at: number }
  | { type: 'REQUEST_CONNECT'; at: number }
  | { type: 'PROBE_OK'; at: number }
  | { type: 'PROBE_FAILED'; at: number; error: string }
  | { type: 'CALL_OK'; at: number };

/**
 * Every transition to another state tells the parent, after its context changes (the initial
 * state is no news: the parent starts from it). On transitions, not in entry actions, so the start
 * costs the parent nothing.
 */
const ANNOUNCE_CONNECTING = { type: 'announce', params: { state: 'Connecting' } } as const;

/** Exponential backoff before rebuilding a shut-down channel (the context's jitter scales it). */
export function shutdownBackoffMs(settings: ConnectionSettings, retries: number): number {
  return Math.min(settings.shutdownBackoffMaxMs, settings.shutdownBackoffBaseMs * 2 ** Math.min(retries, 30));
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
  },
  actors: {
    /** The channel for the actor's life: follows it (CHANNEL_STATE events), closes it on stop. */
    channel: fromCallback<ConnectionEvent, { effects: ConnectionEffects }>(({ sendBack, input: { effects } }) =>
      effects.open((state, reason) => sendBack({ type: 'CHANNEL_STATE', state, at: effects.now(), reason })),
    ),
  },
  actions: {
    kickChannel: ({ context }) => context.effects.kick(),
    recreateChannel: ({ context }) => context.effects.recreate(context.lastError),
    /** Answers come back as PROBE_OK / PROBE_FAILED. */
    startProbe: ({ context: { effects }, self }) =>
      effects.probe((error) =>
        self.send(error === undefined ? { type: 'PROBE_OK', at: effects.now() } : { type: 'PROBE_FAILED', at: effects.now(), error }),
      ),
    announce: sendParent(({ context }, params: { state: ConnectionStateName }): ConnectionReport => ({
      type: 'CONNECTION_ENTERED',
      state: params.state,
      at: context.since,
      reason: context.reason,
      reconnects: context.reconnects,
    })),
    reportProbe: sendParent(({ event }): ConnectionReport => ({
      type: 'PROBE_ANSWERED',
      at: event.at,
      ...(event.type === 'PROBE_FAILED' && { error: event.error }),
    })),
    enteredFromChannel: assign(({ event }) => ({
      since: event.at,
      reason: event.type === 'CHANNEL_STATE' ? (event.reason ?? `channel reported ${event.state}`) : event.type,
    })),
    becameReady: assign(({ context, event }) => ({
      reconnects: context.everReady ? context.reconnects + 1 : context.reconnects,
      everReady: true,
      shutdownRetries: 0,
    })),
    startedAttempt: assign(({ event }) => ({ attemptStartedAt: event.at })),
    probeStarted: assign({ probeInFlight: true }),
    probeSucceeded: assign({ probeInFlight: false }),
    probeFailed: assign(({ event }) => ({
      probeInFlight: false,
      lastError: event.type === 'PROBE_FAILED' ? event.error : null,
    })),
    callSucceeded: assign(({ event }) => ({ lastCallOkAt: event.at })),
    reconnectRequested: assign(({ event }) => ({ lastReconnectRequestAt: event.at })),
    connectTimedOut: assign(({ context, event }) => ({
      attemptStartedAt: event.at,
      probeInFlight: false,
      lastError: `connect timed out after ${event.at - context.attemptStartedAt} ms`,
    })),
    scheduledShutdownRetry: assign(({ context, event }) => ({
      retryAt: event.at + shutdownBackoffMs(context.settings, context.shutdownRetries) * context.jitter,
    })),
    recordShutdownRetry: assign(({ context }) => ({ shutdownRetries: context.shutdownRetries + 1 })),
    enteredOnRequest: assign(({ event }) => ({
      since: event.at,
      probeInFlight: false,
      reason: 'a caller needs this server: channel rebuilt at once',
    })),
    enteredAfterBackoff: assign(({ context, event }) => ({
      since: event.at,
      probeInFlight: false,
      reason: `channel was shut down; rebuilt after backoff (attempt ${context.shutdownRetries})`,
    })),
    enteredAfterProbeFailure: assign(({ event }) => ({
      since: event.at,
      reason: `health probe failed (${event.type === 'PROBE_FAILED' ? event.error : event.type}), recreating channel`,
    })),
  },
  guards: {
    channelIs: ({ event }, params: { state: ConnectionStateName }) =>
      event.type === 'CHANNEL_STATE' && event.state === params.state,
    connectTimedOut: ({ context, event }) => event.at - context.attemptStartedAt >= context.settings.connectTimeoutMs,
    probeDue: ({ context, event }) => !context.probeInFlight && event.at - context.lastCallOkAt >= context.settings.quietMs,
    shutdownRetryDue: ({ context, event }) => event.at >= context.retryAt,
    reconnectAllowed: ({ context, event }) =>
      event.at - context.lastReconnectRequestAt >= context.settings.minReconnectIntervalMs,
  },
}).createMachine({
  id: 'connection',
  // A server's channel is dialled already asked to connect, as a rebuilt one is (see `open`): the
  // machine starts in Connecting. Starting in Idle and following the kick from there was a second
  // step for every server spawned, a third of the time to spawn 10,000 (measured).
  initial: 'Connecting',
  context: ({ input }) => ({
    serverId: input.serverId,
    address: input.address,
    settings: input.settings,
    effects: input.effects,
    since: input.at,
    reason: 'channel created',
    reconnects: 0,
    everReady: false,
    lastError: null,
    attemptStartedAt: input.at,
    lastCallOkAt: -Infinity,
    lastReconnectRequestAt: -Infinity,
    probeInFlight: false,
    shutdownRetries: 0,
    retryAt: input.at,
    jitter: input.jitter ?? 1,
  }),
  invoke: { id: 'channel', src: 'channel', input: ({ context }) => ({ effects: context.effects }) },
  on: {
    // Late answers (a probe started in Ready, finishing elsewhere) only update bookkeeping.
    PROBE_OK: { actions: ['probeSucceeded', 'reportProbe'] },
    PROBE_FAILED: { actions: ['probeFailed', 'reportProbe'] },
    CALL_OK: { actions: 'callSucceeded' },
  },
  states: {
    Idle: {
      // An IDLE channel never reconnects by itself (a dropped connection lands here): kick it now
      // rather than a tick later.
      entry: 'kickChannel',
      on: {
        CHANNEL_STATE: channelTransitions('Idle'),
        TICK: { actions: 'kickChannel' },
        REQUEST_CONNECT: { guard: 'reconnectAllowed', actions: ['reconnectRequested', 'kickChannel'] },
      },
    },
    Connecting: {
      on: {
        CHANNEL_STATE: channelTransitions('Connecting'),
        TICK: { guard: 'connectTimedOut', actions: ['connectTimedOut', 'recreateChannel'] },
      },
    },
    Ready: {
      on: {
        CHANNEL_STATE: channelTransitions('Ready'),
        TICK: { guard: 'probeDue', actions: ['probeStarted', 'startProbe'] },
        PROBE_FAILED: {
          target: 'Connecting',
          actions: ['probeFailed', 'reportProbe', 'enteredAfterProbeFailure', 'startedAttempt', 'recreateChannel', ANNOUNCE_CONNECTING],
        },
      },
    },
    TransientFailure: {
      on: {
        CHANNEL_STATE: channelTransitions('TransientFailure'),
        TICK: { actions: 'kickChannel' },
        // grpc-js offers no way to skip its backoff: a caller waiting now gets a fresh channel.
        REQUEST_CONNECT: {
          guard: 'reconnectAllowed',
          target: 'Connecting',
          actions: ['reconnectRequested', 'enteredOnRequest', 'startedAttempt', 'recreateChannel', ANNOUNCE_CONNECTING],
        },
      },
    },
    Shutdown: {
      on: {
        // A closed channel never reports again: only a rebuild leaves Shutdown.
        // If the new channel cannot be built, the tick's reconcile finds Shutdown again and the
        // next, longer backoff applies (shutdownRetries only resets on Ready).
        TICK: {
          guard: 'shutdownRetryDue',
          target: 'Connecting',
          actions: ['recordShutdownRetry', 'enteredAfterBackoff', 'startedAttempt', 'recreateChannel', ANNOUNCE_CONNECTING],
        },
        REQUEST_CONNECT: {
          guard: 'reconnectAllowed',
          target: 'Connecting',
          actions: ['reconnectRequested', 'enteredOnRequest', 'startedAttempt', 'recreateChannel', ANNOUNCE_CONNECTING],
        },
      },
    },
  },
});

/** From `current`, a CHANNEL_STATE naming any other state moves there. */
function channelTransitions(current: ConnectionStateName) {
  return CONNECTION_STATES.filter((state) => state !== current).map((state) => ({
    target: state,
    guard: { type: 'channelIs' as const, params: { state } },
    actions: [
      'enteredFromChannel' as const,
      ...(state === 'Ready' ? (['becameReady'] as const) : []),
      ...(state === 'Connecting' ? (['startedAttempt'] as const) : []),
      ...(state === 'Shutdown' ? (['scheduledShutdownRetry'] as const) : []),
      { type: 'announce' as const, params: { state } },
    ],
  }));
}

export type ConnectionMachine = typeof connectionMachine;
