import { runJob } from './admin-job';
import type { GatewayClient } from './gateway-client';
import { waitFor } from '../helpers/wait';

export interface ScrubTotals {
  runs: number;
  chunksVerified: number;
  corruptFound: number;
  missingFound: number;
}

interface ScrubReport { serversScanned: number; chunksVerified: number; corruptFound: number; missingFound: number }
interface ScrubStatus { scrub: { servers: Array<{ server_id: string; passes: number }> } }

/**
 * Scrubs until every storage server has had a full pass. One run is not enough: it skips a
 * server its gateway does not admit traffic to at that moment, and stops a server's scan at a
 * failed listing or check (the next run resumes there). A damaged replica left unscrubbed is
 * met only by the downloads that follow repair, which mark it corrupt: a chunk below R at the
 * end, with nothing wrong in repair. The chaos cluster never scrubs before the final checks
 * (SCRUB_INTERVAL_MS is 0), so every server starts at 0 passes.
 */
export async function scrubEveryServer(client: Pick<GatewayClient, 'json'>, serverIds: readonly string[], log: (m: string) => void): Promise<ScrubTotals> {
  const totals: ScrubTotals = { runs: 0, chunksVerified: 0, corruptFound: 0, missingFound: 0 };
  await waitFor(
    async () => {
      const report = await runJob<ScrubReport>(client, 'scrub');
      totals.runs++;
      totals.chunksVerified += report.chunksVerified;
      totals.corruptFound += report.corruptFound;
      totals.missingFound += report.missingFound;
      const status = await client.json<ScrubStatus>('/admin/repair');
      const passed = new Set(status.scrub.servers.filter((s) => s.passes > 0).map((s) => s.server_id));
      const behind = serverIds.filter((id) => !passed.has(id));
      if (behind.length === 0) return true;
      log(`scrub run ${totals.runs} (${report.serversScanned} servers scanned): no full pass yet on ${behind.join(', ')}; scrubbing again`);
      return false;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, what: 'a full scrub pass on every storage server' },
  );
  return totals;
}
