import type { ConnectionPool } from '../connection/types';
import type { HashRing } from '../ring/hash-ring';

/**
 * Where new chunks go: walk the ring from the chunk id to the first distinct servers whose
 * connection is Ready and whose breaker admits traffic.
 */
export class Placement {
  constructor(
    private readonly ring: () => HashRing,
    private readonly pool: ConnectionPool,
    private readonly replicationFactor: number,
  ) {}

  /** Wanted copies: REPLICATION_FACTOR, capped by the servers in the ring. */
  wantedReplicas(): number {
    return Math.max(1, Math.min(this.replicationFactor, this.ring().size));
  }

  /** Up to `count` available servers for a chunk, excluding `exclude`, in ring order. */
  targets(chunkId: string, exclude: ReadonlySet<string> = new Set(), count = this.wantedReplicas()): string[] {
    return this.ring().pick(chunkId, count, (id) => !exclude.has(id) && this.pool.isAvailable(id));
  }

  /** Up to wantedReplicas() servers for a chunk in ring order, Ready or not (to wake them). */
  candidates(chunkId: string, exclude: ReadonlySet<string> = new Set()): string[] {
    return this.ring().pick(chunkId, this.wantedReplicas(), (id) => !exclude.has(id));
  }
}
