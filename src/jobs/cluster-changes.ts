import type { MetadataStore, MoveRun, ServerRecord, ServerRemoval, ServerUsage } from '../metadata/types';
import type { Metrics } from '../observability/metrics';
import type { ServerRegistry } from '../replicas/registry';
import type { Replicas } from '../replicas/replicas';
import { capacityWeights } from '../replicas/server-capacity';
import { errorMessage } from '../util/error-message';
import { createLogger } from '../util/logger';
import { BalancePlan } from './balance-plan';
import type { MovesConfig } from './config';
import { countedRun } from './counted-run';
import { DrainJob, type DrainReport } from './drain';
import type { JobStatus } from './job-progress';
import { PeriodicJob } from './periodic';
import { RateLimiter } from './rate-limiter';
import { RebalanceJob, type RebalanceReport } from './rebalance';

/** Drain progress of one server, measured against what it held when its drain began. */
export interface DrainProgress {
  startedAt: Date | null;
  chunksTotal: number;
  bytesTotal: number;
  chunksLeft: number;
  bytesLeft: number;
  /** Of the bytes (of the chunks when it held no bytes), 0-100. */
  percentDone: number;
}

/** What one server holds, and where it stands against its share. */
export interface ServerHolding {
  chunks: number;
  bytes: number;
  /** Copies on it written down for deletion, not deleted yet. */
  copiesToDelete: number;
  /** Bytes it would hold at its share (active, live servers only; null for the others). */
  targetBytes: number | null;
  /** How far it is from its share, in percent (null when it has none). */
  deviationPercent: number | null;
  /** While draining or drained. */
  drain: DrainProgress | null;
}

/** The last run of drain or rebalance, whichever gateway ran it. */
export interface MoveRunView extends Omit<MoveRun, 'job'> {
  /** Not finished, and its gateway recorded progress lately. */
  running: boolean;
}

export interface ClusterHoldings {
  servers: Map<string, ServerHolding>;
  balance: {
    bandPercent: number;
    /** Every active, live server within the band of its share. */
    balanced: boolean;
    serversOutsideBand: number;
    bytesToMove: number;
  };
  runs: { drain: MoveRunView | null; rebalance: MoveRunView | null };
}

/** What asking for a rebalance did. */
export type RebalanceStart =
  | { state: 'started' }
  | { state: 'finished'; report: RebalanceReport }
  /** Another run of drain or rebalance holds the moves lock (on this gateway or another). */
  | { state: 'busy' };

/** The operator's cluster changes, as the HTTP layer (GET/POST /admin/servers...) uses them. */
export interface ClusterAdmin {
  holdings(): Promise<ClusterHoldings>;
  /** The server (id or address) takes no new chunks from now on, and its chunks start moving away. */
  drain(server: string): Promise<ServerRecord>;
  /** Stops a drain (or brings a drained or removed server back): the server takes new chunks again. */
  undrain(server: string): Promise<ServerRecord>;
  /** Takes the server out of the cluster; refused while it holds chunks unless `force`. */
  remove(server: string, force: boolean): Promise<ServerRemoval & { serverId: string }>;
  /** Starts a rebalance (returns once it is under way, or done when that is quick). */
  rebalance(): Promise<RebalanceStart>;
}

export interface ClusterChangesDeps {
  store: MetadataStore;
  replicas: Replicas;
  registry: ServerRegistry;
  config: MovesConfig;
  gatewayId: string;
  metrics: Metrics;
}

export interface ClusterChanges {
  admin: ClusterAdmin;
  /** drain and rebalance, for POST /admin/jobs/<name> and shutdown. */
  jobs: [PeriodicJob<DrainReport>, PeriodicJob<RebalanceReport>];
  /** Schedules the jobs whose interval is not 0. */
  start(): void;
  /** This gateway's runs of drain and rebalance (GET /admin/repair); every gateway's last run is in holdings(). */
  status(): { drain: JobStatus<DrainReport>; rebalance: JobStatus<RebalanceReport> };
}

/** Usage is a scan of every replica row: computed at most this often for views. */
const USAGE_TTL_MS = 2_000;
/** A run that recorded no progress for this long ended with its gateway. */
const STALE_RUN_MS = 30_000;
/** How long a rebalance request waits before it answers "started" (rather than "done" or "busy"). */
const START_WAIT_MS = 1_000;

/**
 * Drain, undrain, remove and rebalance, wired to their jobs, the registry and the metrics.
 * Membership lives in the metadata store, so every gateway stops placing chunks on a draining
 * server (at its next ring refresh, at once on the gateway asked); the jobs run on one gateway
 * at a time under the moves lock, share MOVE_BANDWIDTH, and resume from the metadata.
 */
export function createClusterChanges(deps: ClusterChangesDeps): ClusterChanges {
  const { store, replicas, registry, config, gatewayId, metrics } = deps;
  const log = createLogger('cluster');
  const bandwidth = new RateLimiter(config.bandwidthBytesPerSec);
  const counted = (job: string) => (outcome: 'moved' | 'failed', bytes: number) => {
    metrics.movedChunks.inc({ job, outcome });
    if (bytes > 0) metrics.movedBytes.inc({ job }, bytes);
  };
  const drain = new DrainJob({ store, replicas, registry, config, bandwidth, gatewayId, log: createLogger('drain'), onChunk: counted('drain') });
  const rebalance = new RebalanceJob({ store, replicas, registry, config, bandwidth, gatewayId, log: createLogger('rebalance'), onChunk: counted('rebalance') });

  let usage: { at: number; rows: Promise<ServerUsage[]> } | null = null;
  const currentUsage = (): Promise<ServerUsage[]> => {
    if (!usage || Date.now() - usage.at > USAGE_TTL_MS) {
      const rows = store.serverUsage();
      usage = { at: Date.now(), rows };
      rows.catch(() => (usage = null));
    }
    return usage.rows;
  };

  const drainJob = new PeriodicJob<DrainReport>('drain', config.drainIntervalMs, (signal) => jobRun('drain', drain.run(signal)), log);
  const rebalanceJob = new PeriodicJob<RebalanceReport>('rebalance', config.rebalanceIntervalMs, (signal) => jobRun('rebalance', rebalance.run(signal)), log);

  /** Counts the run, and makes the next view read fresh usage. */
  function jobRun<R>(job: string, run: Promise<R | undefined>): Promise<R | undefined> {
    return countedRun(metrics, job, run).finally(() => (usage = null));
  }

  const holdings = async (): Promise<ClusterHoldings> => {
    const [rows, runs] = await Promise.all([currentUsage(), store.moveRuns()]);
    return holdingsOf(registry.list(), rows, runs, config.rebalanceBandPercent, (id) => replicas.isAvailable(id));
  };
  metrics.setMovesSource(async () => {
    const [rows, view] = await Promise.all([currentUsage(), holdings()]);
    return { drain: drainingChunks(registry.list(), rows), rebalance: rebalanceEstimate(view, rows) };
  });
  metrics.setServersSource(async () => {
    const usageById = new Map((await currentUsage()).map((row) => [row.serverId, row]));
    return registry.list().map((server) => ({
      serverId: server.id,
      address: server.address,
      membership: server.membership,
      chunksHeld: usageById.get(server.id)?.chunks ?? 0,
      bytesHeld: usageById.get(server.id)?.bytes ?? 0,
      availableSpace: server.availableSpace ?? undefined,
      totalSpace: server.totalSpace ?? undefined,
    }));
  });

  const admin: ClusterAdmin = {
    holdings,

    async drain(name) {
      const server = registry.resolve(name);
      if (server.membership === 'draining' || server.membership === 'drained') return server;
      const updated = await registry.changeMembership(server.id, 'draining', ['active'], 'drain asked by an operator');
      usage = null;
      // Start at once rather than at the next interval; a run already under way (or one on
      // another gateway) leaves this one skipped, and the schedule carries on.
      drainJob.runNow().catch((error) => log.warn(`Drain run failed: ${errorMessage(error)}`));
      return updated;
    },

    async undrain(name) {
      const server = registry.resolve(name);
      if (server.membership === 'active') return server;
      const updated = await registry.changeMembership(server.id, 'active', ['draining', 'drained', 'removed'], 'undrain asked by an operator');
      usage = null;
      return updated;
    },

    async remove(name, force) {
      const server = registry.resolve(name);
      const removal = await registry.remove(server.id, force);
      usage = null;
      return { serverId: server.id, ...removal };
    },

    async rebalance() {
      const run = rebalanceJob.runNow();
      run.catch((error) => log.warn(`Rebalance failed: ${errorMessage(error)}`));
      const settled = await Promise.race([run.then((report) => ({ report })), delay(START_WAIT_MS)]);
      if (!settled) return { state: 'started' };
      return settled.report ? { state: 'finished', report: settled.report } : { state: 'busy' };
    },
  };

  return {
    admin,
    jobs: [drainJob, rebalanceJob],
    start() {
      if (config.drainIntervalMs > 0) drainJob.start();
      if (config.rebalanceIntervalMs > 0) rebalanceJob.start();
    },
    status: () => ({ drain: drain.status(), rebalance: rebalance.status() }),
  };
}

/** Each server's holding, its share (active, live, reachable servers) and drain progress, and the runs. */
function holdingsOf(
  servers: Array<ServerRecord & { live: boolean }>,
  usage: ServerUsage[],
  runs: MoveRun[],
  bandPercent: number,
  isAvailable: (serverId: string) => boolean,
): ClusterHoldings {
  const used = new Map(usage.map((u) => [u.serverId, u]));
  const balancing = servers.filter((s) => s.live && s.membership === 'active' && isAvailable(s.id));
  const weights = capacityWeights(balancing);
  const plan = new BalancePlan(balancing.map((s) => ({ id: s.id, bytes: used.get(s.id)?.bytes ?? 0, weight: weights.get(s.id)! })), bandPercent);
  const shares = new Map(plan.balances().map((b) => [b.id, b]));
  const holdings = new Map<string, ServerHolding>();
  for (const server of servers) {
    const held = used.get(server.id);
    const share = shares.get(server.id);
    const chunks = held?.chunks ?? 0;
    const bytes = held?.bytes ?? 0;
    holdings.set(server.id, {
      chunks,
      bytes,
      copiesToDelete: held?.pendingDeletes ?? 0,
      targetBytes: share?.targetBytes ?? null,
      deviationPercent: share ? Math.round(share.deviationPercent * 10) / 10 : null,
      drain: server.drainStart && (server.membership === 'draining' || server.membership === 'drained') ? drainProgress(server, chunks, bytes) : null,
    });
  }
  const outside = plan.outsideBand().length;
  const byJob = new Map(runs.map((run) => [run.job, run]));
  return {
    servers: holdings,
    balance: { bandPercent, balanced: outside === 0, serversOutsideBand: outside, bytesToMove: plan.bytesToMove() },
    runs: { drain: runView(byJob.get('drain')), rebalance: runView(byJob.get('rebalance')) },
  };
}

function drainProgress(server: ServerRecord, chunksLeft: number, bytesLeft: number): DrainProgress {
  const { chunks: chunksTotal, bytes: bytesTotal } = server.drainStart!;
  const done = bytesTotal > 0 ? 1 - bytesLeft / bytesTotal : chunksTotal > 0 ? 1 - chunksLeft / chunksTotal : 1;
  return {
    startedAt: server.membershipChangedAt,
    chunksTotal,
    bytesTotal,
    chunksLeft,
    bytesLeft,
    percentDone: Math.round(Math.min(1, Math.max(0, done)) * 1000) / 10,
  };
}

function runView(run: MoveRun | undefined): MoveRunView | null {
  if (!run) return null;
  const { job: _job, ...rest } = run;
  return { ...rest, running: run.finishedAt === null && Date.now() - run.updatedAt.getTime() < STALE_RUN_MS };
}

/** Replica rows on draining servers: exactly what drain still has to move. */
function drainingChunks(servers: ServerRecord[], usage: ServerUsage[]): number {
  const draining = new Set(servers.filter((s) => s.membership === 'draining').map((s) => s.id));
  return usage.filter((u) => draining.has(u.serverId)).reduce((sum, u) => sum + u.chunks, 0);
}

/** The bytes a rebalance must move, in chunks of the mean size. */
function rebalanceEstimate(view: ClusterHoldings, usage: ServerUsage[]): number {
  const chunks = usage.reduce((sum, u) => sum + u.chunks, 0);
  const bytes = usage.reduce((sum, u) => sum + u.bytes, 0);
  return chunks === 0 || bytes === 0 ? 0 : Math.ceil(view.balance.bytesToMove / (bytes / chunks));
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
