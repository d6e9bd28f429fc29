import type { MetadataStore } from '../metadata/types';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';

/** Progress is written to the metadata at most this often while a run goes on. */
const SAVE_INTERVAL_MS = 2_000;

/**
 * A run of drain or rebalance as the metadata keeps it (move_runs), so every gateway, not only
 * the one holding the job lock, shows its progress: written when it starts, every few seconds
 * while it runs, and when it ends.
 */
export class MoveRunRecord {
  private readonly startedAt = new Date();
  private savedAt = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<MetadataStore, 'saveMoveRun'>,
    private readonly job: string,
    private readonly gatewayId: string,
    private readonly report: object,
    private readonly log: Logger,
  ) {}

  /** Runs the pass, recorded from its start to its end (finished, stopped early or failed). */
  async track(pass: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    this.savedAt = Date.now();
    await this.save(null);
    try {
      await pass();
    } catch (error) {
      await this.end(signal?.aborted ? 'stopped early' : `failed: ${errorMessage(error)}`);
      throw error;
    }
    await this.end('finished');
  }

  /** Saves the report if the last save is a few seconds old; never waits for it, never fails the run. */
  update(): void {
    if (Date.now() - this.savedAt < SAVE_INTERVAL_MS) return;
    this.savedAt = Date.now();
    this.saving = this.saving
      .then(() => this.save(null))
      .catch((error: unknown) => {
        this.log.warn(`Could not record the progress of ${this.job}: ${errorMessage(error)}`);
      });
  }

  private async end(outcome: string): Promise<void> {
    await this.saving;
    await this.save(outcome).catch((error: unknown) => {
      this.log.warn(`Could not record the end of ${this.job}: ${errorMessage(error)}`);
    });
  }

  private save(outcome: string | null): Promise<void> {
    return this.store.saveMoveRun({
      job: this.job,
      gatewayId: this.gatewayId,
      startedAt: this.startedAt,
      finishedAt: outcome === null ? null : new Date(),
      outcome,
      report: { ...(this.report as Record<string, number>) },
    });
  }
}
