import type { ConnectionStateName } from '../../machines/connection';
import { connectivityStateName, type ProbeClient, type ServerChannel } from './server-channel';

/**
 * Follows a link's channel with the watchConnectivityState loop and reports every state it
 * sees. grpc-js watches are one-shot and never compare `currentState` with the real state, so the
 * real state is read right before each watch; the deadline is Infinity (no timer); watching a
 * closed channel throws synchronously, which reads as Shutdown. When the link swaps channels the
 * loop moves to the new one and the old channel's last callback is ignored (generation check).
 */
export function watchChannel<C extends ProbeClient>(
  link: ServerChannel<C>,
  report: (state: ConnectionStateName, reason?: string) => void,
  /** The state the follower already knows the channel in (it is reported only once it changes). */
  known?: ConnectionStateName,
): ChannelWatch {
  let generation = 0;
  let stopped = false;
  let lastReported = known;

  const emit = (state: ConnectionStateName, reason?: string) => {
    if (state === lastReported) return;
    lastReported = state;
    report(state, reason);
  };

  const follow = () => {
    if (stopped || link.isClosed) return;
    const mine = ++generation;
    const channel = link.channel;
    let raw = channel.getConnectivityState(false);
    emit(connectivityStateName(raw));
    // Reporting can change the channel (the actor kicks an IDLE one) or replace it (a nested
    // follow took over): re-read until stable so the watch starts from the real state.
    for (let again = channel.getConnectivityState(false); mine === generation && again !== raw; again = channel.getConnectivityState(false)) {
      raw = again;
      emit(connectivityStateName(raw));
    }
    if (mine !== generation || stopped) return;
    try {
      channel.watchConnectivityState(raw, Infinity, () => {
        if (mine === generation) follow();
      });
    } catch {
      if (!stopped && mine === generation) emit('Shutdown');
    }
  };

  const stopFollowingReplacements = link.onReplaced(follow);
  follow();
  return {
    stop: () => {
      stopped = true;
      stopFollowingReplacements();
    },
    recheck: () => {
      if (stopped || link.isClosed) return;
      const state = link.state();
      emit(state, `reconciled on tick: channel is ${state}`);
    },
  };
}

export interface ChannelWatch {
  stop(): void;
  /** Read the channel's state now and report it if the watch missed a change. */
  recheck(): void;
}
