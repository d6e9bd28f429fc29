import type { ChunkToRepair, ServerRecord } from '../metadata/types';
import { MembershipError } from '../replicas/membership-errors';
import type { ServerRegistry } from '../replicas/registry';
import type { Replicas } from '../replicas/replicas';
import { forEachLimited } from './for-each-limited';
import { JobProgress, type JobStatus } from './job-progress';
import { MoveRunRecord } from './move-run-record';
import { MOVES_LOCK, ReplicaMover, type MoveJobDeps } from './replica-mover';

export interface DrainReport {
  /** Servers whose chunks this run moved (or tried to). */
  serversDraining: number;
  chunksMoved: number;
  bytesMoved: number;
  /** Chunks that could not move in this run (no server to take them, no readable copy, a failed copy); retried next run. */
  chunksFailed: number;
  /** Servers found empty and marked drained. */
  serversDrained: number;
}

export interface DrainDeps extends MoveJobDeps {
  replicas: MoveJobDeps['replicas'] & Pick<Replicas, 'placement'>;
  registry: Pick<ServerRegistry, 'refresh' | 'list' | 'changeMembership'>;
}

/** Chunks of a draining server fetched per query. */
const BATCH = 100;

/**
 * Drain: every chunk on a draining server gets a replica on another server chosen by
 * placement (the ring walk from the chunk id, past servers that hold it or are leaving), with
 * the move's safety rules (ReplicaMover). The work left is what the metadata records on the
 * server, so a run stopped anywhere (a gateway killed, a job taken over by another gateway)
 * resumes with the next one. A server with no replica row left, and no copy left to delete
 * while it is up, becomes drained; one that gets chunks again (a gateway that had not seen the
 * drain yet) becomes draining again.
 */
export class DrainJob {
  private readonly progress: JobProgress<DrainReport>;

  constructor(private readonly deps: DrainDeps) {
    this.progress = new JobProgress('drain', emptyDrainReport, deps.log);
  }

  /**
   * One pass under the cluster-wide moves lock; undefined when another gateway holds it. Most
   * runs have nothing to move (no server drains, or one only waits for its moved copies to be
   * deleted): those take no lock and log only a change of membership.
   */
  async run(signal?: AbortSignal): Promise<DrainReport | undefined> {
    const leaving = await this.leavingServers();
    if (!leaving.some((l) => l.chunks > 0)) {
      const report = emptyDrainReport();
      for (const { server } of leaving) if (await this.markIfDrained(server.id, server.live, false)) report.serversDrained++;
      return report;
    }
    return this.progress.runLocked((fn) => this.deps.store.withJobLock(MOVES_LOCK, fn), (r) => this.pass(r, signal), signal);
  }

  status(): JobStatus<DrainReport> {
    return this.progress.status();
  }

  private async pass(report: DrainReport, signal?: AbortSignal): Promise<void> {
    const { registry, store } = this.deps;
    const leaving = await this.leavingServers();
    if (leaving.length === 0) return;
    const record = new MoveRunRecord(store, 'drain', this.deps.gatewayId, report, this.deps.log);
    await record.track(async () => {
      const mover = this.mover();
      for (const { server, chunks } of leaving) {
        signal?.throwIfAborted();
        if (server.membership === 'drained') {
          await registry.changeMembership(server.id, 'draining', ['drained'], `${chunks} chunks were stored on it after it was drained`);
        }
        report.serversDraining++;
        if (!(await this.drainServer(server.id, mover, report, record, signal))) continue;
        if (await this.markIfDrained(server.id, server.live, true)) report.serversDrained++;
      }
    }, signal);
  }

  /**
   * Draining servers, and drained ones that got chunks again (a gateway that had not seen the
   * drain yet placed some there). The registry is refreshed first: another gateway may have
   * started or stopped a drain, and this gateway's ring must know before anything moves.
   */
  private async leavingServers(): Promise<Array<{ server: ServerRecord & { live: boolean }; chunks: number }>> {
    const { registry, store } = this.deps;
    await registry.refresh();
    const leaving: Array<{ server: ServerRecord & { live: boolean }; chunks: number }> = [];
    for (const server of registry.list()) {
      if (server.membership !== 'draining' && server.membership !== 'drained') continue;
      const [usage] = await store.serverUsage(server.id);
      if (server.membership === 'draining' || (usage?.chunks ?? 0) > 0) leaving.push({ server, chunks: usage?.chunks ?? 0 });
    }
    return leaving;
  }

  /** Moves every chunk on the server it can; false when the drain was stopped (undrain) meanwhile. */
  private async drainServer(serverId: string, mover: ReplicaMover, report: DrainReport, record: MoveRunRecord, signal?: AbortSignal): Promise<boolean> {
    const { store, registry, config, log } = this.deps;
    const failedBefore = report.chunksFailed;
    let noTarget = 0;
    for (let after = ''; ; ) {
      signal?.throwIfAborted();
      await registry.refresh();
      if (!this.isDraining(serverId)) {
        log.info(`Drain of server ${serverId} stopped: it is not draining any more`);
        return false;
      }
      // Copies count as healthy on every server still in the cluster; those that cannot be read now are skipped.
      const readable = registry.list().filter((s) => s.membership !== 'removed').map((s) => s.id);
      const batch = await store.chunksOnServer(serverId, readable, after, BATCH);
      if (batch.length === 0) break;
      after = batch[batch.length - 1].chunkId;
      await forEachLimited(batch, config.concurrency, async (chunk) => {
        if (!this.isDraining(serverId)) return;
        if (!(await this.moveOne(chunk, serverId, mover, report, signal))) noTarget++;
        record.update();
      });
    }
    const failed = report.chunksFailed - failedBefore;
    if (failed > 0) {
      log.warn(
        `Drain of server ${serverId}: ${failed} chunks could not move in this run` +
          (noTarget > 0 ? ` (${noTarget} had no server to go to: every active server that can take new chunks holds them already, or none is available)` : '') +
          '; the next run tries again',
      );
    }
    return true;
  }

  /** One chunk to the server placement picks for it; false when there is none. */
  private async moveOne(chunk: ChunkToRepair, from: string, mover: ReplicaMover, report: DrainReport, signal?: AbortSignal): Promise<boolean> {
    // Never where a copy is recorded (that would lose a replica), nor where one is being deleted
    // (cleanup would delete the new copy with it).
    const exclude = new Set([...chunk.allServerIds, ...chunk.deletingServerIds]);
    const [target] = this.deps.replicas.placement.targets(chunk.chunkId, exclude, 1);
    if (!target) {
      report.chunksFailed++;
      this.deps.onChunk?.('failed', 0);
      return false;
    }
    const { outcome, bytes } = await mover.move(chunk, from, target, signal);
    if (outcome === 'moved') {
      report.chunksMoved++;
      report.bytesMoved += bytes;
      this.deps.onChunk?.('moved', bytes);
    } else if (outcome !== 'changed') {
      report.chunksFailed++;
      this.deps.onChunk?.('failed', 0);
    }
    return true;
  }

  /**
   * Drained once no replica row names it and, while it is up, the copies moved off it are
   * deleted too (MOVE_DELETE_DELAY_MS after their move, by cleanup): then it holds nothing of
   * ours. A server that is down cannot delete, and its copies are the operator's to wipe.
   */
  private async markIfDrained(serverId: string, live: boolean, sayWhatIsLeft: boolean): Promise<boolean> {
    const { store, registry, log } = this.deps;
    const [usage] = await store.serverUsage(serverId);
    const chunks = usage?.chunks ?? 0;
    const toDelete = usage?.pendingDeletes ?? 0;
    if (chunks === 0 && (toDelete === 0 || !live)) {
      try {
        await registry.changeMembership(serverId, 'drained', ['draining'], 'every chunk it held has its replicas on other servers');
        return true;
      } catch (error) {
        // Undrained meanwhile, or another gateway marked it first: either way not ours to change.
        if (error instanceof MembershipError) return false;
        throw error;
      }
    }
    if (sayWhatIsLeft) log.info(`Drain of server ${serverId}: ${chunks} chunks left to move, ${toDelete} moved copies still to delete`);
    return false;
  }

  private isDraining(serverId: string): boolean {
    return this.deps.registry.list().some((s) => s.id === serverId && s.membership === 'draining');
  }

  private mover(): ReplicaMover {
    const { store, replicas, bandwidth, config, log } = this.deps;
    return new ReplicaMover({ store, replicas, bandwidth, deleteDelayMs: config.deleteDelayMs, log, job: 'drain' });
  }
}

export function emptyDrainReport(): DrainReport {
  return { serversDraining: 0, chunksMoved: 0, bytesMoved: 0, chunksFailed: 0, serversDrained: 0 };
}
