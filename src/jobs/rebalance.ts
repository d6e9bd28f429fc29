import type { ChunkToRepair, MetadataStore } from '../metadata/types';
import type { ServerRegistry } from '../replicas/registry';
import { capacityWeights } from '../replicas/server-capacity';
import { BalancePlan } from './balance-plan';
import { JobProgress, type JobStatus } from './job-progress';
import { MoveRunRecord } from './move-run-record';
import { MOVES_LOCK, ReplicaMover, type MoveJobDeps } from './replica-mover';

export interface RebalanceReport {
  /** Bytes that had to move when the run started, for every server to be within the band. */
  bytesToMove: number;
  chunksMoved: number;
  bytesMoved: number;
  /** Moves that failed (no readable copy, the target failed); those chunks wait for the next run. */
  chunksFailed: number;
  /** Servers still outside the band when the run ended (0: balanced). */
  serversOutsideBand: number;
}

export interface RebalanceDeps extends MoveJobDeps {
  registry: Pick<ServerRegistry, 'refresh' | 'list' | 'currentRing'>;
}

/** Chunks of a server fetched per query while looking for ones to move. */
const BATCH = 200;
/** Chunks kept in hand per server while looking for one that fits a pair (bounds memory). */
const MAX_CANDIDATES = 2_000;
/** A target that fails this many moves in a row is left out for the rest of the round. */
const TARGET_FAILURES = 3;
/** Rounds of one run at most: a cluster under heavy writes is never "done", the next run carries on. */
const MAX_ROUNDS = 5;

interface Move {
  chunk: ChunkToRepair;
  from: string;
  to: string;
}

/**
 * Rebalance: moves replicas from the servers holding the most bytes (against their share,
 * which follows their disk size) to those holding the fewest, until every active server is
 * within REBALANCE_BAND_PERCENT of its share, with the move's safety rules (ReplicaMover):
 * copy, verify, switch the replica row, delete the old copy later. Draining, removed, silent
 * and unreachable servers take no part.
 */
export class RebalanceJob {
  private readonly progress: JobProgress<RebalanceReport>;

  constructor(private readonly deps: RebalanceDeps) {
    this.progress = new JobProgress('rebalance', emptyRebalanceReport, deps.log);
  }

  /** One run under the cluster-wide moves lock; undefined when another gateway holds it (or a drain runs). */
  async run(signal?: AbortSignal): Promise<RebalanceReport | undefined> {
    return this.progress.runLocked((fn) => this.deps.store.withJobLock(MOVES_LOCK, fn), (r) => this.pass(r, signal), signal);
  }

  status(): JobStatus<RebalanceReport> {
    return this.progress.status();
  }

  /**
   * Rounds of moves, each planned on fresh usage, until every server is within the band or a
   * round moves nothing: files uploaded meanwhile, and moves that failed, change the figures.
   */
  private async pass(report: RebalanceReport, signal?: AbortSignal): Promise<void> {
    const { store, config, log } = this.deps;
    const record = new MoveRunRecord(store, 'rebalance', this.deps.gatewayId, report, log);
    let plan = await this.plan();
    report.bytesToMove = plan.bytesToMove();
    report.serversOutsideBand = plan.outsideBand().length;
    await record.track(async () => {
      for (let round = 1; report.serversOutsideBand > 0; round++) {
        log.info(
          `Rebalance round ${round}: ${report.serversOutsideBand} of ${plan.balances().length} servers outside ${config.rebalanceBandPercent}% of their share; about ${plan.bytesToMove()} bytes to move`,
        );
        const moved = await this.round(plan, report, record, signal);
        plan = await this.plan();
        report.serversOutsideBand = plan.outsideBand().length;
        if (moved === 0 || round === MAX_ROUNDS) break;
      }
      if (report.serversOutsideBand > 0) {
        log.warn(
          `Rebalance: ${report.serversOutsideBand} servers still outside the band: no more chunk could move between them (chunks larger than the band, copies on every candidate, or failed targets)`,
        );
      } else {
        log.info(`Rebalance: every one of ${plan.balances().length} active servers is within ${config.rebalanceBandPercent}% of its share`);
      }
    }, signal);
  }

  /** Where the live, active, reachable servers stand now (draining, removed and silent ones take no part). */
  private async plan(): Promise<BalancePlan> {
    const { registry, store, replicas, config } = this.deps;
    await registry.refresh();
    const servers = registry.list().filter((s) => s.live && s.membership === 'active' && replicas.isAvailable(s.id));
    const usage = new Map((await store.serverUsage()).map((u) => [u.serverId, u.bytes]));
    const weights = capacityWeights(servers);
    return new BalancePlan(
      servers.map((s) => ({ id: s.id, bytes: usage.get(s.id) ?? 0, weight: weights.get(s.id)! })),
      config.rebalanceBandPercent,
    );
  }

  /** Moves what the plan proposes, `concurrency` at a time; returns the chunks moved. */
  private async round(plan: BalancePlan, report: RebalanceReport, record: MoveRunRecord, signal?: AbortSignal): Promise<number> {
    const { registry, store, replicas, config, log } = this.deps;
    const readable = registry.list().filter((s) => s.membership !== 'removed').map((s) => s.id);
    // The ring holds the servers that take new chunks now: live, active (not one drained
    // since the run began) and not low on space.
    const takesChunks = (id: string) => registry.currentRing().serverIds.has(id) && !registry.currentRing().isLowOnSpace(id);
    const planner = new MovePlanner(plan, store, readable, takesChunks);
    const mover = new ReplicaMover({ store, replicas, bandwidth: this.deps.bandwidth, deleteDelayMs: config.deleteDelayMs, log, job: 'rebalance' });
    let moved = 0;
    const worker = async (): Promise<void> => {
      for (let move = await planner.next(); move; move = await planner.next()) {
        signal?.throwIfAborted();
        const { outcome, bytes } = await mover.move(move.chunk, move.from, move.to, signal);
        if (outcome === 'moved') {
          moved++;
          report.chunksMoved++;
          report.bytesMoved += bytes;
          this.deps.onChunk?.('moved', bytes);
        } else {
          plan.apply(move.from, move.to, -move.chunk.size);
          if (outcome !== 'changed') {
            report.chunksFailed++;
            this.deps.onChunk?.('failed', 0);
          }
        }
        planner.targetOutcome(move.to, outcome !== 'target-failed');
        report.serversOutsideBand = plan.outsideBand().length;
        record.update();
      }
    };
    await Promise.all(Array.from({ length: config.concurrency }, worker));
    return moved;
  }
}

/**
 * Picks the next move: for the best pair of servers (BalancePlan), a chunk on the fuller one
 * that the emptier one does not hold nor is deleting and whose size makes the spread smaller.
 * Each move is booked in the plan when picked; one pick at a time (the workers share it).
 */
class MovePlanner {
  private readonly candidates = new Map<string, { chunks: ChunkToRepair[]; after: string; listed: boolean }>();
  /** Chunks picked in this run: each moves at most once. */
  private readonly picked = new Set<string>();
  /** Pairs with no chunk left to move between them. */
  private readonly exhausted = new Set<string>();
  private readonly failures = new Map<string, number>();
  private picking: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly plan: BalancePlan,
    private readonly store: Pick<MetadataStore, 'chunksOnServer'>,
    private readonly readable: string[],
    private readonly takesChunks: (serverId: string) => boolean,
  ) {}

  next(): Promise<Move | undefined> {
    const next = this.picking.then(() => this.pick());
    this.picking = next.catch(() => undefined);
    return next;
  }

  /** A target that keeps failing is left out for the rest of the run. */
  targetOutcome(serverId: string, ok: boolean): void {
    this.failures.set(serverId, ok ? 0 : (this.failures.get(serverId) ?? 0) + 1);
  }

  private async pick(): Promise<Move | undefined> {
    for (const { from, to } of this.plan.pairs()) {
      const key = `${from}>${to}`;
      if (this.exhausted.has(key) || !this.takesChunks(to) || (this.failures.get(to) ?? 0) >= TARGET_FAILURES) continue;
      const chunk = await this.chunkFor(from, to);
      if (!chunk) {
        this.exhausted.add(key);
        continue;
      }
      this.picked.add(chunk.chunkId);
      this.plan.apply(from, to, chunk.size);
      return { chunk, from, to };
    }
    return undefined;
  }

  private async chunkFor(from: string, to: string): Promise<ChunkToRepair | undefined> {
    const held = this.candidates.get(from) ?? { chunks: [], after: '', listed: false };
    this.candidates.set(from, held);
    for (;;) {
      held.chunks = held.chunks.filter((c) => !this.picked.has(c.chunkId));
      const fit = held.chunks.find(
        (c) => !c.allServerIds.includes(to) && !c.deletingServerIds.includes(to) && this.plan.improves(from, to, c.size),
      );
      if (fit || held.listed || held.chunks.length >= MAX_CANDIDATES) return fit;
      const page = await this.store.chunksOnServer(from, this.readable, held.after, BATCH);
      if (page.length === 0) held.listed = true;
      else {
        held.after = page[page.length - 1].chunkId;
        held.chunks.push(...page);
      }
    }
  }
}

export function emptyRebalanceReport(): RebalanceReport {
  return { bytesToMove: 0, chunksMoved: 0, bytesMoved: 0, chunksFailed: 0, serversOutsideBand: 0 };
}
