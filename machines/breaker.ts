import { assign, sendParent, setup } from 'xstate';

/**
 * Circuit breaker for one storage server (Envoy outlier detection style): opens after
 * `failureThreshold` consecutive failed calls, half-opens after a cool-down of base x n (n =
 * consecutive opens, capped), and closes on a successful call or probe while half-open. Half-open
 * admits one trial call at a time; the rest of the traffic goes elsewhere until it answers.
 * A reconnect closes it only when the connection was lost while it was open (the failures were
 * the lost connection's); a breaker opened by a connected server failing its RPCs waits for a
 * successful call or probe. Time arrives in events (`at`), so the cool-down is checked on the
 * shared tick. It tells its parent (the server machine) every state it moves to.
 */
export const BREAKER_STATES = ['closed', 'open', 'halfOpen'] as const;
export type BreakerStateName = (typeof BREAKER_STATES)[number];

export interface BreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
  /** A trial call that has not answered after this long no longer blocks the next one. */
  trialTimeoutMs: number;
}

export interface BreakerInput {
  settings: BreakerSettings;
}

export interface BreakerContext {
  settings: BreakerSettings;
  consecutiveFailures: number;
  /** Consecutive opens without closing in between; grows the cool-down. */
  opens: number;
  openedAt: number;
  /** The connection was lost since the breaker opened: a reconnect may close it. */
  connectionLost: boolean;
  /** While half-open: when the one admitted trial call started, or null when none is out. */
  trialStartedAt: number | null;
  reason: string;
}

export type BreakerEvent =
  /** `connected`: the server's connection is Ready; a failure that opens the breaker otherwise counts as the connection lost. */
  | { type: 'FAILURE'; at: number; error: string; connected: boolean }
  | { type: 'SUCCESS'; at: number }
  | { type: 'TRIAL_STARTED'; at: number }
  | { type: 'CONNECTION_LOST'; at: number }
  | { type: 'RECONNECTED'; at: number }
  | { type: 'TICK'; at: number };

export type BreakerReport = { type: 'BREAKER_ENTERED'; state: BreakerStateName; at: number; reason: string };

export function breakerCooldownMs(settings: BreakerSettings, opens: number): number {
  return Math.min(settings.maxCooldownMs, settings.cooldownMs * Math.max(1, opens));
}

/** Whether a breaker in this snapshot lets a call through: closed, or half-open with no trial out. */
export function breakerAdmits(snapshot: { value: unknown; context: BreakerContext }): boolean {
  return snapshot.value === 'closed' || (snapshot.value === 'halfOpen' && snapshot.context.trialStartedAt === null);
}

export const breakerMachine = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerInput,
  },
  actions: {
    countFailure: assign(({ context }) => ({ consecutiveFailures: context.consecutiveFailures + 1 })),
    resetFailures: assign({ consecutiveFailures: 0 }),
    opened: assign(({ context, event }) => ({
      opens: context.opens + 1,
      openedAt: event.at,
      consecutiveFailures: 0,
      connectionLost: event.type === 'FAILURE' && !event.connected,
      trialStartedAt: null,
      reason: event.type === 'FAILURE' ? `call failed: ${event.error}` : 'failure',
    })),
    connectionLost: assign({ connectionLost: true }),
    halfOpened: assign(({ context }) => ({
      reason: `cool-down of ${breakerCooldownMs(context.settings, context.opens)} ms elapsed`,
    })),
    trialStarted: assign(({ event }) => ({ trialStartedAt: event.at })),
    trialAbandoned: assign({ trialStartedAt: null }),
    closed: assign(({ event }) => ({
      opens: 0,
      consecutiveFailures: 0,
      connectionLost: false,
      trialStartedAt: null,
      reason: event.type === 'RECONNECTED' ? 'reconnected after the connection was lost' : 'a call or probe succeeded',
    })),
    announce: sendParent(({ context, event }, params: { state: BreakerStateName }): BreakerReport => ({
      type: 'BREAKER_ENTERED',
      state: params.state,
      at: event.at,
      reason: context.reason,
    })),
  },
  guards: {
    reachesThreshold: ({ context }) => context.consecutiveFailures + 1 >= context.settings.failureThreshold,
    hasFailures: ({ context }) => context.consecutiveFailures > 0,
    cooldownElapsed: ({ context, event }) =>
      event.at - context.openedAt >= breakerCooldownMs(context.settings, context.opens),
    noTrialOut: ({ context }) => context.trialStartedAt === null,
    trialTimedOut: ({ context, event }) =>
      context.trialStartedAt !== null && event.at - context.trialStartedAt >= context.settings.trialTimeoutMs,
    connectionWasLost: ({ context }) => context.connectionLost,
  },
}).createMachine({
  id: 'breaker',
  initial: 'closed',
  context: ({ input }) => ({
    settings: input.settings,
    consecutiveFailures: 0,
    opens: 0,
    openedAt: 0,
    connectionLost: false,
    trialStartedAt: null,
    reason: 'created',
  }),
  states: {
    closed: {
      on: {
        FAILURE: [
          { guard: 'reachesThreshold', target: 'open', actions: ['opened', { type: 'announce', params: { state: 'open' } }] },
          { actions: 'countFailure' },
        ],
        SUCCESS: { guard: 'hasFailures', actions: 'resetFailures' },
      },
    },
    open: {
      // Failures and successes of calls still in flight from before the open are not attempts.
      on: {
        TICK: { guard: 'cooldownElapsed', target: 'halfOpen', actions: ['halfOpened', { type: 'announce', params: { state: 'halfOpen' } }] },
        CONNECTION_LOST: { actions: 'connectionLost' },
        RECONNECTED: { guard: 'connectionWasLost', target: 'closed', actions: ['closed', { type: 'announce', params: { state: 'closed' } }] },
      },
    },
    halfOpen: {
      on: {
        TRIAL_STARTED: { guard: 'noTrialOut', actions: 'trialStarted' },
        TICK: { guard: 'trialTimedOut', actions: 'trialAbandoned' },
        SUCCESS: { target: 'closed', actions: ['closed', { type: 'announce', params: { state: 'closed' } }] },
        FAILURE: { target: 'open', actions: ['opened', { type: 'announce', params: { state: 'open' } }] },
        CONNECTION_LOST: { actions: 'connectionLost' },
        RECONNECTED: { guard: 'connectionWasLost', target: 'closed', actions: ['closed', { type: 'announce', params: { state: 'closed' } }] },
      },
    },
  },
});

export type BreakerMachine = typeof breakerMachine;
