/** Time for the limiter, injectable so tests run it on a simulated clock. */
export interface LimiterClock {
  now(): number;
  /** Resolves after ms; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realLimiterClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A token bucket: `perSecond` units flow in, up to `burst` saved. A take larger than what is
 * saved goes through as debt and its caller waits until the debt is paid off, so one big item
 * (a 1 MiB frame, a whole chunk) never blocks forever and concurrent callers queue up fairly:
 * each one waits for the debt in front of it plus its own.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;

  /** perSecond 0 = unlimited. */
  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond,
    private readonly clock: LimiterClock = realLimiterClock,
  ) {
    this.tokens = burst;
    this.updatedAt = clock.now();
  }

  /** Waits until `amount` units may be spent; rejects when the signal aborts. */
  async take(amount: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.perSecond <= 0 || amount <= 0) return;
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    this.tokens -= amount;
    if (this.tokens < 0) await this.clock.sleep((-this.tokens / this.perSecond) * 1000, signal);
  }
}
