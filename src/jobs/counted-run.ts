import type { Metrics } from '../observability/metrics';

/**
 * Awaits a job's run and counts it in ringstore_job_runs_total by outcome: `ran` with a report,
 * `skipped` without one (another gateway held the job's lock), `failed` when it threw.
 */
export async function countedRun<R>(metrics: Pick<Metrics, 'jobRuns'>, job: string, run: Promise<R | undefined>): Promise<R | undefined> {
  let report: R | undefined;
  try {
    report = await run;
  } catch (error) {
    metrics.jobRuns.inc({ job, outcome: 'failed' });
    throw error;
  }
  metrics.jobRuns.inc({ job, outcome: report ? 'ran' : 'skipped' });
  return report;
}
