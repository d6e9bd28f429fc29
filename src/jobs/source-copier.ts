import type { ChunkToRepair, MetadataStore } from '../metadata/types';
import { ChunkCopyError, type Bandwidth } from '../replicas/chunk-copy';
import type { Replicas } from '../replicas/replicas';
import type { Logger } from '../util/logger';

export interface SourceCopierDeps {
  store: Pick<MetadataStore, 'markReplicaCorrupt'>;
  replicas: Pick<Replicas, 'copyChunk' | 'isAvailable' | 'waitUntilAvailable'>;
  bandwidth: Bandwidth;
  log: Logger;
  /** Who copies, for the logs (repair, drain, rebalance). */
  job: string;
}

/** How long a copy waits for a source replica's server to become Ready. */
const SOURCE_WAIT_MS = 2_000;

/**
 * Copies chunks to a chosen server from the first of their replicas that can be read, for one
 * run of a job (repair, drain, rebalance). A source found corrupt or missing is marked so in
 * the metadata and taken out of the caller's list; a source whose server does not come back
 * when asked is not waited for again in this run.
 */
export class SourceCopier {
  /** Servers that did not become Ready when asked during this run. */
  private readonly unreachable = new Set<string>();

  constructor(private readonly deps: SourceCopierDeps) {}

  /**
   * Streams the chunk to `target` from `sources` (readable first, in order), paced by the
   * bandwidth; the target checks the recorded SHA-256 before it keeps anything. Returns the
   * bytes copied and the source they came from, 'target-failed' when the target cannot take
   * it, or 'no-source' when no source could be read. Sources that turn out corrupt or missing
   * leave `sources` for `bad`.
   */
  async copy(
    chunk: Pick<ChunkToRepair, 'chunkId' | 'size' | 'checksum'>,
    sources: string[],
    target: string,
    bad: Set<string>,
    signal?: AbortSignal,
  ): Promise<{ bytes: number; source: string } | 'target-failed' | 'no-source'> {
    const { replicas, store, log, job } = this.deps;
    if (!replicas.isAvailable(target)) return 'target-failed';
    for (const source of orderByAvailability(sources, replicas)) {
      if (!(await this.sourceAvailable(source))) continue;
      try {
        const bytes = await replicas.copyChunk({
          chunkId: chunk.chunkId,
          size: chunk.size,
          checksum: chunk.checksum,
          sourceServerId: source,
          targetServerId: target,
          bandwidth: this.deps.bandwidth,
          signal,
        });
        return { bytes, source };
      } catch (error) {
        if (!(error instanceof ChunkCopyError)) throw error;
        log.warn(`${job}: copy of chunk ${chunk.chunkId} from server ${source} to server ${target}: ${error.message}`);
        if (error.side === 'target') return 'target-failed';
        if (error.problem === 'corrupt' || error.problem === 'missing') {
          await store.markReplicaCorrupt(chunk.chunkId, source);
          sources.splice(sources.indexOf(source), 1);
          bad.add(source);
        }
      }
    }
    return 'no-source';
  }

  /** Whether a source can be read from now, waiting briefly once per server and run. */
  private async sourceAvailable(serverId: string): Promise<boolean> {
    const { replicas } = this.deps;
    if (replicas.isAvailable(serverId)) return true;
    if (this.unreachable.has(serverId)) return false;
    if (await replicas.waitUntilAvailable(serverId, SOURCE_WAIT_MS)) return true;
    this.unreachable.add(serverId);
    return false;
  }
}

/** Ready servers first: they answer without a reconnect. */
function orderByAvailability(serverIds: string[], replicas: Pick<Replicas, 'isAvailable'>): string[] {
  return [...serverIds.filter((id) => replicas.isAvailable(id)), ...serverIds.filter((id) => !replicas.isAvailable(id))];
}
