import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { BlockChecksWriter, encodeTrailer } from './chunk-file-format';
import { ChunkStoreError, isNodeError } from './chunk-store-error';

/** One PutChunk in progress, as the gRPC layer drives it. */
export interface ChunkUpload {
  readonly chunkId: string;
  write(data: Buffer): Promise<void>;
  /** Verifies and publishes the chunk; the checksum comes here when the client sent it last. */
  commit(trailingChecksum?: string): Promise<void>;
  /** Drops everything written so far; safe to call more than once or after commit. */
  abort(): Promise<void>;
}

export interface TempFileUploadOptions {
  chunkId: string;
  /** '' when the client sends the checksum in its last message instead of its first. */
  checksum: string;
  /** 0 = not announced by the client. */
  expectedSize: number;
  tempPath: string;
  /** Makes the verified temp file the chunk; rejects when the id is taken by other content. */
  publish: (tempPath: string, checksum: string) => Promise<void>;
}

/**
 * Streams a chunk into a temp file while hashing the whole chunk and checking every block,
 * then checks the client's checksum, appends the trailer, fsyncs and hands the file over.
 * Nothing under the chunk's real name exists until publish, so a broken stream leaves nothing.
 */
export class TempFileUpload implements ChunkUpload {
  private readonly whole = createHash('sha256');
  private readonly blockChecks = new BlockChecksWriter();
  private size = 0;
  private finished = false;

  private constructor(private readonly options: TempFileUploadOptions, private readonly file: fs.FileHandle) {}

  get chunkId(): string {
    return this.options.chunkId;
  }

  static async create(options: TempFileUploadOptions): Promise<TempFileUpload> {
    const file = await fs.open(options.tempPath, 'wx', 0o600).catch((error: unknown) => {
      throw asStoreError(error);
    });
    return new TempFileUpload(options, file);
  }

  async write(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    this.whole.update(data);
    this.blockChecks.update(data);
    this.size += data.length;
    try {
      await writeAll(this.file, data);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async commit(trailingChecksum = ''): Promise<void> {
    const wholeDigest = this.whole.digest();
    const actual = wholeDigest.toString('hex');
    const checksum = this.options.checksum || trailingChecksum;
    if (!checksum) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `chunk ${this.chunkId}: no checksum was sent, in the first message or the last`);
    }
    if (this.options.checksum && trailingChecksum && trailingChecksum !== this.options.checksum) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `chunk ${this.chunkId}: the last message's checksum differs from the first's`);
    }
    if (this.options.expectedSize > 0 && this.size !== this.options.expectedSize) {
      throw new ChunkStoreError(
        'INVALID_ARGUMENT',
        `chunk ${this.chunkId}: the client announced ${this.options.expectedSize} bytes but sent ${this.size}`,
      );
    }
    if (actual !== checksum) {
      throw new ChunkStoreError(
        'DATA_LOSS',
        `chunk ${this.chunkId}: checksum mismatch, client said ${checksum} but the ${this.size} bytes received hash to ${actual}`,
      );
    }
    try {
      const trailer = encodeTrailer(this.size, this.blockChecks.finish(), wholeDigest);
      await writeAll(this.file, trailer);
      await this.file.sync();
    } catch (error) {
      throw asStoreError(error);
    }
    await this.closeFile();
    await this.options.publish(this.options.tempPath, checksum);
    this.finished = true;
  }

  async abort(): Promise<void> {
    await this.closeFile();
    if (this.finished) return;
    this.finished = true;
    await fs.rm(this.options.tempPath, { force: true });
  }

  private closeFile(): Promise<void> {
    return this.file.close().catch(() => undefined);
  }
}

/**
 * A retried put of a chunk that is already stored with the same checksum: the stream is
 * drained and the put succeeds without touching the disk.
 */
export class AlreadyStoredUpload implements ChunkUpload {
  constructor(readonly chunkId: string) {}
  async write(): Promise<void> {}
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

/**
 * FileHandle.write is one write(2), which may write less than asked (a disk filling up): go on
 * until every byte is written, so a short write can never leave a chunk file shorter than
 * what was acknowledged.
 */
async function writeAll(file: fs.FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error(`no space: a write of ${data.length - offset} bytes wrote none`), { code: 'ENOSPC' });
    offset += bytesWritten;
  }
}

/** Disk-full errors become RESOURCE_EXHAUSTED; everything else is passed on as is. */
export function asStoreError(error: unknown): unknown {
  if (isNodeError(error, 'ENOSPC') || isNodeError(error, 'EDQUOT')) {
    return new ChunkStoreError('RESOURCE_EXHAUSTED', `disk full: ${(error as Error).message}`);
  }
  return error;
}
