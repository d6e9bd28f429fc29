import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import { crc32Checksum } from '../wire/crc32';
import { BlockChecksWriter, encodeTrailer, type WholeChunkCheck } from './chunk-file-format';
import { ChunkFileWriter } from './chunk-file-writer';
import { ChunkStoreError, isNodeError } from './chunk-store-error';
import { removeFile } from './remove-file';

/** The checks a put's last message may bring. */
export interface FinalChecks {
  /** Hex SHA-256 of the whole chunk, sent last by a writer that hashes while streaming. */
  checksum?: string;
  /** CRC-32 of the whole chunk (PutChunkRequest.chunk_crc32). */
  crc32?: number;
}

/** The largest last piece of a chunk that is held back to be written with the trailer. */
const HOLD_BACK_BYTES = 64 * 1024;

/** One PutChunk in progress, as the gRPC layer drives it. */
export interface ChunkUpload {
  readonly chunkId: string;
  /** `dataCrc32`: the client's CRC-32 of `data`, checked before anything is written. */
  write(data: Buffer, dataCrc32?: number): Promise<void>;
  /** Verifies and publishes the chunk. */
  commit(final?: FinalChecks): Promise<void>;
  /** Drops everything written so far; safe to call more than once or after commit. */
  abort(): Promise<void>;
}

/** What a verified chunk is known by: compared when its id is already taken. */
export interface ChunkIdentity {
  /** What the footer records and ListChunks reports: hex SHA-256, or `crc32:<8 hex>`. */
  checksum: string;
  /** CRC-32 of the whole chunk (always known: the block checks are CRC-32). */
  crc32: number;
}

export interface TempFileUploadOptions {
  chunkId: string;
  /** Hex SHA-256 from the first message; '' when none came there. */
  checksum: string;
  /**
   * The first message carried data_crc32: this client checks every message with a CRC-32 (and
   * the chunk with chunk_crc32), so no SHA-256 is computed unless it sent one up front.
   */
  framesChecked: boolean;
  /** 0 = not announced by the client. */
  expectedSize: number;
  tempPath: string;
  /**
   * Makes the verified temp file (still open: synced and closed there) the chunk, durably;
   * rejects when the id is taken by other content.
   */
  publish: (file: fs.FileHandle, tempPath: string, identity: ChunkIdentity) => Promise<void>;
}

/**
 * Streams a chunk into a temp file while checking each message's CRC-32 and computing every
 * block's (one pass), and the whole chunk's SHA-256 only when the client checks by SHA-256;
 * then checks the whole-chunk check, appends the trailer and hands the file over to be made
 * durable (group commit: see group-commit.ts).
 * Nothing under the chunk's real name exists until publish, so a broken stream leaves nothing.
 */
export class TempFileUpload implements ChunkUpload {
  /** Only for puts checked by SHA-256: the original clients, and ringstore's copies of old chunks. */
  private readonly sha256: Hash | undefined;
  private readonly blockChecks = new BlockChecksWriter();
  private size = 0;
  private messages = 0;
  /** The last piece of data when it is small: written with the trailer (see write()). */
  private heldBack: Buffer | undefined;
  private finished = false;

  private constructor(private readonly options: TempFileUploadOptions, private readonly writer: ChunkFileWriter) {
    // A client without frame CRCs may still send its SHA-256 last, so it is hashed from the start.
    if (options.checksum || !options.framesChecked) this.sha256 = createHash('sha256');
  }

  get chunkId(): string {
    return this.options.chunkId;
  }

  static async create(options: TempFileUploadOptions): Promise<TempFileUpload> {
    const writer = await ChunkFileWriter.create(options.tempPath, options.expectedSize).catch((error: unknown) => {
      throw asStoreError(error);
    });
    return new TempFileUpload(options, writer);
  }

  async write(data: Buffer, dataCrc32?: number): Promise<void> {
    this.messages += 1;
    if (data.length === 0 && !dataCrc32) return;
    if (this.options.framesChecked && dataCrc32 === undefined) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `chunk ${this.chunkId}: message ${this.messages} has data but no data_crc32, though the first message had one`);
    }
    const actual = this.blockChecks.update(data);
    if (dataCrc32 !== undefined && actual !== dataCrc32 >>> 0) {
      throw new ChunkStoreError(
        'DATA_LOSS',
        `chunk ${this.chunkId}: message ${this.messages} (${data.length} bytes) has CRC-32 ${hex8(actual)}, but the client sent ${hex8(dataCrc32)}; nothing kept`,
      );
    }
    this.sha256?.update(data);
    this.size += data.length;
    try {
      if (this.heldBack) await this.writer.write(this.takeHeldBack());
      // The last piece of a small chunk goes out with the trailer in one write: a file system
      // call less per small put. Copied, since the caller may reuse `data` once this returns.
      if (this.size === this.options.expectedSize && data.length <= HOLD_BACK_BYTES) this.heldBack = Buffer.from(data);
      else await this.writer.write(data);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async commit(final: FinalChecks = {}): Promise<void> {
    const whole = this.verifyWhole(final);
    try {
      const trailer = encodeTrailer(this.size, this.blockChecks.finish(), whole);
      await this.writer.finish(Buffer.concat([this.takeHeldBack(), trailer]));
    } catch (error) {
      throw asStoreError(error);
    }
    const checksum = 'sha256' in whole ? whole.sha256.toString('hex') : crc32Checksum(whole.crc32);
    await this.options.publish(this.writer.file, this.options.tempPath, { checksum, crc32: this.blockChecks.crc32 });
    this.finished = true;
  }

  private takeHeldBack(): Buffer {
    const held = this.heldBack ?? Buffer.alloc(0);
    this.heldBack = undefined;
    return held;
  }

  /** Checks the size and every whole-chunk check the client sent; returns what the footer keeps. */
  private verifyWhole(final: FinalChecks): WholeChunkCheck {
    const what = `chunk ${this.chunkId}`;
    const { checksum: first } = this.options;
    const sha256 = first || final.checksum;
    if (!sha256 && final.crc32 === undefined) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `${what}: no checksum was sent (checksum in the first message or the last, or chunk_crc32 in the last)`);
    }
    if (first && final.checksum && final.checksum !== first) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `${what}: the last message's checksum differs from the first's`);
    }
    if (sha256 && !this.sha256) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `${what}: a put that sends data_crc32 must send its SHA-256 checksum in the first message, not the last`);
    }
    if (this.options.expectedSize > 0 && this.size !== this.options.expectedSize) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `${what}: the client announced ${this.options.expectedSize} bytes but sent ${this.size}`);
    }
    const crc = this.blockChecks.crc32;
    if (final.crc32 !== undefined && final.crc32 >>> 0 !== crc) {
      throw new ChunkStoreError('DATA_LOSS', `${what}: CRC-32 mismatch, client said ${hex8(final.crc32)} but the ${this.size} bytes received have ${hex8(crc)}; nothing kept`);
    }
    if (!sha256) return { crc32: crc };
    const digest = this.sha256!.digest();
    if (digest.toString('hex') !== sha256) {
      throw new ChunkStoreError(
        'DATA_LOSS',
        `${what}: checksum mismatch, client said ${sha256} but the ${this.size} bytes received hash to ${digest.toString('hex')}; nothing kept`,
      );
    }
    return { sha256: digest };
  }

  async abort(): Promise<void> {
    await this.closeFile();
    if (this.finished) return;
    this.finished = true;
    await removeFile(this.options.tempPath);
  }

  private async closeFile(): Promise<void> {
    await this.writer.closeDirect();
    await this.writer.file.close().catch(() => undefined);
  }
}

function hex8(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
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

/** Disk-full errors become RESOURCE_EXHAUSTED; everything else is passed on as is. */
export function asStoreError(error: unknown): unknown {
  if (isNodeError(error, 'ENOSPC') || isNodeError(error, 'EDQUOT')) {
    return new ChunkStoreError('RESOURCE_EXHAUSTED', `disk full: ${(error as Error).message}`);
  }
  return error;
}
