import { assign, setup } from 'xstate';

/**
 * Circuit breaker for one storage server (Envoy outlier detection style): opens after
 * `failureThreshold` consecutive failed calls, half-opens after a cool-down of base x n (n =
 * consecutive opens, capped), closes on a success while half-open or on a good reconnect.
 * Time arrives in events (`at`), so the cool-down is checked on the shared tick.
 */
export interface BreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
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
  reason: string;
}

export type BreakerEvent =
  | { type: 'FAILURE'; at: number; error: string }
  | { type: 'SUCCESS'; at: number }
  | { type: 'RECONNECTED'; at: number }
  | { type: 'TICK'; at: number };

export function breakerCooldownMs(settings: BreakerSettings, opens: number): number {
  return Math.min(settings.maxCooldownMs, settings.cooldownMs * Math.max(1, opens));
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
      reason: event.type === 'FAILURE' ? `call failed: ${event.error}` : 'failure',
    })),
    halfOpened: assign(({ context }) => ({
      reason: `cool-down of ${breakerCooldownMs(context.settings, context.opens)} ms elapsed`,
    })),
    closed: assign(({ event }) => ({
      opens: 0,
      consecutiveFailures: 0,
      reason: event.type === 'RECONNECTED' ? 'reconnected' : 'trial call succeeded',
    })),
  },
  guards: {
    reachesThreshold: ({ context }) => context.consecutiveFailures + 1 >= context.settings.failureThreshold,
    cooldownElapsed: ({ context, event }) =>
      event.at - context.openedAt >= breakerCooldownMs(context.settings, context.opens),
  },
}).createMachine({
  id: 'breaker',
  initial: 'closed',
  context: ({ input }) => ({
    settings: input.settings,
    consecutiveFailures: 0,
    opens: 0,
    openedAt: 0,
    reason: 'created',
  }),
  states: {
    closed: {
      on: {
        FAILURE: [
          { guard: 'reachesThreshold', target: 'open', actions: 'opened' },
          { actions: 'countFailure' },
        ],
        SUCCESS: { actions: 'resetFailures' },
        RECONNECTED: { actions: 'resetFailures' },
      },
    },
    open: {
      // Failures and successes of calls still in flight from before the open are not attempts.
      on: {
        TICK: { guard: 'cooldownElapsed', target: 'halfOpen', actions: 'halfOpened' },
        RECONNECTED: { target: 'closed', actions: 'closed' },
      },
    },
    halfOpen: {
      on: {
        SUCCESS: { target: 'closed', actions: 'closed' },
        FAILURE: { target: 'open', actions: 'opened' },
        RECONNECTED: { target: 'closed', actions: 'closed' },
      },
    },
  },
});

export type BreakerMachine = typeof breakerMachine;
