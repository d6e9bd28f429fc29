import type { Logger } from '../util/logger';

/**
 * Runs a job every intervalMs, never two runs at once; a failing run is logged and the next
 * one goes ahead as scheduled. stop() aborts the signal handed to runs, so a long run (a scrub
 * slice, a big repair) ends early instead of holding up shutdown.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T | undefined> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly run: (signal: AbortSignal) => Promise<T | undefined>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.runNow().catch((error) => this.log.error(`Job ${this.name} failed: ${(error as Error).message}`));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Runs now, or joins the run already in progress. */
  runNow(): Promise<T | undefined> {
    this.running ??= this.run(this.stopping.signal).finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopping.abort(new Error(`job ${this.name} stopped`));
    await this.running?.catch(() => undefined);
  }
}
