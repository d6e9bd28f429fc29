import { createHash, randomUUID } from 'node:crypto';
import type { ChunkRecord, FileRecord, FileSummary, MetadataStore, ObjectWithChunks } from '../metadata/types';
import type { Replicas } from '../replicas/replicas';
import type { Logger } from '../util/logger';
import type { ByteRange } from './byte-range';
import { chunkPlanFor } from './chunk-plan';
import { readFileRange } from './download';
import { FileTooLargeError } from './errors';
import { FileCache } from './file-cache';
import { SMALL_FILE_MAX_BYTES, SmallFileCache } from './small-file-cache';
import { Upload, type StoredContent } from './upload';

/** The bytes of one file to store, however they arrived. */
export interface IncomingFile {
  filename: string;
  contentType: string;
  /** File size when the request tells it (raw Content-Length, or estimated from a multipart one). */
  expectedSize?: number;
  /**
   * True when expectedSize is the exact byte count (a raw body's Content-Length); an estimate
   * is only a plan for chunk sizes and must not be announced to storage servers.
   */
  sizeIsExact: boolean;
  stream: AsyncIterable<Buffer>;
  /** Settles once the whole request was parsed; rejects when the request turned out malformed. */
  complete: Promise<void>;
  /**
   * False for bytes nothing will read back whole as this file (an S3 part, an S3 object too big
   * to be kept in memory): no SHA-256 is computed (checksum '') and none are kept in memory for
   * the read that often follows. Default true.
   */
  readBack?: boolean;
}

/** Chunks stored by storeChunks, not recorded yet: what a files row (of any kind) is made of. */
export interface StoredChunks extends StoredContent {
  /** A new UUID for the files row that will hold them. */
  fileId: string;
}

export interface FileServiceConfig {
  maxFileSize: number;
  /** Chunk size when the upload's size is not known in advance. */
  streamChunkSize: number;
  /** MIN_CHUNK_SIZE: a file of known size gets min(6, ceil(size / this)) chunks. */
  minChunkSize: number;
  /** How long completed-file metadata may be served from memory (other gateways' deletes). */
  fileCacheTtlMs: number;
  /** Memory for the bytes of hot small files (0 = off). */
  smallFileCacheBytes: number;
}

export interface FileServiceDeps {
  store: MetadataStore;
  replicas: Replicas;
  config: FileServiceConfig;
  log: Logger;
}

/** What reading a files row's bytes takes (a file's record, or an S3 object's). */
export type StoredFileBytes = Pick<FileRecord, 'fileId' | 'size' | 'checksum' | 'chunks'>;

/** Where a small files row of any kind (an S3 object's) has its bytes, and the SHA-256 to check them by. */
export type ChunkList = Pick<ObjectWithChunks, 'fileId' | 'size' | 'sha256' | 'chunks'>;

export interface DeleteOutcome {
  deletedChunks: number;
  failedChunks: number;
}

/**
 * The files model: uploads, lookups, reads and deletes of files, on the replica layer (chunk
 * bytes) and the metadata store (what a file is made of). Failures are domain errors.
 */
export class FileService {
  private readonly cache: FileCache;
  private readonly smallFiles: SmallFileCache;
  /** Chunk lists of small S3 objects' files rows, kept as file records are (see keepChunkList). */
  private readonly chunkLists: FileCache<ChunkList>;

  constructor(private readonly deps: FileServiceDeps) {
    this.cache = new FileCache(deps.config.fileCacheTtlMs);
    this.chunkLists = new FileCache(deps.config.fileCacheTtlMs);
    this.smallFiles = new SmallFileCache(deps.config.smallFileCacheBytes);
  }

  /** Stores an upload; the file exists (listings, downloads) only once this resolves. */
  async upload(incoming: IncomingFile): Promise<FileRecord> {
    const record = await this.storeChunks(incoming, async (stored) =>
      this.deps.store.completeUpload({ ...stored, filename: incoming.filename, contentType: incoming.contentType }),
    );
    this.cache.set(record);
    this.deps.log.info(`Stored file ${record.fileId} (${incoming.filename}, ${record.size} bytes, ${record.chunks.length} chunks)`);
    return record;
  }

  /**
   * Stores a stream as chunks on their replicas, then lets `commit` record them: the one
   * metadata write of an upload. When the stream, a check inside `commit` or the commit itself
   * fails, the chunks are removed and nothing is recorded. `onData` sees every piece as it is stored (digests).
   * A small body is kept for the read that often follows it (see SmallFileCache), once recorded.
   */
  async storeChunks<T>(incoming: IncomingFile, commit: (stored: StoredChunks) => Promise<T>, onData?: (data: Buffer) => void): Promise<T> {
    const { replicas, config } = this.deps;
    const fileId = randomUUID();
    const readBack = incoming.readBack ?? true;
    // No session row while chunks are written. Chunks of an upload cut short are deleted below,
    // or, if this process dies, found by the orphan scan (ORPHAN_GRACE_MS is never shorter than
    // an upload may take).
    const upload = new Upload(
      (expectedSize) => replicas.openChunk(expectedSize),
      chunkPlanFor(incoming.expectedSize, config),
      incoming.sizeIsExact ? incoming.expectedSize : undefined,
      readBack,
    );
    const smallContent: Buffer[] = [];
    try {
      for await (const data of incoming.stream) {
        if (upload.bytesReceived + data.length > config.maxFileSize) throw new FileTooLargeError(config.maxFileSize);
        onData?.(data);
        await upload.write(data);
        if (readBack && this.smallFiles.accepts(upload.bytesReceived)) smallContent.push(data);
      }
      await incoming.complete;
      const stored = await upload.finish();
      const committed = await commit({ fileId, ...stored });
      if (readBack && stored.size > 0 && this.smallFiles.accepts(stored.size)) this.smallFiles.set({ fileId, checksum: stored.checksum }, Buffer.concat(smallContent));
      return committed;
    } catch (error) {
      await upload.abort();
      throw error;
    }
  }

  async getFile(fileId: string): Promise<FileRecord | null> {
    const cached = this.cache.get(fileId);
    if (cached) return cached;
    const record = await this.deps.store.getFile(fileId);
    if (record) this.cache.set(record);
    return record;
  }

  /** Newest first; with nameContains, only files whose name contains it (case-insensitive). */
  listFiles(page: number, perPage: number, nameContains?: string): Promise<{ files: FileSummary[]; total: number }> {
    return this.deps.store.listFiles(page, perPage, nameContains);
  }

  /** Deletes a file; chunks that cannot be removed now stay in pending deletes for cleanup. */
  async deleteFile(fileId: string): Promise<DeleteOutcome | null> {
    const pending = await this.deps.store.deleteFile(fileId);
    this.cache.delete(fileId);
    this.smallFiles.delete(fileId);
    if (!pending) return null;
    const failed = await this.deps.replicas.delete(pending);
    const chunks = new Set(pending.map((p) => p.chunkId));
    const failedChunks = new Set(failed.map((f) => f.chunkId));
    return { deletedChunks: chunks.size - failedChunks.size, failedChunks: failedChunks.size };
  }

  /**
   * The bytes of `range` of a file (or of anything stored as chunks), streamed from its replicas. Each piece is handed over once:
   * give it back with release() as soon as it has been written on.
   */
  read(file: { chunks: ChunkRecord[] }, range: ByteRange): AsyncGenerator<Buffer> {
    return readFileRange(file.chunks, range, (chunk, offset, length) => this.deps.replicas.readChunk(chunk, offset, length));
  }

  /** A piece from read() is no longer needed: its memory may be reused. */
  release(piece: Buffer): void {
    this.deps.replicas.release(piece);
  }

  /** Whether a file of this size is kept in memory once stored or read (and checked by its SHA-256 then). */
  keepsInMemory(size: number): boolean {
    return this.smallFiles.accepts(size);
  }

  /** The whole content of a small file if it is in memory now (no metadata or storage call). */
  cachedSmallFileContent(fileId: string): Buffer | undefined {
    return this.smallFiles.get({ fileId });
  }

  /** The chunk list of a files row kept by keepChunkList, while fresh. */
  cachedChunkList(fileId: string): ChunkList | undefined {
    return this.chunkLists.get(fileId);
  }

  /**
   * Keeps a small files row's chunk list for FILE_CACHE_TTL_MS, as the file API keeps a file's
   * record: a row's chunks never change, and a replica moved meanwhile costs a read failover,
   * as for files. Only reached through the object row naming the file id, so an overwritten or
   * deleted object's list is never asked for. Big objects' lists (up to 60,000 chunks) are not kept.
   */
  keepChunkList(file: ChunkList): void {
    if (file.size <= SMALL_FILE_MAX_BYTES) this.chunkLists.set({ fileId: file.fileId, size: file.size, sha256: file.sha256, chunks: file.chunks });
  }

  /**
   * The whole content of a small file (up to SMALL_FILE_MAX_BYTES), from memory when it was
   * read or uploaded lately (see SmallFileCache); undefined for a file that streams instead.
   * Bytes read are kept only when they hash to the file's checksum, so the cache can never hold
   * a wrong copy; bytes not kept are checked as every read is, by the servers' block checks.
   */
  async smallFileContent(file: StoredFileBytes): Promise<Buffer | undefined> {
    if (file.size === 0 || file.size > SMALL_FILE_MAX_BYTES) return undefined;
    const cached = this.smallFiles.get(file);
    if (cached) return cached;
    const pieces: Buffer[] = [];
    // A file of one chunk (every small file) is that chunk's read itself, without read()'s
    // generator around it, which only orders the reads of several chunks.
    const [only] = file.chunks;
    const reader = file.chunks.length === 1 && only.offset === 0 && only.size === file.size
      ? this.deps.replicas.readChunk(only, 0, file.size)
      : this.read(file, { start: 0, end: file.size - 1 });
    for await (const piece of reader) pieces.push(piece);
    if (!this.smallFiles.accepts(file.size)) return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    // A copy of its own to keep: a piece may lie in a larger buffer that it would hold on to.
    const content = Buffer.concat(pieces);
    const checksum = createHash('sha256').update(content).digest('hex');
    if (checksum !== file.checksum) {
      throw new Error(`file ${file.fileId} read back with SHA-256 ${checksum}, but it was stored with ${file.checksum}`);
    }
    this.smallFiles.set(file, content);
    return content;
  }
}
