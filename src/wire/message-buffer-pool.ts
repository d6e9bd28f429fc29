/**
 * Reused memory for large messages: the 1 MiB data frames a gateway receives and sends on to
 * HTTP clients, and those a storage server receives or reads from disk. Every fresh 1 MiB
 * Buffer outlives a scavenge or two on its way, so V8 frees it only in a full GC, which
 * external memory paces at tens of MB: a download's garbage, not its data, set the gateway's
 * peak RSS. A buffer taken here goes back with release() once the last reader of its bytes is
 * done (an HTTP or gRPC write's callback, a completed disk write); one never released is
 * garbage like any other Buffer, so a path that does not release stays correct and only
 * misses the reuse.
 */
export class MessageBufferPool {
  private readonly free: Buffer[] = [];
  /** Memory of every buffer taken and not yet released; releasing anything else is a no-op. */
  private readonly lent = new WeakSet<ArrayBufferLike>();

  constructor(
    /** Bytes per buffer: the largest message it serves. */
    readonly capacity: number,
    /** Free buffers kept for reuse; more released at once are left to the GC. */
    private readonly maxFree: number,
    /** Told the size of every buffer taken: the data it is about to carry through this process. */
    private readonly onTake: (bytes: number) => void = () => {},
    /** Makes a buffer of `capacity` bytes when none is free. */
    private readonly allocate: () => Buffer = () => Buffer.allocUnsafeSlow(capacity),
  ) {}

  /** Whether a message of `length` bytes, `offset` bytes into a buffer, is served here: over half a buffer, so reuse pays. */
  fits(length: number, offset = 0): boolean {
    return length > this.capacity / 2 && offset + length <= this.capacity;
  }

  /**
   * `length` bytes from `offset` of a buffer (fits(length, offset) must hold), to be given back
   * with release(). `paced: false` for data that leaves this process from this very buffer and
   * makes no garbage on its way (a storage server's GetChunk frames, sent in place): onTake is
   * not told.
   */
  take(length: number, offset = 0, { paced = true } = {}): Buffer {
    if (paced) this.onTake(length);
    const whole = this.free.pop() ?? this.allocate();
    this.lent.add(whole.buffer);
    return whole.subarray(offset, offset + length);
  }

  /**
   * Gives back the buffer `view` lies in, when it is one taken here and not yet released: no
   * part of it may be read after this. Memory that is not out on loan (never taken here, or
   * already given back) is ignored. Each loan must be given back once: a late second release,
   * after the buffer was lent again, would give away memory the new holder still uses.
   */
  release(view: Uint8Array): void {
    if (!this.lent.delete(view.buffer)) return;
    if (this.free.length < this.maxFree) this.free.push(Buffer.from(view.buffer, 0, this.capacity));
  }

  /** Whether `view` lies in a buffer taken here and not yet released. */
  owns(view: Uint8Array): boolean {
    return this.lent.has(view.buffer);
  }

  get freeCount(): number {
    return this.free.length;
  }
}
