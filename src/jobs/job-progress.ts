import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';

/** A report of counts: every field a number. */
export type Counts<R> = { [K in keyof R]: number };

export interface JobRunRecord<R extends Counts<R>> {
  started_at: string;
  finished_at: string;
  report: R;
}

export interface JobStatus<R extends Counts<R>> {
  running: boolean;
  /** Counts of the run in progress, updated as it goes. */
  current: R | null;
  current_started_at: string | null;
  runs: number;
  /** Runs that did not start because another gateway held the job lock. */
  skipped: number;
  last_run: JobRunRecord<R> | null;
  last_error: string | null;
  /** Sums over every run of this gateway. */
  totals: R;
}

/**
 * Progress and history of one background job, for GET /admin/repair and the logs: the run in
 * progress, the last finished one and totals since start.
 */
export class JobProgress<R extends Counts<R>> {
  private current: { report: R; startedAt: Date } | null = null;
  private lastRun: JobRunRecord<R> | null = null;
  private lastError: string | null = null;
  private runs = 0;
  private skipped = 0;
  private readonly totals: R;

  constructor(
    private readonly job: string,
    private readonly emptyReport: () => R,
    private readonly log: Logger,
  ) {
    this.totals = emptyReport();
  }

  /**
   * Runs one pass with a fresh report that fn fills in; the report is visible while it runs.
   * A pass cut short by the signal (shutdown) is not a failure: it returns what it did.
   */
  async track(fn: (report: R) => Promise<void>, signal?: AbortSignal): Promise<R> {
    const report = this.emptyReport();
    const startedAt = new Date();
    this.current = { report, startedAt };
    let outcome = 'finished';
    try {
      await fn(report);
      this.lastError = null;
      return report;
    } catch (error) {
      if (signal?.aborted) {
        outcome = 'stopped early';
        return report;
      }
      this.lastError = errorMessage(error);
      outcome = `failed (${this.lastError})`;
      throw error;
    } finally {
      this.current = null;
      this.runs++;
      for (const key of Object.keys(report) as Array<keyof R>) {
        (this.totals[key] as number) += report[key];
      }
      this.lastRun = { started_at: startedAt.toISOString(), finished_at: new Date().toISOString(), report };
      const ms = Date.now() - startedAt.getTime();
      const counts = Object.entries(report).map(([key, value]) => `${key}=${value}`).join(' ');
      this.log.info(`Job ${this.job} run ${outcome} after ${ms} ms: ${counts}`, { event: 'job_run', job: this.job, report });
    }
  }

  /**
   * One pass under a cluster-wide job lock (`withLock`, e.g. store.withJobLock bound to a
   * name), tracked like track(); undefined, counted as skipped, when another gateway holds it.
   */
  async runLocked(
    withLock: (fn: () => Promise<R>) => Promise<R | undefined>,
    fn: (report: R) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<R | undefined> {
    const report = await withLock(() => this.track(fn, signal));
    if (report === undefined) this.skipped++;
    return report;
  }

  status(): JobStatus<R> {
    return {
      running: this.current !== null,
      current: this.current ? { ...this.current.report } : null,
      current_started_at: this.current?.startedAt.toISOString() ?? null,
      runs: this.runs,
      skipped: this.skipped,
      last_run: this.lastRun,
      last_error: this.lastError,
      totals: { ...this.totals },
    };
  }
}
