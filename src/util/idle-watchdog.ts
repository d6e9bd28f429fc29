/**
 * Fires once when a running stream makes no progress for `idleMs`. Paused while the stream is
 * waiting on its own consumer or producer (that stall is not the server's), resumed after.
 */
export class IdleWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly idleMs: number, private readonly onIdle: () => void) {}

  /** Progress seen (or waiting on the server starts): restart the countdown. */
  touch(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stopped = true;
      this.onIdle();
    }, this.idleMs);
    this.timer.unref?.();
  }

  pause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }
}
