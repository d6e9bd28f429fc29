import { createHash, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { ConnectionSupervisor } from '../connection/types';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import type { FileRecord, FileSummary, MetadataStore } from '../metadata/types';
import type { GatewayConfig } from '../gateway/config';
import { FileCache } from './file-cache';
import { HttpError } from '../http/http-error';
import type { Placement } from '../replicas/placement';
import { readFileRange, type ReadDeps } from '../replicas/chunk-reader';
import { SmallFileCache } from './small-file-cache';
import { chunkSizeFor } from './chunk-plan';
import { UploadPipeline, type ChunkLocation } from './upload-pipeline';
import type { UploadSource } from '../http/upload/upload-source';

export interface FileServiceDeps {
  store: MetadataStore;
  supervisor: ConnectionSupervisor;
  placement: Placement;
  config: GatewayConfig;
  log: Logger;
  gatewayId: string;
  /** Optional counters (metrics). */
  events?: {
    replicaWrite?(outcome: 'stored' | 'failed'): void;
    readRetry?(): void;
    chunkDelete?(outcome: 'deleted' | 'failed'): void;
  };
}

export interface DeleteOutcome {
  deletedChunks: number;
  failedChunks: number;
}

/**
 * The file model between HTTP and the storage/metadata layers: uploads, lookups and deletes.
 */
export class FileService {
  private readonly cache: FileCache;
  private readonly smallFiles: SmallFileCache;

  constructor(private readonly deps: FileServiceDeps) {
    this.cache = new FileCache(deps.config.fileCacheTtlMs);
    this.smallFiles = new SmallFileCache(deps.config.smallFileCacheBytes);
  }

  /** Stores an upload; the file exists (listings, downloads) only once this resolves. */
  async upload(source: UploadSource): Promise<FileRecord> {
    const { store, config, log } = this.deps;
    const fileId = randomUUID();
    const now = new Date();
    await this.metadata(() =>
      store.beginUpload({
        fileId,
        filename: source.filename,
        contentType: source.contentType,
        gatewayId: this.deps.gatewayId,
        startedAt: now,
        expiresAt: new Date(now.getTime() + config.uploadSessionTtlMs),
      }),
    );
    const pipeline = new UploadPipeline(
      {
        supervisor: this.deps.supervisor,
        placement: this.deps.placement,
        log,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs,
        discard: (locations) => this.discard(locations),
        onReplicaOutcome: this.deps.events?.replicaWrite,
      },
      chunkSizeFor(source.expectedSize, config.streamChunkSize),
      source.sizeIsExact ? source.expectedSize : undefined,
    );
    let received = 0;
    // A small upload is kept for the download that often follows it (see SmallFileCache).
    const smallContent: Buffer[] = [];
    try {
      for await (const data of source.stream as AsyncIterable<Buffer>) {
        received += data.length;
        if (this.smallFiles.accepts(received)) smallContent.push(data);
        if (received > config.maxFileSize) {
          throw new HttpError(413, `file size exceeds the maximum file size of ${config.maxFileSize} bytes`, {
            max_file_size: config.maxFileSize,
          });
        }
        await pipeline.write(data);
      }
      await source.complete;
      const stored = await pipeline.finish();
      const record = await this.metadata(() =>
        store.completeUpload({
          fileId,
          filename: source.filename,
          contentType: source.contentType,
          size: stored.size,
          checksum: stored.checksum,
          chunks: stored.chunks,
        }),
      );
      this.cache.set(record);
      if (this.smallFiles.accepts(record.size)) this.smallFiles.set(record, Buffer.concat(smallContent));
      log.info(`Stored file ${fileId} (${source.filename}, ${record.size} bytes, ${record.chunks.length} chunks)`);
      return record;
    } catch (error) {
      await pipeline.abort();
      await store.abortUpload(fileId).catch((e) => log.warn(`Could not drop upload session ${fileId}: ${e}; cleanup will`));
      throw error;
    }
  }

  async getFile(fileId: string): Promise<FileRecord | null> {
    const cached = this.cache.get(fileId);
    if (cached) return cached;
    const record = await this.metadata(() => this.deps.store.getFile(fileId));
    if (record) this.cache.set(record);
    return record;
  }

  listFiles(page: number, perPage: number): Promise<{ files: FileSummary[]; total: number }> {
    return this.metadata(() => this.deps.store.listFiles(page, perPage));
  }

  /** Deletes a file; chunks that cannot be removed now stay in pending deletes for cleanup. */
  async deleteFile(fileId: string): Promise<DeleteOutcome | null> {
    const pending = await this.metadata(() => this.deps.store.deleteFile(fileId));
    this.cache.delete(fileId);
    this.smallFiles.delete(fileId);
    if (!pending) return null;
    const failed = await this.deleteReplicas(pending);
    const chunks = new Set(pending.map((p) => p.chunkId));
    const failedChunks = new Set(failed.map((f) => f.chunkId));
    return { deletedChunks: chunks.size - failedChunks.size, failedChunks: failedChunks.size };
  }

  /**
   * Deletes chunk replicas that are recorded as pending deletes; resolves each success in the
   * store and returns the ones that failed (left pending).
   */
  async deleteReplicas(items: ChunkLocation[]): Promise<ChunkLocation[]> {
    const { store, log } = this.deps;
    const failed: ChunkLocation[] = [];
    await Promise.all(
      items.map(async (item) => {
        try {
          await this.deleteReplica(item);
          this.deps.events?.chunkDelete?.('deleted');
          await store.resolvePendingDelete(item.chunkId, item.serverId);
        } catch (error) {
          failed.push(item);
          this.deps.events?.chunkDelete?.('failed');
          await store
            .failPendingDelete(item.chunkId, item.serverId, errorMessage(error))
            .catch((e) => log.warn(`Could not record failed delete of ${item.chunkId}: ${e}`));
        }
      }),
    );
    return failed;
  }

  /** Removes chunks of an upload that will not complete: now if possible, else later. */
  async discard(locations: ChunkLocation[]): Promise<void> {
    const { store, log } = this.deps;
    await store.addPendingDeletes(locations).catch((e) => log.warn(`Could not record chunks to delete: ${e}; orphan cleanup will find them`));
    await this.deleteReplicas(locations);
  }

  /**
   * The whole content of a small file (see SmallFileCache), from memory when it was read or
   * uploaded lately; undefined for a file that streams instead. Read bytes are kept only when they hash
   * to the file's checksum, so the cache can never hold a wrong copy.
   */
  async smallFileContent(file: FileRecord, onBadReplica: ReadDeps['onBadReplica']): Promise<Buffer | undefined> {
    if (file.size === 0 || !this.smallFiles.accepts(file.size)) return undefined;
    const cached = this.smallFiles.get(file);
    if (cached) return cached;
    const pieces: Buffer[] = [];
    for await (const piece of readFileRange(file.chunks, { start: 0, end: file.size - 1 }, this.readDeps(onBadReplica))) pieces.push(piece);
    const content = Buffer.concat(pieces);
    const checksum = createHash('sha256').update(content).digest('hex');
    if (checksum !== file.checksum) {
      throw new Error(`file ${file.fileId} read back with SHA-256 ${checksum}, but it was stored with ${file.checksum}`);
    }
    this.smallFiles.set(file, content);
    return content;
  }

  readDeps(onBadReplica: ReadDeps['onBadReplica']): ReadDeps {
    return {
      supervisor: this.deps.supervisor,
      log: this.deps.log,
      streamIdleTimeoutMs: this.deps.config.streamIdleTimeoutMs,
      onBadReplica,
      onRetry: this.deps.events?.readRetry,
    };
  }

  private async deleteReplica({ chunkId, serverId }: ChunkLocation): Promise<void> {
    const { supervisor, config } = this.deps;
    const client = await supervisor.getClient(serverId);
    try {
      await client.deleteChunk(chunkId, { deadlineMs: config.callTimeoutMs });
      supervisor.recordSuccess(serverId);
    } catch (error) {
      // Already gone is what we wanted.
      if ((error as grpc.ServiceError).code === grpc.status.NOT_FOUND) return;
      supervisor.recordFailure(serverId, error);
      throw error;
    }
  }

  /** Runs a metadata call; an unreachable database becomes a 503 the client can retry. */
  private async metadata<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof HttpError) throw error;
      this.deps.log.error(`Metadata store error: ${errorMessage(error)}`);
      throw new HttpError(503, 'metadata database unavailable; retry shortly', {}, { 'Retry-After': '2' });
    }
  }
}

