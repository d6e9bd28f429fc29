import type { ConnectionSupervisor } from '../connection/types';
import type { MetadataStore } from '../metadata/types';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import type { CallOutcomes } from './call-outcome';

/** One copy of a chunk on one storage server. */
export interface ChunkLocation {
  chunkId: string;
  serverId: string;
}

export type PendingDeleteLog = Pick<MetadataStore, 'addPendingDeletes' | 'resolvePendingDelete' | 'failPendingDelete'>;

export interface ReplicaDeleterDeps {
  supervisor: Pick<ConnectionSupervisor, 'getClient'>;
  outcomes: CallOutcomes;
  /** Where copies still to delete are written down, so none is ever forgotten. */
  pendingDeletes: PendingDeleteLog;
  log: Logger;
  /** Deadline of one DeleteChunk call. */
  callTimeoutMs: number;
  /** Outcome of each delete, for metrics. */
  onDelete?(outcome: 'deleted' | 'failed'): void;
}

/**
 * Deletes chunk copies from storage servers through the pending-delete log: a copy is written
 * down before it is deleted and crossed off once it is gone, so a server that cannot be
 * reached now is retried by cleanup later instead of keeping the copy forever.
 */
export class ReplicaDeleter {
  constructor(private readonly deps: ReplicaDeleterDeps) {}

  /**
   * Deletes copies already written down as pending deletes; crosses off each one deleted (or
   * already gone) and returns those that failed, which stay pending with their error.
   */
  async delete(items: ChunkLocation[]): Promise<ChunkLocation[]> {
    const { pendingDeletes, log, onDelete } = this.deps;
    const failed: ChunkLocation[] = [];
    await Promise.all(
      items.map(async (item) => {
        try {
          await this.deleteOne(item);
          onDelete?.('deleted');
          await pendingDeletes.resolvePendingDelete(item.chunkId, item.serverId);
        } catch (error) {
          failed.push(item);
          onDelete?.('failed');
          await pendingDeletes
            .failPendingDelete(item.chunkId, item.serverId, errorMessage(error))
            .catch((e) => log.warn(`Could not record failed delete of ${item.chunkId}: ${errorMessage(e)}`));
        }
      }),
    );
    return failed;
  }

  /** Removes copies no metadata will reference (an upload that will not complete, extras): now if possible, else later. */
  async discard(locations: ChunkLocation[]): Promise<void> {
    if (locations.length === 0) return;
    const { pendingDeletes, log } = this.deps;
    await pendingDeletes
      .addPendingDeletes(locations)
      .catch((e) => log.warn(`Could not record chunks to delete: ${errorMessage(e)}; orphan cleanup will find them`));
    await this.delete(locations);
  }

  private async deleteOne({ chunkId, serverId }: ChunkLocation): Promise<void> {
    const { supervisor, outcomes, callTimeoutMs } = this.deps;
    const client = await supervisor.getClient(serverId);
    try {
      await client.deleteChunk(chunkId, { deadlineMs: callTimeoutMs });
      outcomes.succeeded(serverId);
    } catch (error) {
      const failure = outcomes.failed(serverId, error);
      if (failure.problem !== 'missing') throw failure; // already gone is what we wanted
    }
  }
}
