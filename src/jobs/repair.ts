import type { ChunkToRepair, MetadataStore } from '../metadata/types';
import type { Replicas } from '../replicas/replicas';
import type { Logger } from '../util/logger';
import type { RepairConfig } from './config';
import { forEachLimited } from './for-each-limited';
import { JobProgress, type JobStatus } from './job-progress';
import { RateLimiter } from './rate-limiter';
import { SourceCopier } from './source-copier';

export interface RepairReport {
  /** Under-replicated chunks looked at. */
  checked: number;
  /** Chunks brought back to the wanted number of healthy replicas. */
  repaired: number;
  /** Chunks still short after this run (no healthy source, no target, copies failed). */
  failed: number;
  /** Corrupt replicas dropped once their chunk had its healthy copies again. */
  corruptRemoved: number;
  bytesCopied: number;
}

export interface RepairStatus extends JobStatus<RepairReport> {
  /** Chunks below the wanted replicas as of the end of the last run (null before the first). */
  under_replicated: number | null;
}

export interface RepairDeps {
  store: MetadataStore;
  /** Copies chunks between servers, deletes replicas, and knows which servers take new ones. */
  replicas: Pick<Replicas, 'placement' | 'copyChunk' | 'delete' | 'isAvailable' | 'waitUntilAvailable'>;
  replicationFactor: number;
  config: RepairConfig;
  log: Logger;
}

/** Chunks fetched from the store per query. */
const BATCH = 500;

type CopyOutcome = 'copied' | 'target-failed' | 'no-source' | 'file-deleted';

/**
 * Repair: brings every chunk back to REPLICATION_FACTOR healthy replicas (capped by the live
 * servers). A replica counts as healthy while it is 'stored' on a server heard from within the
 * grace period, so a restart is not a loss. Missing copies are streamed from a healthy replica
 * to the next servers on the ring; corrupt replicas are dropped once the chunk is whole again
 * (and on a later run, when dropping one failed then).
 */
export class RepairJob {
  private readonly progress: JobProgress<RepairReport>;
  private readonly bandwidth: RateLimiter;
  private underReplicated: number | null = null;
  /** This run's copier (it remembers servers that did not come back when asked). */
  private copier!: SourceCopier;

  constructor(private readonly deps: RepairDeps) {
    this.progress = new JobProgress('repair', emptyRepairReport, deps.log);
    this.bandwidth = new RateLimiter(deps.config.bandwidthBytesPerSec);
  }

  /** One pass under the cluster-wide job lock; undefined when another gateway holds it. */
  async run(signal?: AbortSignal): Promise<RepairReport | undefined> {
    return this.progress.runLocked((fn) => this.deps.store.withJobLock('repair', fn), (r) => this.pass(r, signal), signal);
  }

  status(): RepairStatus {
    return { ...this.progress.status(), under_replicated: this.underReplicated };
  }

  /** Chunks below R at the end of the last run; a lower bound when it hit the query limit. */
  underReplicatedCount(): number | null {
    return this.underReplicated;
  }

  private async pass(report: RepairReport, signal?: AbortSignal): Promise<void> {
    const { store, replicas, log } = this.deps;
    this.copier = new SourceCopier({ store, replicas, bandwidth: this.bandwidth, log, job: 'Repair' });
    const live = await this.liveServerIds();
    const wanted = Math.min(this.deps.replicationFactor, live.size);
    if (wanted === 0) {
      this.deps.log.warn('Repair: no live storage server; nothing to copy to');
      return;
    }
    // Chunks that stay short (no source, no target) come back from every query: skip the ones
    // already tried in this run, and widen the query by their number so new ones still appear.
    const attempted = new Set<string>();
    let stillShort = 0;
    for (;;) {
      signal?.throwIfAborted();
      const limit = stillShort + BATCH;
      const found = await this.deps.store.chunksToRepair(wanted, [...live], limit);
      this.underReplicated = found.filter((chunk) => chunk.healthyServerIds.length < wanted).length;
      const fresh = found.filter((chunk) => !attempted.has(chunk.chunkId));
      if (fresh.length === 0) return;
      for (const chunk of fresh) attempted.add(chunk.chunkId);
      await forEachLimited(fresh, this.deps.config.concurrency, async (chunk) => {
        const whole = await this.repairChunk(chunk, wanted, live, report, signal);
        if (!whole) stillShort++;
      });
    }
  }

  /** Servers heard from within the grace period and not removed: their stored replicas still count. */
  private async liveServerIds(): Promise<Set<string>> {
    const cutoff = Date.now() - this.deps.config.graceMs;
    const servers = await this.deps.store.listServers();
    return new Set(servers.filter((s) => s.lastHeartbeatAt.getTime() >= cutoff && s.membership !== 'removed').map((s) => s.id));
  }

  /** Copies the chunk until it has `wanted` healthy replicas; true when it has them. */
  private async repairChunk(
    chunk: ChunkToRepair,
    wanted: number,
    live: ReadonlySet<string>,
    report: RepairReport,
    signal?: AbortSignal,
  ): Promise<boolean> {
    report.checked++;
    // Readable healthy replicas; copyToTarget drops those that turn out corrupt or missing.
    const sources = [...chunk.healthyServerIds];
    const badSources = new Set<string>();
    // Not where a copy is recorded, nor where one is still being deleted: cleanup would remove
    // the new copy with the old one.
    const tried = new Set([...chunk.allServerIds, ...chunk.deletingServerIds]);
    let copies = 0;
    while (sources.length + copies < wanted) {
      const [target] = this.deps.replicas.placement.targets(chunk.chunkId, tried, 1);
      if (!target) {
        this.deps.log.warn(`Repair of chunk ${chunk.chunkId}: no available server to copy to (${sources.length + copies}/${wanted} healthy)`);
        break;
      }
      tried.add(target);
      const outcome = await this.copyToTarget(chunk, sources, badSources, target, report, signal);
      if (outcome === 'file-deleted') return true;
      if (outcome === 'no-source') {
        this.deps.log.warn(`Repair of chunk ${chunk.chunkId}: no healthy replica could be read (${copies}/${wanted} healthy)`);
        break;
      }
      if (outcome === 'copied') copies++;
    }
    if (sources.length + copies < wanted) {
      report.failed++;
      return false;
    }
    if (copies > 0) report.repaired++; // else it only had a corrupt replica left to remove
    // Only now that the chunk is whole again may its corrupt replicas go: a partly readable
    // copy was still a fallback until then. Rows on servers past the grace period stay, since
    // what they hold is unknown.
    const healthyBefore = new Set(chunk.healthyServerIds);
    const corrupt = chunk.allServerIds.filter((id) => live.has(id) && (!healthyBefore.has(id) || badSources.has(id)));
    for (const serverId of corrupt) await this.removeCorruptReplica(chunk.chunkId, serverId, report);
    return true;
  }

  /**
   * One copy to `target` from the first source that can be read, recorded as a replica. A
   * source that turns out corrupt or missing is marked so, moved to badSources and taken out
   * of `sources`.
   */
  private async copyToTarget(
    chunk: ChunkToRepair,
    sources: string[],
    badSources: Set<string>,
    target: string,
    report: RepairReport,
    signal?: AbortSignal,
  ): Promise<CopyOutcome> {
    const { store, log } = this.deps;
    const copied = await this.copier.copy(chunk, sources, target, badSources, signal);
    if (typeof copied === 'string') return copied;
    report.bytesCopied += copied.bytes;
    if (!(await store.addReplica(chunk.chunkId, target))) {
      log.info(`Repair of chunk ${chunk.chunkId}: its file was deleted meanwhile; deleting the copy on server ${target}`);
      await this.deleteFromServer(chunk.chunkId, target);
      return 'file-deleted';
    }
    log.info(`Replica of chunk ${chunk.chunkId} on server ${target}: none -> stored (repair copied ${copied.bytes} bytes from server ${copied.source})`);
    return 'copied';
  }

  private async removeCorruptReplica(chunkId: string, serverId: string, report: RepairReport): Promise<void> {
    await this.deleteFromServer(chunkId, serverId, async () => this.deps.store.removeReplica(chunkId, serverId));
    report.corruptRemoved++;
    this.deps.log.info(`Replica of chunk ${chunkId} on server ${serverId}: corrupt -> removed (the chunk has its healthy replicas again)`);
  }

  /**
   * Deletes a chunk from a server through the pending-delete list, so a server that cannot be
   * reached now is retried by cleanup instead of forgotten. `beforeDelete` runs once the
   * pending delete is recorded.
   */
  private async deleteFromServer(chunkId: string, serverId: string, beforeDelete?: () => Promise<void>): Promise<void> {
    const item = { chunkId, serverId };
    await this.deps.store.addPendingDeletes([item]);
    await beforeDelete?.();
    const failed = await this.deps.replicas.delete([item]);
    if (failed.length > 0) this.deps.log.warn(`Could not delete chunk ${chunkId} from server ${serverId} now; cleanup will retry`);
  }
}

export function emptyRepairReport(): RepairReport {
  return { checked: 0, repaired: 0, failed: 0, corruptRemoved: 0, bytesCopied: 0 };
}
