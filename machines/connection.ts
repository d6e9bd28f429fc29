import { assign, fromCallback, setup } from 'xstate';

/**
 * One storage server's gRPC channel as a state machine. The five states mirror grpc-js
 * connectivity states; the machine adds what grpc-js lacks: kicking an IDLE channel, a connect
 * timeout (grpc-js has none), health probes of silent READY channels and recreating a channel
 * that was shut down under us. Pure: every effect is a named action the runtime provides, every
 * clock reading arrives inside an event (`at`) and there are no timers: time passes through the
 * shared TICK, so every path can be replayed with a fake channel and a simulated clock.
 */
export const CONNECTION_STATES = ['Idle', 'Connecting', 'Ready', 'TransientFailure', 'Shutdown'] as const;
export type ConnectionStateName = (typeof CONNECTION_STATES)[number];

export interface ConnectionSettings {
  /** A channel CONNECTING for longer than this is closed and recreated. */
  connectTimeoutMs: number;
  /** A READY channel with no successful call for this long gets a health probe on the tick. */
  probeIntervalMs: number;
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
  jitter?: number;
}

export interface ConnectionContext {
  serverId: string;
  address: string;
  settings: ConnectionSettings;
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
  /** Last proof the server answers: a successful call or probe, or the moment it became Ready. */
  lastActivityAt: number;
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
    /** Follows the channel (watchConnectivityState loop) and sends CHANNEL_STATE events. */
    channelWatcher: fromCallback<ConnectionEvent, { serverId: string }>(() => {}),
  },
  actions: {
    /** Ask an IDLE channel to connect: getConnectivityState(true). */
    kickChannel: () => {},
    /** Build a new channel, already asked to connect (so it is CONNECTING), and close the old one. */
    recreateChannel: () => {},
    /** Start a HealthCheck with a deadline; answers come back as PROBE_OK / PROBE_FAILED. */
    startProbe: () => {},
    enteredFromChannel: assign(({ event }) => ({
      since: event.at,
      reason: event.type === 'CHANNEL_STATE' ? (event.reason ?? `channel reported ${event.state}`) : event.type,
    })),
    becameReady: assign(({ context, event }) => ({
      reconnects: context.everReady ? context.reconnects + 1 : context.reconnects,
      everReady: true,
      lastActivityAt: event.at,
      shutdownRetries: 0,
    })),
    startedAttempt: assign(({ event }) => ({ attemptStartedAt: event.at })),
    probeStarted: assign({ probeInFlight: true }),
    probeSucceeded: assign(({ event }) => ({ probeInFlight: false, lastActivityAt: event.at })),
    probeFailed: assign(({ event }) => ({
      probeInFlight: false,
      lastError: event.type === 'PROBE_FAILED' ? event.error : null,
    })),
    callSucceeded: assign(({ event }) => ({ lastActivityAt: event.at })),
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
    probeDue: ({ context, event }) =>
      !context.probeInFlight && event.at - context.lastActivityAt >= context.settings.probeIntervalMs,
    shutdownRetryDue: ({ context, event }) => event.at >= context.retryAt,
    reconnectAllowed: ({ context, event }) =>
      event.at - context.lastReconnectRequestAt >= context.settings.minReconnectIntervalMs,
  },
}).createMachine({
  id: 'connection',
  initial: 'Idle',
  context: ({ input }) => ({
    serverId: input.serverId,
    address: input.address,
    settings: input.settings,
    since: input.at,
    reason: 'channel created',
    reconnects: 0,
    everReady: false,
    lastError: null,
    attemptStartedAt: input.at,
    lastActivityAt: input.at,
    lastReconnectRequestAt: -Infinity,
    probeInFlight: false,
    shutdownRetries: 0,
    retryAt: input.at,
    jitter: input.jitter ?? 1,
  }),
  invoke: { id: 'channelWatcher', src: 'channelWatcher', input: ({ context }) => ({ serverId: context.serverId }) },
  on: {
    // Late answers (a probe started in Ready, finishing elsewhere) only update bookkeeping.
    PROBE_OK: { actions: 'probeSucceeded' },
    PROBE_FAILED: { actions: 'probeFailed' },
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
          actions: ['probeFailed', 'enteredAfterProbeFailure', 'startedAttempt', 'recreateChannel'],
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
          actions: ['reconnectRequested', 'enteredOnRequest', 'startedAttempt', 'recreateChannel'],
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
          actions: ['recordShutdownRetry', 'enteredAfterBackoff', 'startedAttempt', 'recreateChannel'],
        },
        REQUEST_CONNECT: {
          guard: 'reconnectAllowed',
          target: 'Connecting',
          actions: ['reconnectRequested', 'enteredOnRequest', 'startedAttempt', 'recreateChannel'],
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
    ],
  }));
}

export type ConnectionMachine = typeof connectionMachine;
