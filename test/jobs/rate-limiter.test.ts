import { RateLimiter, type LimiterClock } from '../../src/jobs/rate-limiter';

/** Time that only moves when a test advances it; every sleep asked for is recorded, not slept. */
class SimulatedClock implements LimiterClock {
  readonly sleeps: number[] = [];
  private time = 0;

  now(): number {
    return this.time;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(Math.round(ms));
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

describe('RateLimiter', () => {
  it('lets the burst through at once, then paces to the rate', async () => {
    const clock = new SimulatedClock();
    const limiter = new RateLimiter(100, 100, clock);
    await limiter.take(100);
    expect(clock.sleeps).toEqual([]);
    await limiter.take(50);
    expect(clock.sleeps).toEqual([500]);
  });

  it('refills with time, never beyond the burst', async () => {
    const clock = new SimulatedClock();
    const limiter = new RateLimiter(100, 100, clock);
    await limiter.take(100);
    clock.advance(10_000);
    await limiter.take(100);
    expect(clock.sleeps).toEqual([]);
    await limiter.take(100);
    expect(clock.sleeps).toEqual([1000]);
  });

  it('lets an item larger than the burst through as debt that later callers wait off, in order', async () => {
    const clock = new SimulatedClock();
    const limiter = new RateLimiter(10, 10, clock);
    await Promise.all([limiter.take(30), limiter.take(10), limiter.take(10)]);
    expect(clock.sleeps).toEqual([2000, 3000, 4000]);
  });

  it('does not limit at rate 0', async () => {
    const clock = new SimulatedClock();
    const limiter = new RateLimiter(0, 0, clock);
    for (let i = 0; i < 5; i++) await limiter.take(1e12);
    expect(clock.sleeps).toEqual([]);
  });

  it('rejects with the abort reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    await expect(new RateLimiter(1).take(1, controller.signal)).rejects.toThrow('stopping');
  });

  it('wakes a real sleeper when its signal aborts', async () => {
    const limiter = new RateLimiter(1, 1);
    await limiter.take(1);
    const controller = new AbortController();
    const waiting = limiter.take(3600, controller.signal);
    controller.abort(new Error('shutdown'));
    await expect(waiting).rejects.toThrow('shutdown');
  });
});
