/** A WebAssembly memory page: V8 maps every wasm memory on pages of its own, so its first byte is page-aligned. */
export const WASM_PAGE_BYTES = 64 * 1024;
/** The memory page size of the machines ringstore runs on: any O_DIRECT alignment divides it. */
const PAGE_BYTES = 4096;

/** Memory of the buffers made by pageAlignedBuffer. */
const pageAlignedMemory = new WeakSet<ArrayBufferLike>();

/** A Buffer of `bytes` (whole wasm pages) whose memory starts page-aligned: a WebAssembly.Memory's. */
export function pageAlignedBuffer(bytes: number): Buffer {
  const buffer = Buffer.from(new WebAssembly.Memory({ initial: bytes / WASM_PAGE_BYTES }).buffer);
  pageAlignedMemory.add(buffer.buffer);
  return buffer;
}

/** Whether `view` starts on a page boundary of memory from pageAlignedBuffer (O_DIRECT can write it as it is). */
export function isPageAligned(view: Uint8Array): boolean {
  return view.byteOffset % PAGE_BYTES === 0 && pageAlignedMemory.has(view.buffer);
}

/**
 * Makes Buffers of `bytes`: page-aligned while fewer than `limit` made here are alive, plain
 * ones after. Each WebAssembly.Memory reserves gigabytes of address space, and V8 allows only
 * about a hundred at once, so the count is bounded; a buffer counts until the GC frees it.
 */
export function pageAlignedUpTo(limit: number, bytes: number): () => Buffer {
  let alive = 0;
  const freed = new FinalizationRegistry<undefined>(() => (alive -= 1));
  return () => {
    if (alive >= limit) return Buffer.allocUnsafeSlow(bytes);
    alive += 1;
    const buffer = pageAlignedBuffer(bytes);
    freed.register(buffer.buffer, undefined);
    return buffer;
  };
}

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
    return this.free.pop() ?? pageAlignedBuffer(this.bytes);
  }

  /** Gives back a buffer from take(); it must not be used afterwards. */
  release(buffer: Buffer): void {
    this.taken -= 1;
    if (this.free.length < this.maxFree) this.free.push(buffer);
  }
}
