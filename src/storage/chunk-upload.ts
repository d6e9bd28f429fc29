import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import { crc32Checksum } from '../wire/crc32';
import { BlockChecksWriter, encodeTrailer, trailerBytesFor, type WholeChunkCheck } from './chunk-file-format';
import { ChunkFileWriter } from './chunk-file-writer';
import { ChunkStoreError, isNodeError } from './chunk-store-error';
import { removeFile } from './remove-file';
import { RECORD_HEADER_BYTES } from './volume-record';

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

export interface VerifiedUploadOptions {
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
}

/** Where a put's bytes go as they come (a temp file, or memory for a volume record). */
export interface ChunkSink {
  /** Appends `data`; the caller may reuse it once this resolves. */
  write(data: Buffer): Promise<void>;
  /**
   * Appends the trailer (block checks and footer) and makes the chunk durable under its id;
   * rejects when the id is taken by other content.
   */
  publish(trailer: Buffer, identity: ChunkIdentity): Promise<void>;
  /** Drops everything written; called once, after a failure (or after publish: nothing to do then). */
  discard(): Promise<void>;
}

/**
 * Checks a chunk as it streams in, each message's CRC-32 and every block's computed in one pass
 * (and the whole chunk's SHA-256 only when the client checks by SHA-256), then the whole-chunk
 * check, before its sink gets the trailer and publishes it. Nothing under the chunk's id exists
 * until publish, so a broken stream leaves nothing.
 */
export class VerifiedUpload implements ChunkUpload {
  /** Only for puts checked by SHA-256: the original clients, and ringstore's copies of old chunks. */
  private readonly sha256: Hash | undefined;
  private readonly blockChecks = new BlockChecksWriter();
  private size = 0;
  private messages = 0;
  private finished = false;

  constructor(private readonly options: VerifiedUploadOptions, private readonly sink: ChunkSink) {
    // A client without frame CRCs may still send its SHA-256 last, so it is hashed from the start.
    if (options.checksum || !options.framesChecked) this.sha256 = createHash('sha256');
  }

  get chunkId(): string {
    return this.options.chunkId;
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
      await this.sink.write(data);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async commit(final: FinalChecks = {}): Promise<void> {
    const whole = this.verifyWhole(final);
    const checksum = 'sha256' in whole ? whole.sha256.toString('hex') : crc32Checksum(whole.crc32);
    await this.sink.publish(encodeTrailer(this.size, this.blockChecks.finish(), whole), { checksum, crc32: this.blockChecks.crc32 });
    this.finished = true;
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
    if (this.finished) return;
    this.finished = true;
    await this.sink.discard();
  }
}

/**
 * A put into its own chunk file: streamed into a temp file (ChunkFileWriter), then handed to
 * group commit (group-commit.ts), which syncs it and links it under the chunk's name.
 */
export class TempFileSink implements ChunkSink {
  private written = 0;
  /** The last piece of data when it is small: written with the trailer (see write()). */
  private heldBack: Buffer | undefined;

  private constructor(
    private readonly tempPath: string,
    private readonly expectedSize: number,
    private readonly writer: ChunkFileWriter,
    /** Makes the verified temp file (still open: synced and closed there) the chunk, durably. */
    private readonly publishFile: (file: fs.FileHandle, tempPath: string, identity: ChunkIdentity) => Promise<void>,
  ) {}

  static async create(tempPath: string, expectedSize: number, publishFile: TempFileSink['publishFile']): Promise<TempFileSink> {
    const writer = await ChunkFileWriter.create(tempPath, expectedSize).catch((error: unknown) => {
      throw asStoreError(error);
    });
    return new TempFileSink(tempPath, expectedSize, writer, publishFile);
  }

  async write(data: Buffer): Promise<void> {
    this.written += data.length;
    if (this.heldBack) await this.writer.write(this.takeHeldBack());
    // The last piece of a small chunk goes out with the trailer in one write: a file system
    // call less per small put. Copied, since the caller may reuse `data` once this returns.
    if (this.written === this.expectedSize && data.length <= HOLD_BACK_BYTES) this.heldBack = Buffer.from(data);
    else await this.writer.write(data);
  }

  async publish(trailer: Buffer, identity: ChunkIdentity): Promise<void> {
    try {
      await this.writer.finish(Buffer.concat([this.takeHeldBack(), trailer]));
    } catch (error) {
      throw asStoreError(error);
    }
    await this.publishFile(this.writer.file, this.tempPath, identity);
  }

  private takeHeldBack(): Buffer {
    const held = this.heldBack ?? Buffer.alloc(0);
    this.heldBack = undefined;
    return held;
  }

  async discard(): Promise<void> {
    await this.writer.closeDirect();
    await this.writer.file.close().catch(() => undefined);
    await removeFile(this.tempPath);
  }
}

/**
 * A small put, of a size announced up front, gathered in memory into what becomes its volume
 * record (volume-store.ts): header room, data, then the trailer, so it is copied once.
 */
export class RecordSink implements ChunkSink {
  private readonly record: Buffer;
  private written = 0;

  constructor(
    private readonly chunkId: string,
    private readonly expectedSize: number,
    /** Stores the record durably (its header is filled there); rejects when the id is taken by other content. */
    private readonly publishRecord: (record: Buffer, identity: ChunkIdentity) => Promise<void>,
  ) {
    this.record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + expectedSize + trailerBytesFor(expectedSize));
  }

  async write(data: Buffer): Promise<void> {
    if (this.written + data.length > this.expectedSize) {
      throw new ChunkStoreError('INVALID_ARGUMENT', `chunk ${this.chunkId}: the client announced ${this.expectedSize} bytes but sent more`);
    }
    this.written += data.copy(this.record, RECORD_HEADER_BYTES + this.written);
  }

  publish(trailer: Buffer, identity: ChunkIdentity): Promise<void> {
    trailer.copy(this.record, RECORD_HEADER_BYTES + this.written);
    return this.publishRecord(this.record, identity);
  }

  async discard(): Promise<void> {}
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
