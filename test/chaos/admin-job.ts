import type { GatewayClient } from './gateway-client';
import { waitFor } from '../helpers/wait';

interface JobResponse<R> { ran: boolean; report: R | null }

/** Runs an admin job now, waiting while another run of it holds the lock. */
export async function runJob<R>(client: Pick<GatewayClient, 'json'>, name: string): Promise<R> {
  return waitFor(
    async () => {
      const body = await client.json<JobResponse<R>>(`/admin/jobs/${name}`, 'POST');
      return body.ran ? (body.report as R) : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 500, what: `the ${name} job to run` },
  );
}
