import { constants, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import { AlignedBufferPool, isPageAligned } from './aligned-buffer-pool';
import { isNodeError } from './chunk-store-error';
import { DIRECT_MIN_CHUNK_BYTES, openDirect } from './direct-io';
import { removeFile } from './remove-file';

/** Bytes of one direct write: the data is gathered into an aligned buffer of this size first. */
const DIRECT_WRITE_BYTES = 1024 * 1024;
/** Staging buffers of large puts in progress are reused; a few are kept while none is. */
const stagingBuffers = new AlignedBufferPool(DIRECT_WRITE_BYTES, 8);

/**
 * A chunk's temp file, written from the start to the end. A large chunk's data goes to the disk
 * with O_DIRECT, a MiB at a time, instead of through the page cache: copying a GiB into fresh
 * page-cache pages cost a storage server 1-2 s of kernel CPU (this machine, a VM whose memory is
 * backed on first touch), a direct write ~0.1 s, plus one copy into the aligned buffer here.
 * Durability is unchanged: the file is still fdatasynced before it gets its name (the direct
 * writes' block allocations are metadata the sync commits). The tail that does not fill a MiB,
 * and the trailer, go through the page cache (`file`, which the caller syncs). Where the file
 * system refuses O_DIRECT (tmpfs; EINVAL at open or at a write), the writer goes on buffered.
 */
export class ChunkFileWriter {
  /** Bytes written to the file so far, by either descriptor. */
  private position = 0;
  /** Data waiting for a whole MiB in `staging`. */
  private staged = 0;
  /** The direct write in progress: `staging` goes back to the pool only once the disk is done with it. */
  private directWrite: Promise<void> | undefined;

  private constructor(
    /** The temp file through the page cache: the tail and trailer, then the sync. */
    readonly file: fs.FileHandle,
    private direct: fs.FileHandle | undefined,
    private staging: Buffer | undefined,
  ) {}

  /** Creates `tempPath` (it must not exist); with O_DIRECT beside it when `expectedSize` is large. */
  static async create(tempPath: string, expectedSize: number): Promise<ChunkFileWriter> {
    const file = await fs.open(tempPath, 'wx', 0o600);
    if (expectedSize < DIRECT_MIN_CHUNK_BYTES) return new ChunkFileWriter(file, undefined, undefined);
    const direct = await openDirect(tempPath, constants.O_WRONLY).catch(async (error: unknown) => {
      await file.close().catch(() => undefined);
      await removeFile(tempPath).catch(() => undefined); // a put that fails leaves nothing
      throw error;
    });
    return new ChunkFileWriter(file, direct, direct && stagingBuffers.take());
  }

  /** Appends `data`; the caller may reuse it once this resolves. */
  async write(data: Buffer): Promise<void> {
    if (this.direct && this.staged === 0 && data.length === DIRECT_WRITE_BYTES && isPageAligned(data)) {
      // A received frame in page-aligned memory (src/wire/message-decoder.ts): to the disk as it is.
      await this.writeDirect(data);
      return;
    }
    let offset = 0;
    while (this.staging && offset < data.length) {
      const copied = data.copy(this.staging, this.staged, offset);
      this.staged += copied;
      offset += copied;
      if (this.staged === this.staging.length) await this.writeStaged();
    }
    // Without O_DIRECT (never, or no longer: see writeStaged), straight through the page cache.
    if (offset < data.length) await this.writeBuffered(offset === 0 ? data : data.subarray(offset));
  }

  /** Appends what is staged and `tail` (the trailer) in one buffered write. */
  async finish(tail: Buffer): Promise<void> {
    const staged = this.staging?.subarray(0, this.staged) ?? Buffer.alloc(0);
    this.staged = 0;
    await this.writeBuffered(staged.length === 0 ? tail : Buffer.concat([staged, tail]));
    await this.closeDirect();
  }

  /** Closes the direct descriptor, if any; `file` stays open for the caller (sync, close). */
  async closeDirect(): Promise<void> {
    const { direct, staging, directWrite } = this;
    this.direct = undefined;
    this.staging = undefined;
    this.directWrite = undefined;
    await directWrite?.catch(() => undefined);
    if (staging) stagingBuffers.release(staging);
    await direct?.close().catch(() => undefined);
  }

  private async writeStaged(): Promise<void> {
    await this.writeDirect(this.staging!);
    this.staged = 0;
  }

  /** Writes `data` (a whole DIRECT_WRITE_BYTES, page-aligned) with O_DIRECT, or buffered where refused. */
  private async writeDirect(data: Buffer): Promise<void> {
    try {
      this.directWrite = writeAll(this.direct!, data, this.position);
      await this.directWrite;
      this.position += DIRECT_WRITE_BYTES;
    } catch (error) {
      // An abort closed the writer meanwhile (its staging buffer is back in the pool): the put is
      // being discarded, and its error is the one to report.
      if (!isNodeError(error, 'EINVAL') || !this.staging) throw error;
      // This file system takes no direct write after all: the same bytes through the page cache.
      const copy = Buffer.from(data);
      this.directWrite = undefined;
      await this.closeDirect();
      await this.writeBuffered(copy);
    }
  }

  private async writeBuffered(data: Buffer): Promise<void> {
    await writeAll(this.file, data, this.position);
    this.position += data.length;
  }
}

/**
 * FileHandle.write is one write(2), which may write less than asked (a disk filling up): go on
 * until every byte is written, so a short write can never leave a chunk file shorter than
 * what was acknowledged.
 */
export async function writeAll(file: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset, position + offset);
    if (bytesWritten === 0) throw wroteNone(data.length - offset);
    offset += bytesWritten;
  }
}

/** writeAll with synchronous writes, for a few KiB into the page cache (see VolumeAppender). */
export function writeAllSync(fd: number, data: Buffer, position: number): void {
  for (let offset = 0; offset < data.length; ) {
    const bytesWritten = writeSync(fd, data, offset, data.length - offset, position + offset);
    if (bytesWritten === 0) throw wroteNone(data.length - offset);
    offset += bytesWritten;
  }
}

function wroteNone(bytes: number): Error {
  return Object.assign(new Error(`no space: a write of ${bytes} bytes wrote none`), { code: 'ENOSPC' });
}
