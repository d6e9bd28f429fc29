import type { Fault } from './fault';

/** kill -9 the gateway while requests are in flight, restart it on the same port and data. */
export const gatewayFault: Fault = {
  name: 'gateway',
  unavailable: () => undefined,
  async inject(ctx) {
    await ctx.timeline.record('gateway', 'gateway', async () => {
      ctx.log('kill -9 the gateway mid-request; restarting it on the same port and data');
      await ctx.cluster.restartGateway('SIGKILL');
      await ctx.cluster.waitForAllReady();
    });
  },
};
