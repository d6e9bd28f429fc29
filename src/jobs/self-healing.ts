import type { MetadataStore } from '../metadata/types';
import type { Metrics } from '../observability/metrics';
import type { Replicas } from '../replicas/replicas';
import { createLogger } from '../util/logger';
import type { JobsConfig } from './config';
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

  const repairJob = new PeriodicJob<RepairReport>(
    'repair',
    config.repair.intervalMs,
    (signal) =>
      counted('repair', repair.run(signal), (report) => {
        metrics.jobItems.inc({ job: 'repair', action: 'repaired' }, report.repaired);
        metrics.jobItems.inc({ job: 'repair', action: 'failed' }, report.failed);
        metrics.jobItems.inc({ job: 'repair', action: 'corrupt_removed' }, report.corruptRemoved);
        metrics.repairBytesCopied.inc(report.bytesCopied);
        const remaining = repair.underReplicatedCount();
        if (remaining !== null) metrics.chunksUnderReplicated.set(remaining);
      }),
    createLogger('repair'),
  );
  const scrubJob = new PeriodicJob<ScrubReport>(
    'scrub',
    config.scrub.intervalMs,
    (signal) =>
      counted('scrub', scrub.run(signal), (report) => {
        metrics.jobItems.inc({ job: 'scrub', action: 'verified' }, report.chunksVerified);
        metrics.jobItems.inc({ job: 'scrub', action: 'corrupt' }, report.corruptFound);
        metrics.jobItems.inc({ job: 'scrub', action: 'missing' }, report.missingFound);
      }),
    createLogger('scrub'),
  );

  /** Counts the run by outcome and its items once it finished. */
  async function counted<R>(job: string, run: Promise<R | undefined>, items: (report: R) => void): Promise<R | undefined> {
    let report: R | undefined;
    try {
      report = await run;
    } catch (error) {
      metrics.jobRuns.inc({ job, outcome: 'failed' });
      throw error;
    }
    metrics.jobRuns.inc({ job, outcome: report ? 'ran' : 'skipped' });
    if (report) items(report);
    return report;
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
