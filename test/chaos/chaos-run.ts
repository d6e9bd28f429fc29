import { ChaosCluster } from './chaos-cluster';
import { FaultTimeline } from './fault-timeline';
import { runFaultSchedule } from './fault-schedule';
import { faultsOf, type FaultContext } from './faults';
import { GatewayClient } from './gateway-client';
import { runFinalChecks } from './invariants';
import { Ledger } from './ledger';
import { pause, seededRandom } from './random';
import { evaluate, machineDescription, type ChaosResult } from './report';
import { RequestStats } from './request-stats';
import { runWorkload } from './workload';

export interface ChaosOptions {
  /** A fault name, `mixed`, or a comma-separated list of fault names. */
  scenario: string;
  /** Seconds of load with faults (the final checks come on top). */
  durationS: number;
  /** PostgreSQL for the metadata (a fresh schema in it); embedded PGlite when absent. */
  postgresUrl?: string;
  seed?: number;
  /** Concurrent client requests. */
  workers?: number;
  maxFileBytes?: number;
  /** Shortest fault hold times, and every fault exactly once: the run lasts until all ran, at least durationS (CI). */
  quick?: boolean;
  log?: (message: string) => void;
}

/** The gateway runs the final checks with jobs on demand only, and a short grace so cleanup sees every orphan. */
const SETTLE_ENV = {
  REPAIR_INTERVAL_MS: '0',
  SCRUB_INTERVAL_MS: '0',
  CLEANUP_INTERVAL_MS: '3600000',
  ORPHAN_GRACE_MS: '1000',
  UPLOAD_SESSION_TTL_MS: '1000',
};

/** Starts a cluster, runs load and faults for the duration, settles, checks the invariants, cleans up. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const began = Date.now();
  const write = options.log ?? ((m: string) => process.stderr.write(`[chaos] ${m}\n`));
  const log = (m: string) => write(`+${((Date.now() - began) / 1000).toFixed(1)}s ${m}`);
  const faults = faultsOf(options.scenario);
  const seed = options.seed ?? Date.now() % 1_000_000;
  const random = seededRandom(seed);
  const date = new Date().toISOString();
  const machine = machineDescription();
  log(`scenario ${options.scenario}, ${options.durationS} s, seed ${seed}, metadata ${options.postgresUrl ? 'PostgreSQL' : 'embedded PGlite'}`);

  const cluster = await ChaosCluster.start({
    postgresUrl: options.postgresUrl,
    wantSmallDisk: faults.some((f) => f.name === 'diskfull'),
    smallDiskBytes: 512 * 1024 * 1024,
  });
  log('cluster up');
  try {
    const timeline = new FaultTimeline();
    const ledger = new Ledger();
    const stats = new RequestStats(timeline);
    const client = new GatewayClient(() => cluster.gatewayUrl);
    const ctx: FaultContext = { cluster, timeline, ledger, client, random, postgres: !!options.postgresUrl, quick: !!options.quick, log };
    const faultsSkipped: Record<string, string> = {};
    const active = faults.filter((fault) => {
      const why = fault.unavailable(ctx);
      if (why) faultsSkipped[fault.name] = why;
      return !why;
    });
    for (const [fault, why] of Object.entries(faultsSkipped)) log(`skipping ${fault}: ${why}`);

    const loadStop = new AbortController();
    const faultStop = new AbortController();
    const faultErrors: string[] = [];
    const load = runWorkload(client, ledger, stats, random, { workers: options.workers ?? 6, maxFileBytes: options.maxFileBytes ?? 4 * 1024 * 1024 }, loadStop.signal);
    const onError = (error: string) => {
      faultErrors.push(error);
      log(`fault error: ${error}`);
    };
    const schedule = runFaultSchedule(active, ctx, faultStop.signal, 3_000, onError, !!options.quick);
    await Promise.all([pause(options.durationS * 1000), options.quick ? schedule : undefined]);
    log('duration reached: undoing the fault in progress');
    faultStop.abort();
    await schedule;
    loadStop.abort();
    await load;
    log(`load stopped: ${stats.total} requests, ${stats.failures.length} failed; restoring every process`);

    await cluster.restoreAll();
    await cluster.restartGateway('SIGTERM', SETTLE_ENV);
    await cluster.waitForAllReady();
    log('gateway restarted for the final checks');
    const checks = await runFinalChecks(cluster, client, ledger, stats, log);
    const crashes = [...cluster.unexpectedExits];
    const { lost, invariants } = evaluate(stats, checks, crashes);
    return {
      scenario: options.scenario,
      metadata: options.postgresUrl ? 'postgresql' : 'embedded',
      durationS: options.durationS,
      date,
      machine,
      faultsInjected: timeline.countsByFault(),
      faultsSkipped,
      faultErrors,
      filesAcknowledged: ledger.acknowledged,
      filesDeleted: ledger.count('deleted'),
      requestsMade: stats.total,
      requestsByOp: { ...stats.made },
      failedByCause: stats.failedByCause(),
      failureKinds: stats.failureKinds(),
      checks,
      wrongBytes: stats.wrongBytes,
      acksBelowR: stats.acksBelowR,
      lost,
      crashes,
      invariants,
    };
  } finally {
    await cluster.stop();
  }
}
