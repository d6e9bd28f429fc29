import type { ChaosCluster } from './chaos-cluster';
import { REPLICATION_FACTOR } from './chaos-cluster';
import { runJob } from './admin-job';
import { scanDataDir, type DiskContents } from './disk-scan';
import { scrubEveryServer } from './final-scrub';
import { sha256Hex } from './file-content';
import type { GatewayClient } from './gateway-client';
import { RequestFailed } from './gateway-client';
import type { Ledger } from './ledger';
import { fileMetadata, listAllFileIds, storedReplicas } from './file-metadata';
import type { RequestStats } from './request-stats';

export interface FinalChecks {
  filesVerified: number;
  /** Acknowledged, not-deleted files that 404 or never download (must be 0). */
  lost: string[];
  /** Chunks of live files with fewer than R stored replicas once repair settled (must be 0). */
  belowR: string[];
  /** Replicas recorded as stored whose chunk file is not on that server's disk (must be 0). */
  missingOnDisk: string[];
  /** Chunk files (or temp files) on a server that no live file records there, after cleanup (must be 0). */
  orphans: string[];
  repairPasses: number;
  scrubCorruptFound: number;
}

interface RepairReport { repaired: number; failed: number; corruptRemoved: number }

/**
 * After the load and the faults: scrub until every server had a full pass, repair until it has
 * nothing left to do, check every acknowledged file byte-exact, clean up, then compare the
 * metadata with what is on disk.
 */
export async function runFinalChecks(cluster: ChaosCluster, client: GatewayClient, ledger: Ledger, stats: RequestStats, log: (m: string) => void): Promise<FinalChecks> {
  const checks: FinalChecks = { filesVerified: 0, lost: [], belowR: [], missingOnDisk: [], orphans: [], repairPasses: 0, scrubCorruptFound: 0 };
  const scrub = await scrubEveryServer(client, cluster.storage.map((node) => node.serverId), log);
  checks.scrubCorruptFound = scrub.corruptFound;
  log(`scrub (${scrub.runs === 1 ? 'one run' : `${scrub.runs} runs`} to a full pass on every server): ${scrub.chunksVerified} chunks verified, ${scrub.corruptFound} corrupt, ${scrub.missingFound} recorded but missing`);

  // Repair settles when a pass finds nothing to copy and nothing failed.
  for (;;) {
    const report = await runJob<RepairReport>(client, 'repair');
    checks.repairPasses++;
    log(`repair pass ${checks.repairPasses}: ${report.repaired} repaired, ${report.failed} failed, ${report.corruptRemoved} corrupt removed`);
    if (report.repaired === 0 && report.failed === 0 && report.corruptRemoved === 0) break;
    if (checks.repairPasses >= 10) break;
  }

  await verifyLedger(client, ledger, stats, checks);
  log(`verified ${checks.filesVerified} acknowledged files: ${checks.lost.length} lost`);

  // Two passes: the first may leave pending deletes the second finishes.
  for (let pass = 0; pass < 2; pass++) await runJob(client, 'cleanup');
  log('cleanup done');

  // Disks are read once, after cleanup, while nothing writes any more.
  const disks = new Map<string, DiskContents>();
  for (const node of cluster.storage) disks.set(node.serverId, await scanDataDir(node.dataDir));
  const recorded = new Map<string, Set<string>>();
  for (const fileId of await listAllFileIds(client)) {
    const metadata = await fileMetadata(client, fileId).catch((e: unknown) => {
      if (e instanceof RequestFailed && e.status === 404) return undefined; // deleted meanwhile
      throw e;
    });
    for (const chunk of metadata?.chunks ?? []) {
      const stored = storedReplicas(chunk);
      if (stored.length < REPLICATION_FACTOR) {
        // The other rows say what happened to the missing replicas (e.g. corrupt: found by a read after repair).
        const others = chunk.replicas.filter((r) => r.status !== 'stored').map((r) => `${r.status} on ${r.server_id}`);
        checks.belowR.push(`${chunk.chunk_id} of file ${fileId}: ${stored.length} stored replicas${others.length > 0 ? ` (also ${others.join(', ')})` : ''}`);
      }
      for (const replica of chunk.replicas) {
        if (!recorded.has(replica.server_id)) recorded.set(replica.server_id, new Set());
        recorded.get(replica.server_id)!.add(chunk.chunk_id);
      }
      for (const serverId of stored) {
        const disk = disks.get(serverId);
        if (disk && !disk.chunks.has(chunk.chunk_id)) checks.missingOnDisk.push(`${chunk.chunk_id} on server ${serverId}`);
      }
    }
  }
  for (const [serverId, disk] of disks) {
    const mine = recorded.get(serverId) ?? new Set<string>();
    for (const chunkId of disk.chunks) {
      if (mine.has(chunkId)) continue;
      const elsewhere = [...recorded.values()].some((ids) => ids.has(chunkId));
      checks.orphans.push(`${chunkId} on server ${serverId} (${elsewhere ? 'a live chunk recorded on other servers only' : 'no live file uses it'})`);
    }
    if (disk.temp > 0) checks.orphans.push(`${disk.temp} temp files on server ${serverId}`);
  }
  return checks;
}

/** Every acknowledged, not-deleted file must download byte-exact (a few tries for transient errors). */
async function verifyLedger(client: GatewayClient, ledger: Ledger, stats: RequestStats, checks: FinalChecks): Promise<void> {
  const files = ledger.liveFiles();
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      let outcome = 'not tried';
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          const body = await client.download(file.fileId);
          if (body.length !== file.size || sha256Hex(body) !== file.sha256) {
            stats.wrongBytes.push(`final check: file ${file.fileId} gave ${body.length} bytes, expected ${file.size} with sha256 ${file.sha256}`);
          }
          outcome = 'ok';
          break;
        } catch (error) {
          if (!(error instanceof RequestFailed)) throw error;
          outcome = error.message;
          if (error.status === 404) break;
        }
      }
      checks.filesVerified++;
      if (outcome !== 'ok') checks.lost.push(`${file.fileId} (${file.size} bytes): ${outcome}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}
