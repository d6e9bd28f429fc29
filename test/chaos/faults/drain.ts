import { waitFor } from '../../helpers/wait';
import { pause, randomInt } from '../random';
import type { Fault } from './fault';

interface Servers {
  servers: Array<{ server_id: string; membership: string; chunks: number; drain: { chunks_total: number } | null }>;
}

/** Files the load must have stored before a drain starts. */
const FILES_FIRST = 10;

/**
 * Drains a random storage server through the admin API (POST /admin/servers/:id/drain) and
 * kills another one with -9 while it drains, restarting it 2-5 s later: the drain must go
 * around the dead server and end with the server empty (drained). The server is then taken
 * back (undrain), so the run goes on with six.
 */
export const drainFault: Fault = {
  name: 'drain',
  unavailable: () => undefined,
  async inject(ctx, signal) {
    const { storage } = ctx.cluster;
    const leaving = storage[randomInt(ctx.random, 0, storage.length - 1)];
    const others = storage.filter((node) => node !== leaving);
    const killed = others[randomInt(ctx.random, 0, others.length - 1)];
    // Something to drain: the load has stored a few files (or the run is ending).
    await waitFor(() => signal.aborted || ctx.ledger.liveCount() >= FILES_FIRST, { timeoutMs: 60_000, intervalMs: 250, what: `${FILES_FIRST} files stored` });
    await ctx.timeline.record('drain', leaving.serverId, async () => {
      await ctx.client.json(`/admin/servers/${leaving.serverId}/drain`, 'POST');
      try {
        await ctx.cluster.stopNode(killed, 'SIGKILL');
        const downMs = randomInt(ctx.random, 2_000, 5_000);
        ctx.log(`draining storage server ${leaving.serverId}; kill -9 storage server ${killed.serverId} meanwhile, restart in ${downMs} ms`);
        await pause(downMs, signal);
      } finally {
        await ctx.cluster.startNode(killed);
      }
      try {
        const drained = await waitFor(
          async () => {
            if (signal.aborted) return { aborted: true as const };
            const { servers } = await ctx.client.json<Servers>('/admin/servers');
            const server = servers.find((s) => s.server_id === leaving.serverId);
            return server?.membership === 'drained' ? server : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 500, what: `storage server ${leaving.serverId} drained` },
        );
        if ('aborted' in drained) ctx.log(`drain of storage server ${leaving.serverId} cut short by the end of the run`);
        else ctx.log(`storage server ${leaving.serverId} drained: ${drained.drain?.chunks_total ?? 0} chunks moved off it, ${drained.chunks} left`);
      } finally {
        await ctx.client.json(`/admin/servers/${leaving.serverId}/undrain`, 'POST');
        await ctx.cluster.waitForAllReady();
      }
    });
  },
};
