import type { MetadataStore } from '../metadata/types';
import type { Replicas } from '../replicas/replicas';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';

export interface CleanupDeps {
  store: MetadataStore;
  /** Lists what servers hold and deletes replicas recorded as pending deletes. */
  replicas: Pick<Replicas, 'readyServerIds' | 'listChunks' | 'delete'>;
  log: Logger;
  /** Chunks unreferenced for longer than this are orphans. */
  orphanGraceMs: number;
}

export interface CleanupReport {
  expiredSessions: number;
  pendingDeleted: number;
  pendingFailed: number;
  orphansDeleted: number;
  serversScanned: number;
}

const BATCH = 500;

/**
 * Cleanup: drops expired upload sessions, retries pending deletes until they succeed, and
 * deletes orphan chunks (on a server, referenced by no file, older than the grace period).
 * Only one gateway runs it at a time (advisory lock); returns undefined when another holds it.
 */
export async function runCleanup(deps: CleanupDeps): Promise<CleanupReport | undefined> {
  return deps.store.withJobLock('cleanup', async () => {
    const report: CleanupReport = { expiredSessions: 0, pendingDeleted: 0, pendingFailed: 0, orphansDeleted: 0, serversScanned: 0 };
    await dropExpiredSessions(deps, report);
    await retryPendingDeletes(deps, report);
    await deleteOrphans(deps, report);
    if (report.expiredSessions + report.pendingDeleted + report.pendingFailed + report.orphansDeleted > 0) {
      deps.log.info(
        `Cleanup: ${report.expiredSessions} expired uploads, ${report.pendingDeleted} pending deletes done ` +
          `(${report.pendingFailed} still failing), ${report.orphansDeleted} orphan chunks deleted on ${report.serversScanned} servers`,
      );
    }
    return report;
  });
}

async function dropExpiredSessions(deps: CleanupDeps, report: CleanupReport): Promise<void> {
  for (;;) {
    const expired = await deps.store.expiredUploads(new Date(), BATCH);
    for (const session of expired) await deps.store.abortUpload(session.fileId);
    report.expiredSessions += expired.length;
    if (expired.length < BATCH) return;
  }
}

async function retryPendingDeletes(deps: CleanupDeps, report: CleanupReport): Promise<void> {
  const listed = await deps.store.listPendingDeletes(BATCH * 4);
  if (listed.length === 0) return;
  // A copy recorded as a replica again since (repair chose that server) must stay: drop the
  // pending delete instead of the chunk.
  const pending: typeof listed = [];
  for (const [serverId, items] of groupByServer(listed)) {
    const recorded = await deps.store.referencedChunkIds(items.map((i) => i.chunkId), serverId);
    for (const item of items) {
      if (recorded.has(item.chunkId)) await deps.store.resolvePendingDelete(item.chunkId, serverId);
      else pending.push(item);
    }
  }
  if (pending.length === 0) return;
  const failed = await deps.replicas.delete(pending);
  report.pendingDeleted += pending.length - failed.length;
  report.pendingFailed += failed.length;
}

async function deleteOrphans(deps: CleanupDeps, report: CleanupReport): Promise<void> {
  const cutoff = Date.now() - deps.orphanGraceMs;
  for (const serverId of deps.replicas.readyServerIds()) {
    report.serversScanned++;
    let batch: string[] = [];
    const flush = async () => {
      // Per server: a copy the metadata does not place here is an orphan even if the chunk lives
      // elsewhere. One in the pending-delete log is the log's, deleted when due (a moved
      // replica's old copy stays readable for MOVE_DELETE_DELAY_MS).
      const referenced = await deps.store.referencedChunkIds(batch, serverId);
      const logged = await deps.store.pendingDeleteChunkIds(batch, serverId);
      const orphans = batch.filter((id) => !referenced.has(id) && !logged.has(id));
      batch = [];
      if (orphans.length === 0) return;
      const failed = await deps.replicas.delete(orphans.map((chunkId) => ({ chunkId, serverId })));
      report.orphansDeleted += orphans.length - failed.length;
    };
    try {
      for await (const chunk of deps.replicas.listChunks(serverId, {}, { idleTimeoutMs: 30_000 })) {
        if (chunk.modifiedAtMs > cutoff) continue;
        batch.push(chunk.chunkId);
        if (batch.length >= BATCH) await flush();
      }
      if (batch.length > 0) await flush();
    } catch (error) {
      deps.log.warn(`Orphan scan of server ${serverId} stopped: ${errorMessage(error)}`);
    }
  }
}

function groupByServer<T extends { serverId: string }>(items: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.serverId);
    if (group) group.push(item);
    else groups.set(item.serverId, [item]);
  }
  return groups;
}
