import { constants } from 'node:fs';
import type fs from 'node:fs/promises';
import { AlignedBufferPool } from './aligned-buffer-pool';
import { BLOCK_SIZE, fileEndsEarly } from './chunk-file-format';
import { isNodeError } from './chunk-store-error';
import { DIRECT_IO_ALIGNMENT, openDirect } from './direct-io';

/**
 * Bytes of one direct read: two whole blocks. What hides the disk is a read in flight while a
 * block is checked and sent, not larger reads: reading a 1 GiB file with O_DIRECT here (five
 * rounds each, median and range) ran at 1.97 GB/s (0.72-2.54) one 1 MiB read at a time, 2.82
 * (1.71-3.24) with two in flight, 2.66 (2.22-3.01) with two 2 MiB reads, and 2.51 (1.59-3.29)
 * with two 4 MiB reads, which hold twice the memory.
 */
export const DIRECT_READ_SPAN_BYTES = 2 * BLOCK_SIZE;
/** Direct reads one chunk read keeps in flight: the span being served and one read ahead. */
export const SPANS_PER_READ = 2;
/**
 * Span buffers a storage server lends to all its reads together (16 MiB): past this, a read
 * still gets its one span, so it never waits for another read, but reads nothing ahead.
 */
export const SPANS_PER_SERVER = 8;

/** One span each; the free ones kept are within the server's lending limit. */
export const directReadBuffers = new AlignedBufferPool(DIRECT_READ_SPAN_BYTES, SPANS_PER_SERVER);

/** One direct read in flight or done: `filled` settles once the kernel no longer writes into `buffer`. */
interface SpanRead {
  position: number;
  length: number;
  buffer: Buffer;
  filled: Promise<void>;
}

/**
 * The data blocks of a large chunk file read with O_DIRECT, beside the buffered handle that
 * read its footer and checks. A chunk read right after its upload is not in the page cache
 * (the upload wrote with O_DIRECT too), and filling the page cache on this VM cost a storage
 * server more CPU than the read itself (fresh guest pages backed on first touch). Reads start
 * at block boundaries, so every read starts aligned; a length is rounded up to
 * DIRECT_IO_ALIGNMENT, and the bytes past the chunk's data (the trailer) are not used. Where
 * the file system refuses a direct read (EINVAL), the caller reads through the page cache.
 */
export class DirectBlockReader {
  private refused = false;

  private constructor(private readonly file: fs.FileHandle) {}

  /**
   * Opens `filePath` for direct reads when it is still the file behind `opened` (same inode);
   * undefined where O_DIRECT is refused, or the name is gone or names another file now
   * (deleted, put again): `opened` still reads the chunk it opened.
   */
  static async open(filePath: string, opened: { ino: number; dev: number }): Promise<DirectBlockReader | undefined> {
    const file = await openDirect(filePath, constants.O_RDONLY).catch((error: unknown) => {
      if (isNodeError(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (!file) return undefined;
    const stats = await file.stat().catch(async (error: unknown) => {
      await file.close().catch(() => undefined);
      throw error;
    });
    if (stats.ino === opened.ino && stats.dev === opened.dev) return new DirectBlockReader(file);
    await file.close().catch(() => undefined);
    return undefined;
  }

  /** False once the file system refused a direct read. */
  get usable(): boolean {
    return !this.refused;
  }

  /** The blocks from `start` (a block's start) to `end` (the end of the last one wanted), in order, read ahead. */
  blocks(start: number, end: number, what: string): DirectBlocks {
    return new DirectBlocks(this, start, end, what);
  }

  /**
   * Fills `buffer` with the `length` bytes at `position` (a block's start). EINVAL (a refused
   * direct read) marks the reader unusable before it is thrown.
   */
  async readInto(buffer: Buffer, position: number, length: number, what: string): Promise<void> {
    const asked = Math.min(buffer.length, Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT);
    try {
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await this.file.read(buffer, filled, asked - filled, position + filled);
        filled += bytesRead;
        // A direct read stops short (not at an aligned length) only at the end of the file.
        if (bytesRead === 0 || (filled < length && filled % DIRECT_IO_ALIGNMENT !== 0)) throw fileEndsEarly(what, length - filled);
      }
    } catch (error) {
      if (isNodeError(error, 'EINVAL')) this.refused = true;
      throw error;
    }
  }

  close(): Promise<void> {
    return this.file.close().catch(() => undefined);
  }
}

/**
 * A range of blocks read with O_DIRECT in spans of DIRECT_READ_SPAN_BYTES, up to SPANS_PER_READ
 * of them in flight, so the disk has the next bytes on the way while a block is checked and sent.
 * A span's pool buffer goes back once its last block is served, or at close() once its read
 * has finished: never while the kernel may still write into it.
 */
export class DirectBlocks {
  /** Reads started and not yet served from, in file order; the first is being served. */
  private readonly spans: SpanRead[] = [];
  private nextSpanAt: number;
  private servedTo: number;

  constructor(
    private readonly reader: DirectBlockReader,
    start: number,
    private readonly end: number,
    private readonly what: string,
  ) {
    this.nextSpanAt = start;
    this.servedTo = start;
  }

  /**
   * The next block's bytes, valid until the next call or close(); undefined when the file
   * system refused the direct read (the caller reads that block and the rest through the page
   * cache). A failed read throws when its first block is asked for, not before.
   */
  async next(): Promise<Buffer | undefined> {
    const served = this.spans[0];
    if (served && this.servedTo >= served.position + served.length) {
      this.spans.shift();
      directReadBuffers.release(served.buffer);
    }
    this.readAhead();
    const span = this.spans[0];
    try {
      await span.filled;
    } catch (error) {
      if (!this.reader.usable) return undefined;
      throw error;
    }
    const from = this.servedTo - span.position;
    const block = span.buffer.subarray(from, Math.min(from + BLOCK_SIZE, span.length));
    this.servedTo += block.length;
    return block;
  }

  /** Waits for every read in flight, then gives every buffer back. */
  async close(): Promise<void> {
    const spans = this.spans.splice(0);
    await Promise.all(spans.map((span) => span.filled.catch(() => undefined)));
    for (const span of spans) directReadBuffers.release(span.buffer);
  }

  /** Starts reads up to SPANS_PER_READ; past the first, only while the server's buffers allow. */
  private readAhead(): void {
    while (this.nextSpanAt < this.end && this.spans.length < SPANS_PER_READ) {
      if (this.spans.length > 0 && directReadBuffers.inUse >= SPANS_PER_SERVER) return;
      const position = this.nextSpanAt;
      const length = Math.min(DIRECT_READ_SPAN_BYTES, this.end - position);
      const buffer = directReadBuffers.take();
      const filled = this.reader.readInto(buffer, position, length, this.what);
      filled.catch(() => undefined); // seen when its first block is asked for; never an unhandled rejection meanwhile
      this.spans.push({ position, length, buffer, filled });
      this.nextSpanAt += length;
    }
  }
}
