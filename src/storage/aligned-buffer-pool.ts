/** A WebAssembly memory page: V8 maps every wasm memory on pages of its own, so its first byte is page-aligned. */
const WASM_PAGE_BYTES = 64 * 1024;

/**
 * Reused Buffers whose memory starts page-aligned, for O_DIRECT writes and reads: the kernel wants the
 * memory, not only the file offset and the length, aligned to the device's logical block size
 * (512 or 4096 bytes), and Node has no aligned allocation. A WebAssembly.Memory has: its
 * memory is mapped on its own pages. Buffers are given back with release() and reused, so a
 * memory is made only when every buffer is out.
 */
export class AlignedBufferPool {
  private readonly free: Buffer[] = [];
  private taken = 0;

  constructor(
    /** Bytes per buffer: a multiple of WASM_PAGE_BYTES. */
    readonly bytes: number,
    /** Free buffers kept; more given back at once are left to the GC. */
    private readonly maxFree: number,
  ) {
    if (bytes % WASM_PAGE_BYTES !== 0) throw new RangeError(`aligned buffers are whole ${WASM_PAGE_BYTES}-byte pages, not ${bytes} bytes`);
  }

  /** Buffers taken and not given back yet (a leak shows here). */
  get inUse(): number {
    return this.taken;
  }

  take(): Buffer {
    this.taken += 1;
    return this.free.pop() ?? Buffer.from(new WebAssembly.Memory({ initial: this.bytes / WASM_PAGE_BYTES }).buffer);
  }

  /** Gives back a buffer from take(); it must not be used afterwards. */
  release(buffer: Buffer): void {
    this.taken -= 1;
    if (this.free.length < this.maxFree) this.free.push(buffer);
  }
}
