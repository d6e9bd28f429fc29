import { readFileSync } from 'node:fs';
import { waitFor } from '../../helpers/wait';
import type { Fault } from './fault';

/** kill -9 the embedded metadata database's process (a crash, the OOM killer); the gateway must reopen it. */
export const pgliteFault: Fault = {
  name: 'pglite',
  unavailable: (ctx) => (ctx.postgres ? 'metadata is on PostgreSQL (the postgres fault restarts it)' : undefined),
  async inject(ctx) {
    await ctx.timeline.record('pglite', 'metadata', async () => {
      const pid = databaseChildOf(ctx.cluster.cluster.gateway.proc.child.pid!);
      ctx.log(`kill -9 the embedded metadata database (pid ${pid})`);
      process.kill(pid, 'SIGKILL');
      await waitFor(
        async () => (await fetch(`${ctx.cluster.gatewayUrl}/health`, { signal: AbortSignal.timeout(5_000) })).status === 200 && databaseChildOf(ctx.cluster.cluster.gateway.proc.child.pid!) !== pid,
        { timeoutMs: 60_000, intervalMs: 100, what: 'gateway healthy on a new metadata process' },
      );
    });
  },
};

/** The gateway's pglite-child.cjs process. */
function databaseChildOf(gatewayPid: number): number {
  const children = readFileSync(`/proc/${gatewayPid}/task/${gatewayPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const child = children.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pglite-child.cjs');
    } catch {
      return false;
    }
  });
  if (!child) throw new Error(`gateway ${gatewayPid} has no embedded metadata process (children: ${children.join(', ') || 'none'})`);
  return child;
}
