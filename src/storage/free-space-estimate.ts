/**
 * Free disk space for the early "disk full" refusal of puts, without a statfs per put: the
 * figure is read at most once per `maxAgeMs`, and every put admitted since is subtracted from it
 * until the next read. The refusal stays a best effort either way: a disk filled by others in
 * between still ends a put with RESOURCE_EXHAUSTED when its write fails.
 */
export class FreeSpaceEstimate {
  private read: { atMs: number; available: number } | undefined;
  private admittedSinceRead = 0;

  constructor(
    private readonly statAvailable: () => Promise<number>,
    private readonly maxAgeMs = 1000,
  ) {}

  /** Whether `bytes` more fit; when they do, they count as taken until the next read. */
  async admit(bytes: number): Promise<{ fits: boolean; available: number }> {
    const now = Date.now();
    if (!this.read || now - this.read.atMs > this.maxAgeMs) {
      this.read = { atMs: now, available: await this.statAvailable() };
      this.admittedSinceRead = 0;
    }
    const available = this.read.available - this.admittedSinceRead;
    if (bytes > available) return { fits: false, available };
    this.admittedSinceRead += bytes;
    return { fits: true, available };
  }
}
