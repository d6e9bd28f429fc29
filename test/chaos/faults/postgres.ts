import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { waitFor } from '../../helpers/wait';
import type { Fault } from './fault';

const run = promisify(execFile);

/** Restarts the local PostgreSQL cluster under the gateway (only when the metadata is on PostgreSQL). */
export const postgresFault: Fault = {
  name: 'postgres',
  unavailable: (ctx) => (ctx.postgres ? undefined : 'metadata is embedded PGlite (pass --postgres URL)'),
  async inject(ctx) {
    await ctx.timeline.record('postgres', 'postgresql', async () => {
      const [version] = await readdir('/etc/postgresql');
      ctx.log(`restarting PostgreSQL ${version}/main`);
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { timeout: 60_000 });
      await waitFor(
        async () => (await fetch(`${ctx.cluster.gatewayUrl}/health`, { signal: AbortSignal.timeout(5_000) })).status === 200,
        { timeoutMs: 60_000, intervalMs: 200, what: 'gateway healthy again after the PostgreSQL restart' },
      );
    });
  },
};
