import { waitFor } from '../../helpers/wait';
import type { GatewayClient } from '../gateway-client';
import { pause, randomInt } from '../random';
import type { Fault } from './fault';

interface Servers {
  servers: Array<{ server_id: string; membership: string; chunks: number; drain: { chunks_total: number } | null }>;
}

/** Files the load must have stored before a drain starts. */
const FILES_FIRST = 10;
/**
 * A drain that moves no chunk off its server for this long is stuck. There is no deadline for
 * the whole drain: moves run at 4 MiB/s, so its length follows what the run has stored by then.
 */
const DRAIN_STALL_MS = 60_000;

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
        const drained = await untilDrained(ctx.client, leaving.serverId, signal);
        if ('aborted' in drained) ctx.log(`drain of storage server ${leaving.serverId} cut short by the end of the run`);
        else ctx.log(`storage server ${leaving.serverId} drained: ${drained.drain?.chunks_total ?? 0} chunks moved off it, ${drained.chunks} left`);
      } finally {
        await ctx.client.json(`/admin/servers/${leaving.serverId}/undrain`, 'POST');
        await ctx.cluster.waitForAllReady();
      }
    });
  },
};

/** Waits until the server is drained, for as long as chunks keep leaving it (or the run ends). */
async function untilDrained(client: GatewayClient, serverId: string, signal: AbortSignal): Promise<{ aborted: true } | Servers['servers'][number]> {
  let left = Infinity;
  for (;;) {
    const seen = await waitFor(
      async () => {
        if (signal.aborted) return { aborted: true as const };
        const { servers } = await client.json<Servers>('/admin/servers');
        const server = servers.find((s) => s.server_id === serverId);
        return server && (server.membership === 'drained' || server.chunks < left) ? server : undefined;
      },
      { timeoutMs: DRAIN_STALL_MS, intervalMs: 500, what: `storage server ${serverId} to move a chunk off (${left} left)` },
    );
    if ('aborted' in seen || seen.membership === 'drained') return seen;
    left = seen.chunks;
  }
}
