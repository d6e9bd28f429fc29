import type { MetadataStore } from '../metadata/types';
import { problemOf } from '../replicas/call-outcome';
import type { Replicas, VerifyOutcome } from '../replicas/replicas';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import type { ScrubConfig } from './config';
import { JobProgress, type JobStatus } from './job-progress';
import { RateLimiter } from './rate-limiter';

export interface ScrubReport {
  serversScanned: number;
  chunksVerified: number;
  corruptFound: number;
  /** Replicas the metadata records on a server that does not have the chunk. */
  missingFound: number;
}

export interface ScrubServerProgress {
  server_id: string;
  /** Last chunk id verified in the current pass ('' = the pass starts from the beginning). */
  cursor: string;
  /** Full passes over the server's chunks completed. */
  passes: number;
}

export interface ScrubStatus extends JobStatus<ScrubReport> {
  servers: ScrubServerProgress[];
}

export interface ScrubDeps {
  store: Pick<MetadataStore, 'withJobLock' | 'markReplicaCorrupt' | 'storedChunkIdsOn' | 'scrubCursors' | 'saveScrubCursor'>;
  replicas: Pick<Replicas, 'readyServerIds' | 'isAvailable' | 'listChunks' | 'verifyChunk'>;
  config: ScrubConfig;
  streamIdleTimeoutMs: number;
  log: Logger;
}

/** VerifyChunk reads the whole chunk on the server: its deadline grows with the size. */
const VERIFY_BASE_DEADLINE_MS = 30_000;
const VERIFY_MIN_BYTES_PER_MS = 10 * 1024; // 10 MiB/s

/**
 * Scrub: storage servers verify the block checksums of their chunks, a bounded slice per run,
 * resuming from a per-server cursor (chunk ids in order) so every chunk is reached over time.
 * A corrupt replica is marked in metadata (only a replica the metadata knows), and so is a
 * replica the metadata records in the listed range that the server does not have at all (a
 * file lost outside ringstore's control); repair then restores R from a healthy copy. Cursors
 * are kept in the metadata store, so a restarted gateway, or another gateway taking the job
 * over, carries on where the last run stopped.
 */
export class ScrubJob {
  private readonly progress: JobProgress<ScrubReport>;
  private readonly rate: RateLimiter;
  private readonly cursors = new Map<string, { cursor: string; passes: number }>();

  constructor(private readonly deps: ScrubDeps) {
    this.progress = new JobProgress('scrub', emptyScrubReport, deps.log);
    this.rate = new RateLimiter(deps.config.chunksPerSec, Math.max(1, deps.config.chunksPerSec));
  }

  /** One slice under the cluster-wide job lock; undefined when another gateway holds it. */
  async run(signal?: AbortSignal): Promise<ScrubReport | undefined> {
    return this.progress.runLocked((fn) => this.deps.store.withJobLock('scrub', fn), (r) => this.pass(r, signal), signal);
  }

  status(): ScrubStatus {
    const servers = [...this.cursors].map(([serverId, c]) => ({ server_id: serverId, cursor: c.cursor, passes: c.passes }));
    return { ...this.progress.status(), servers };
  }

  private async pass(report: ScrubReport, signal?: AbortSignal): Promise<void> {
    // Under the job lock: the stored cursors are the latest, whichever gateway moved them.
    for (const { serverId, cursor, passes } of await this.deps.store.scrubCursors()) this.cursors.set(serverId, { cursor, passes });
    for (const serverId of this.deps.replicas.readyServerIds().sort()) {
      signal?.throwIfAborted();
      await this.scanServer(serverId, report, signal);
    }
  }

  private async scanServer(serverId: string, report: ScrubReport, signal?: AbortSignal): Promise<void> {
    const { replicas, config, log } = this.deps;
    if (!replicas.isAvailable(serverId)) return;
    const position = this.cursors.get(serverId) ?? { cursor: '', passes: 0 };
    this.cursors.set(serverId, position);
    // The listing is read whole (a bounded slice) before verifying, so the slow, rate-limited
    // verification never holds a stream open.
    const slice: Array<{ chunkId: string; size: number }> = [];
    try {
      const listing = replicas.listChunks(
        serverId,
        { after: position.cursor, limit: config.chunksPerServerPerRun },
        { idleTimeoutMs: this.deps.streamIdleTimeoutMs, signal },
      );
      for await (const { chunkId, size } of listing) slice.push({ chunkId, size });
    } catch (error) {
      signal?.throwIfAborted();
      log.warn(`Scrub of server ${serverId}: listing failed: ${errorMessage(error)}; resuming next run`);
      return;
    }
    report.serversScanned++;
    const complete = slice.length < config.chunksPerServerPerRun;
    await this.findMissing(serverId, slice, position.cursor, complete, report, signal);
    try {
      await this.verifySlice(serverId, slice, position, report, signal);
    } finally {
      await this.deps.store.saveScrubCursor({ serverId, ...position });
    }
  }

  /**
   * Replicas recorded on the server in the listed range (after `after`, up to the last listed
   * id, or to the end once the listing is complete) that it did not list. Each gets a
   * VerifyChunk of its own: NOT_FOUND is a missing replica; a failed check is a corrupt one (a
   * server leaves out of its listing a chunk whose footer or check table is damaged); a pass
   * is a copy added after the listing. Marking touches only a row still 'stored'.
   */
  private async findMissing(
    serverId: string,
    slice: Array<{ chunkId: string }>,
    after: string,
    complete: boolean,
    report: ScrubReport,
    signal?: AbortSignal,
  ): Promise<void> {
    const listed = new Set(slice.map((item) => item.chunkId));
    const upTo = complete ? undefined : slice[slice.length - 1]?.chunkId;
    const recorded = await this.deps.store.storedChunkIdsOn(serverId, after, upTo);
    for (const chunkId of recorded.filter((id) => !listed.has(id))) {
      signal?.throwIfAborted();
      const result = await this.deps.replicas.verifyChunk(serverId, chunkId, { deadlineMs: VERIFY_BASE_DEADLINE_MS, signal }).catch((error: unknown) => {
        if (problemOf(error) === 'missing') return 'missing' as const;
        signal?.throwIfAborted();
        this.deps.log.warn(`Scrub of server ${serverId}: chunk ${chunkId}, recorded there but not listed, could not be verified: ${errorMessage(error)}`);
        return 'unknown' as const;
      });
      if (result === 'unknown') continue;
      if (result === 'missing') {
        report.missingFound++;
        this.deps.log.warn(`Scrub: chunk ${chunkId} is recorded on server ${serverId}, which does not have it; marked for repair`);
        await this.deps.store.markReplicaCorrupt(chunkId, serverId);
        continue;
      }
      report.chunksVerified++;
      if (!result.ok) await this.markCorrupt(serverId, chunkId, result, report);
    }
  }

  private async markCorrupt(serverId: string, chunkId: string, result: Extract<VerifyOutcome, { ok: false }>, report: ScrubReport): Promise<void> {
    report.corruptFound++;
    this.deps.log.warn(`Scrub: chunk ${chunkId} on server ${serverId} is corrupt (block ${result.corruptBlock}: ${result.message})`);
    await this.deps.store.markReplicaCorrupt(chunkId, serverId);
  }

  /** Verifies the listed chunks in order, moving the cursor past each one that is done. */
  private async verifySlice(
    serverId: string,
    slice: Array<{ chunkId: string; size: number }>,
    position: { cursor: string; passes: number },
    report: ScrubReport,
    signal?: AbortSignal,
  ): Promise<void> {
    const { config, log } = this.deps;
    for (const { chunkId, size } of slice) {
      await this.rate.take(1, signal);
      try {
        const result = await this.deps.replicas.verifyChunk(serverId, chunkId, {
          deadlineMs: VERIFY_BASE_DEADLINE_MS + Math.ceil(size / VERIFY_MIN_BYTES_PER_MS),
          signal,
        });
        report.chunksVerified++;
        if (!result.ok) await this.markCorrupt(serverId, chunkId, result, report);
      } catch (error) {
        signal?.throwIfAborted();
        // Deleted since the listing: nothing to verify.
        if (problemOf(error) !== 'missing') {
          log.warn(`Scrub of server ${serverId} stopped at chunk ${chunkId}: ${errorMessage(error)}; resuming there next run`);
          return;
        }
      }
      position.cursor = chunkId;
    }
    if (slice.length < config.chunksPerServerPerRun) {
      position.passes++;
      position.cursor = '';
      log.info(`Scrub of server ${serverId}: full pass ${position.passes} complete`);
    }
  }
}

export function emptyScrubReport(): ScrubReport {
  return { serversScanned: 0, chunksVerified: 0, corruptFound: 0, missingFound: 0 };
}

