import type { ChunkToRepair, MetadataStore } from '../metadata/types';
import type { Bandwidth } from '../replicas/chunk-copy';
import type { Replicas } from '../replicas/replicas';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import type { MovesConfig } from './config';
import { SourceCopier } from './source-copier';

export interface ReplicaMoverDeps {
  store: Pick<MetadataStore, 'moveReplica' | 'markReplicaCorrupt' | 'addPendingDeletes'>;
  replicas: Pick<Replicas, 'copyChunk' | 'isAvailable' | 'waitUntilAvailable' | 'discard' | 'delete'>;
  bandwidth: Bandwidth;
  /** A moved replica's old copy is deleted this long after the move (MOVE_DELETE_DELAY_MS). */
  deleteDelayMs: number;
  log: Logger;
  /** drain or rebalance, for the logs. */
  job: string;
}

/** The lock drain and rebalance share: one of them at a time in the whole cluster. */
export const MOVES_LOCK = 'moves';

/** What drain and rebalance both need. */
export interface MoveJobDeps {
  store: ReplicaMoverDeps['store'] & Pick<MetadataStore, 'withJobLock' | 'serverUsage' | 'chunksOnServer' | 'saveMoveRun'>;
  replicas: ReplicaMoverDeps['replicas'];
  config: MovesConfig;
  /** Shared by drain and rebalance: MOVE_BANDWIDTH for both. */
  bandwidth: Bandwidth;
  gatewayId: string;
  log: Logger;
  /** Each chunk moved or not, for metrics. */
  onChunk?(outcome: 'moved' | 'failed', bytes: number): void;
}

/**
 * What one move did:
 * - moved:         the chunk's replica is on `to` now; its copy on `from` is a pending delete
 * - no-source:     no replica of the chunk could be read
 * - target-failed: the target could not take the copy
 * - changed:       the chunk changed meanwhile (its file was deleted, another job moved or
 *                  copied it): nothing was switched, and the copy made is kept or dropped as that requires
 */
export type MoveOutcome = 'moved' | 'no-source' | 'target-failed' | 'changed';

/**
 * Moves replicas between storage servers for one run of a job (drain, rebalance), with the
 * safety rules of both: copy the chunk to the target from a healthy replica (the target checks
 * the recorded SHA-256 before it keeps the copy, so only a verified, fsynced copy counts), then
 * switch the replica row in one statement, and only then give the old copy to the pending-delete
 * log, due after MOVE_DELETE_DELAY_MS: reads that began with the older metadata keep reading
 * it until then, and cleanup deletes it (retrying if the server is away). Reads work from either
 * copy throughout.
 */
export class ReplicaMover {
  private readonly copier: SourceCopier;

  constructor(private readonly deps: ReplicaMoverDeps) {
    this.copier = new SourceCopier(deps);
  }

  /** Moves the chunk's replica on `from` to `to`; returns what happened and the bytes copied. */
  async move(chunk: ChunkToRepair, from: string, to: string, signal?: AbortSignal): Promise<{ outcome: MoveOutcome; bytes: number }> {
    const { store, replicas, log, job, deleteDelayMs } = this.deps;
    // The leaving replica is the natural source (it spares the others), when it is healthy.
    const others = chunk.healthyServerIds.filter((id) => id !== from);
    const sources = chunk.healthyServerIds.includes(from) ? [from, ...others] : others;
    const copied = await this.copier.copy(chunk, sources, to, new Set(), signal);
    if (copied === 'no-source' || copied === 'target-failed') return { outcome: copied, bytes: 0 };

    const switched = await store.moveReplica({ chunkId: chunk.chunkId, from, to, deleteAfterMs: deleteDelayMs });
    switch (switched) {
      case 'moved':
        log.info(`Replica of chunk ${chunk.chunkId}: server ${from} -> server ${to} (${job}; ${copied.bytes} bytes copied from server ${copied.source})`);
        if (deleteDelayMs === 0) await this.deleteNow(chunk.chunkId, from);
        return { outcome: 'moved', bytes: copied.bytes };
      case 'chunk-gone':
        // No row can ever name this chunk again: the copy goes now.
        log.info(`${job}: chunk ${chunk.chunkId} was deleted while it moved; deleting its copy on server ${to}`);
        await replicas.discard([{ chunkId: chunk.chunkId, serverId: to }]);
        break;
      case 'target-taken':
        // Another job (repair) recorded a copy on the target meanwhile: that copy is in use.
        log.info(`${job}: chunk ${chunk.chunkId} got a replica on server ${to} meanwhile; its replica on server ${from} stays for now`);
        break;
      case 'source-gone':
        // The replica on `from` went meanwhile (repair removed it): the copy is an extra, which
        // cleanup deletes unless a row names it by then.
        log.info(`${job}: chunk ${chunk.chunkId} has no replica on server ${from} any more; its new copy on server ${to} is left to cleanup`);
        await store.addPendingDeletes([{ chunkId: chunk.chunkId, serverId: to }]);
        break;
    }
    return { outcome: 'changed', bytes: copied.bytes };
  }

  /** MOVE_DELETE_DELAY_MS=0: the old copy (already a pending delete) goes at once, or cleanup retries it. */
  private async deleteNow(chunkId: string, serverId: string): Promise<void> {
    const failed = await this.deps.replicas.delete([{ chunkId, serverId }]).catch((error: unknown) => {
      this.deps.log.warn(`${this.deps.job}: could not delete the moved copy of chunk ${chunkId} on server ${serverId}: ${errorMessage(error)}`);
      return [];
    });
    if (failed.length > 0) this.deps.log.warn(`${this.deps.job}: could not delete the moved copy of chunk ${chunkId} on server ${serverId} now; cleanup will retry`);
  }
}
