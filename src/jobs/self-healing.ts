import type { MetadataStore } from '../metadata/types';
import type { Metrics } from '../observability/metrics';
import type { Replicas } from '../replicas/replicas';
import { createLogger } from '../util/logger';
import type { JobsConfig } from './config';
import { countedRun } from './counted-run';
import { PeriodicJob } from './periodic';
import { RepairJob, type RepairReport, type RepairStatus } from './repair';
import { ScrubJob, type ScrubReport, type ScrubStatus } from './scrub';

export interface SelfHealingDeps {
  store: MetadataStore;
  replicas: Replicas;
  replicationFactor: number;
  streamIdleTimeoutMs: number;
  config: JobsConfig;
  metrics: Metrics;
}

export interface SelfHealingStatus {
  repair: RepairStatus;
  scrub: ScrubStatus;
}

export interface SelfHealing {
  /** The repair and scrub jobs, for POST /admin/jobs/<name> and shutdown. */
  jobs: [PeriodicJob<RepairReport>, PeriodicJob<ScrubReport>];
  /** Schedules the jobs whose interval is not 0. */
  start(): void;
  /** For GET /admin/repair. */
  status(): SelfHealingStatus;
}

/** Repair and scrub wired to their schedules and to the Prometheus metrics. */
export function createSelfHealing(deps: SelfHealingDeps): SelfHealing {
  const { metrics, config } = deps;
  const repair = new RepairJob({
    store: deps.store,
    replicas: deps.replicas,
    replicationFactor: deps.replicationFactor,
    config: config.repair,
    log: createLogger('repair'),
  });
  const scrub = new ScrubJob({
    store: deps.store,
    replicas: deps.replicas,
    config: config.scrub,
    streamIdleTimeoutMs: deps.streamIdleTimeoutMs,
    log: createLogger('scrub'),
  });

  const repairJob = scheduled('repair', config.repair.intervalMs, (signal) => repair.run(signal), (report) => {
    countItems('repair', { repaired: report.repaired, failed: report.failed, corrupt_removed: report.corruptRemoved });
    metrics.repairBytesCopied.inc(report.bytesCopied);
    const remaining = repair.underReplicatedCount();
    if (remaining !== null) metrics.chunksUnderReplicated.set(remaining);
  });
  const scrubJob = scheduled('scrub', config.scrub.intervalMs, (signal) => scrub.run(signal), (report) => {
    countItems('scrub', { verified: report.chunksVerified, corrupt: report.corruptFound, missing: report.missingFound });
  });

  /** A job on its schedule, its runs counted by outcome and a finished run's report by `counted`. */
  function scheduled<R>(job: string, intervalMs: number, run: (signal: AbortSignal) => Promise<R | undefined>, counted: (report: R) => void): PeriodicJob<R> {
    return new PeriodicJob<R>(
      job,
      intervalMs,
      async (signal) => {
        const report = await countedRun(metrics, job, run(signal));
        if (report) counted(report);
        return report;
      },
      createLogger(job),
    );
  }

  /** The items a run acted on, by action. */
  function countItems(job: string, items: Record<string, number>): void {
    for (const [action, count] of Object.entries(items)) metrics.jobItems.inc({ job, action }, count);
  }

  return {
    jobs: [repairJob, scrubJob],
    start() {
      if (config.repair.intervalMs > 0) repairJob.start();
      if (config.scrub.intervalMs > 0) scrubJob.start();
    },
    status: () => ({ repair: repair.status(), scrub: scrub.status() }),
  };
}
