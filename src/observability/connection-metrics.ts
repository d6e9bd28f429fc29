import type { ConnectionSupervisor, TransitionEvent } from '../connection/types';
import type { Metrics } from './metrics';

/**
 * Keeps the connection and breaker metrics in step with the supervisor: state gauges are read from
 * the supervisor at scrape time; counters and the reconnect histogram follow every
 * transition as it happens. Returns a function that unbinds.
 *
 * - attempt: entering Connecting (from Idle, Shutdown, TransientFailure, or Ready after a failed
 *   probe; a server's first dial starts in Connecting and is no transition); also
 *   TransientFailure -> Ready directly (grpc-js reconnects from TRANSIENT_FAILURE without passing
 *   CONNECTING). A connect timeout that recreates the channel without leaving Connecting is not a
 *   transition and not counted.
 * - failure: Connecting -> TransientFailure.
 * - reconnect duration: from leaving Ready until Ready again.
 * - probe duration: every health probe, by outcome (answered or failed), so timeouts do not
 *   hide among answers.
 */
export function bindConnectionMetrics(metrics: Metrics, supervisor: ConnectionSupervisor): () => void {
  metrics.setConnectionSource(supervisor);

  // When each server last left Ready (seen since binding).
  const leftReadyAt = new Map<string, number>();

  function onConnectionTransition({ serverId, from, to, at }: TransitionEvent): void {
    metrics.connectionTransitions.inc({ server_id: serverId, from, to });

    if (to === 'Connecting' || (from === 'TransientFailure' && to === 'Ready')) {
      metrics.reconnectAttempts.inc({ server_id: serverId });
    }
    if (from === 'Connecting' && to === 'TransientFailure') {
      metrics.reconnectFailures.inc({ server_id: serverId });
    }

    if (from === 'Ready' && to !== 'Ready') leftReadyAt.set(serverId, at);
    if (to === 'Ready') {
      const since = leftReadyAt.get(serverId);
      leftReadyAt.delete(serverId);
      if (since !== undefined) {
        metrics.reconnectDuration.observe({ server_id: serverId }, Math.max(0, at - since) / 1000);
      }
    }
  }

  const unsubscribe = supervisor.onTransition((event) => {
    if (event.machine === 'connection') onConnectionTransition(event);
    else if (event.to === 'open') metrics.breakerOpens.inc({ server_id: event.serverId });
  });

  const unsubscribeProbes = supervisor.onProbe(({ serverId, seconds, ok }) => {
    metrics.healthProbeDuration.observe({ server_id: serverId, outcome: ok ? 'answered' : 'failed' }, seconds);
  });

  return () => {
    unsubscribe();
    unsubscribeProbes();
    metrics.setConnectionSource(undefined);
  };
}
