import type { ConnectionSupervisor } from '../connection/types';
import type { HashRing } from './hash-ring';

/** A server that refused a write for lack of space is left out of new chunks for this long. */
export const FULL_SERVER_PAUSE_MS = 30_000;

/**
 * Where new chunks go: walk the ring from the chunk id to the first distinct servers whose
 * connection is Ready, whose breaker admits traffic and that did not just report a full disk.
 */
export class Placement {
  /** serverId -> until when it takes no new chunks (it answered RESOURCE_EXHAUSTED). */
  private readonly fullUntil = new Map<string, number>();

  constructor(
    private readonly ring: () => HashRing,
    private readonly supervisor: ConnectionSupervisor,
    private readonly replicationFactor: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The server refused a write for lack of space: new chunks go elsewhere until the pause ends,
   * then one new chunk tries it again. Reads still go to it (its breaker is not involved).
   */
  pauseFull(serverId: string): void {
    this.fullUntil.set(serverId, this.now() + FULL_SERVER_PAUSE_MS);
  }

  private takesNewChunks(serverId: string): boolean {
    const until = this.fullUntil.get(serverId);
    if (until === undefined) return true;
    if (until > this.now()) return false;
    this.fullUntil.delete(serverId);
    return true;
  }

  /** Wanted copies: REPLICATION_FACTOR, capped by the servers in the ring. */
  wantedReplicas(): number {
    return Math.max(1, Math.min(this.replicationFactor, this.ring().size));
  }

  /** Up to `count` available servers for a chunk, excluding `exclude`, in ring order. */
  targets(chunkId: string, exclude: ReadonlySet<string> = new Set(), count = this.wantedReplicas()): string[] {
    return this.ring().pick(chunkId, count, (id) => !exclude.has(id) && this.supervisor.isAvailable(id) && this.takesNewChunks(id));
  }

  /** Up to wantedReplicas() servers for a chunk in ring order, Ready or not (to wake them). */
  candidates(chunkId: string, exclude: ReadonlySet<string> = new Set()): string[] {
    return this.ring().pick(chunkId, this.wantedReplicas(), (id) => !exclude.has(id));
  }
}
