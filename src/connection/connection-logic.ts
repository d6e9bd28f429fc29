import { fromCallback } from 'xstate';
import { connectionMachine, type ConnectionEvent } from '../../machines/connection';
import { watchChannel } from './channel-watcher';
import type { Clock } from './clock';
import type { ProbeClient, ServerChannel } from './server-channel';

/** What a connection actor's effects act on: its server's link and a few of its methods. */
export interface ConnectionEffects {
  readonly link: ServerChannel<ProbeClient>;
  recreateChannel(lastError: string | null): void;
  startProbe(): void;
}

/**
 * The connection machine with the runtime's implementations. `provide()` rebuilds the whole
 * machine (~1.5 ms), so it runs once per pool, not once per server: the implementations find
 * their server through `resolve(serverId)`.
 */
export function createConnectionLogic(resolve: (serverId: string) => ConnectionEffects | undefined, clock: Clock) {
  return connectionMachine.provide({
    actors: {
      channelWatcher: fromCallback<ConnectionEvent, { serverId: string }>(({ sendBack, input }) => {
        const effects = resolve(input.serverId);
        if (!effects) return undefined;
        return watchChannel(effects.link, (state) => sendBack({ type: 'CHANNEL_STATE', state, at: clock.now() }));
      }),
    },
    actions: {
      kickChannel: ({ context }) => resolve(context.serverId)?.link.kick(),
      recreateChannel: ({ context }) => resolve(context.serverId)?.recreateChannel(context.lastError),
      startProbe: ({ context }) => resolve(context.serverId)?.startProbe(),
    },
  });
}

export type ConnectionLogic = ReturnType<typeof createConnectionLogic>;
