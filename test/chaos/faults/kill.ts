import { pause, randomInt } from '../random';
import type { Fault } from './fault';

/** kill -9 a random storage server, restart it on the same port and data a few seconds later. */
export const killFault: Fault = {
  name: 'kill',
  unavailable: () => undefined,
  async inject(ctx, signal) {
    const node = ctx.cluster.storage[randomInt(ctx.random, 0, ctx.cluster.storage.length - 1)];
    await ctx.timeline.record('kill', node.serverId, async () => {
      try {
        await ctx.cluster.stopNode(node, 'SIGKILL');
        const downMs = randomInt(ctx.random, 2_000, 5_000);
        ctx.log(`kill -9 storage server ${node.serverId} (port ${node.port}); restart in ${downMs} ms`);
        await pause(downMs, signal);
      } finally {
        await ctx.cluster.startNode(node);
        await ctx.cluster.waitForAllReady();
      }
    });
  },
};
