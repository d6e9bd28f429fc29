import type { Fault } from './fault';

/** Rolling restart: each storage server in turn stopped cleanly (SIGTERM), restarted, and Ready again. */
export const rollingFault: Fault = {
  name: 'rolling',
  unavailable: () => undefined,
  async inject(ctx, signal) {
    for (const node of ctx.cluster.storage) {
      if (signal.aborted) return;
      await ctx.timeline.record('rolling', node.serverId, async () => {
        try {
          ctx.log(`rolling restart: storage server ${node.serverId} (port ${node.port})`);
          await ctx.cluster.stopNode(node, 'SIGTERM');
        } finally {
          await ctx.cluster.startNode(node);
          await ctx.cluster.waitForAllReady();
        }
      });
    }
  },
};
