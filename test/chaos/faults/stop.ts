import { pause, randomInt } from '../random';
import type { Fault } from './fault';

/** SIGSTOP a random storage server for 10-30 s (a hung host: TCP open, nothing answers), then SIGCONT. */
export const stopFault: Fault = {
  name: 'stop',
  unavailable: () => undefined,
  async inject(ctx, signal) {
    const node = ctx.cluster.storage[randomInt(ctx.random, 0, ctx.cluster.storage.length - 1)];
    const holdMs = ctx.quick ? 10_000 : randomInt(ctx.random, 10_000, 30_000);
    await ctx.timeline.record('stop', node.serverId, async () => {
      try {
        node.proc.signal('SIGSTOP');
        ctx.log(`SIGSTOP storage server ${node.serverId} (port ${node.port}) for ${holdMs} ms`);
        await pause(holdMs, signal);
      } finally {
        node.proc.signal('SIGCONT');
        await ctx.cluster.waitForAllReady();
      }
    });
  },
};
