import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from '../util/fsync-dir.cjs';
import type { Logger } from '../util/logger';
import { parseCrc32Checksum } from '../wire/crc32';
import {
  blockIsIntact,
  crc32FromBlockChecks,
  parseChunkFile,
  readExactly,
  readExactlySync,
  readLayout,
  readLayoutWithChecks,
  layoutFromFooter,
  trailerBytesFor,
  FOOTER_BYTES,
  type BlockAllocator,
  type ChunkLayoutWithChecks,
} from './chunk-file-format';
import { isChunkId, normalizeChecksum, normalizeChunkId } from './chunk-id';
import { ChunkStoreError, CorruptBlockError, isNodeError } from './chunk-store-error';
import { DirectBlockReader } from './direct-block-reader';
import { DIRECT_MIN_CHUNK_BYTES } from './direct-io';
import { FreeSpaceEstimate } from './free-space-estimate';
import { GroupCommitter } from './group-commit';
import { removeFile } from './remove-file';
import { AlreadyStoredUpload, RecordSink, TempFileSink, VerifiedUpload, asStoreError, type ChunkIdentity, type ChunkUpload } from './chunk-upload';
import { VolumeStore } from './volume-store';
import { VOLUME_MAX_BYTES } from './volume-file';
import type { ChunkRange } from '../wire/chunk-range';

export interface StoredChunk {
  chunkId: string;
  size: number;
  checksum: string;
  modifiedAtMs: number;
}

export interface DiskUsage {
  available: number;
  used: number;
  total: number;
}

/** An open chunk being read: its size, the range served and the verified bytes of that range. */
export interface ChunkRead {
  size: number;
  offset: number;
  length: number;
  /**
   * The range, one piece per 1 MiB block (at most 1 MiB each). Every block is checked against
   * its stored check (CRC-32, or SHA-256 in older files) before any of its bytes are yielded; a
   * corrupt block throws DATA_LOSS. Each block is read into a Buffer from `allocate`, so a
   * caller can choose where the bytes land (the storage server: into its outgoing messages).
   */
  blocks(allocate?: BlockAllocator): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

/**
 * Chunk files up to this size are read whole by readRange, with synchronous calls: on a small
 * file the threadpool round trips of the asynchronous path (open, stat, footer, check table,
 * block, close) cost about ten times the CPU of the system calls themselves (~100 us against
 * ~10 us per read of a cached 4 KiB chunk), and a read this small blocks the loop only briefly.
 */
export const WHOLE_READ_MAX_FILE_BYTES = 256 * 1024;

/** Where the store reads its disk figures; tests inject a fixed one so space checks are deterministic. */
export type DiskUsageSource = (dataDir: string) => Promise<DiskUsage>;

async function statfsUsage(dataDir: string): Promise<DiskUsage> {
  const stats = await fs.statfs(dataDir);
  return {
    available: stats.bavail * stats.bsize,
    used: (stats.blocks - stats.bfree) * stats.bsize,
    total: stats.blocks * stats.bsize,
  };
}

/** A chunk file open for reading its blocks (see openBlocks). */
interface OpenChunk {
  file: fs.FileHandle;
  layout: ChunkLayoutWithChecks;
  /** A large chunk's data blocks are read with O_DIRECT; undefined where they are read through the page cache. */
  direct: DirectBlockReader | undefined;
}

export type VerifyResult = { ok: true } | { ok: false; corruptBlock: number; message: string };

/**
 * Chunks on local disk. Layout under the data directory:
 *   chunks/ab/cd/<uuid>   one file per chunk (data + block checks + footer, see chunk-file-format)
 *   tmp/<uuid>.<random>   puts in progress; cleared on start
 * Only UUID ids ever become paths, so nothing outside the data directory can be named.
 */
export class ChunkStore {
  private count = 0;
  private readonly committer = new GroupCommitter((chunks) =>
    this.logger.debug('Committing chunks together', { event: 'group_commit', chunks }));
  /** What puts may take: the free space less the reserve kept for deletes (putsMayTake). */
  private readonly freeSpace = new FreeSpaceEstimate(async () => putsMayTake(await this.diskUsage()));
  /**
   * Shard directories (chunks/ab/cd, by the id's first four hex digits) known to exist: a put
   * into one skips its mkdir, a threadpool call and a syscall or two per chunk.
   */
  private readonly shardExists = new Uint8Array(0x10000);
  /**
   * One bit per value of an id's first six hex digits: set for every chunk file found at start
   * and before every link, never cleared. A clear bit means no file of an id so named exists,
   * so a small put (publishRecord) skips the stat of a path that is nearly always absent.
   */
  private readonly fileMayExist = new Uint32Array(FILE_PREFIXES / 32);
  /**
   * Puts of chunk files being made durable, by id: a put of the id as a volume record waits for
   * them, as the file's name may come any moment (then the record put compares content), and so
   * does a put that would be acknowledged on the strength of that file (beginPut).
   */
  private readonly fileCommits = new Map<string, Promise<void>>();

  private constructor(
    readonly dataDir: string,
    private readonly chunksDir: string,
    private readonly tmpDir: string,
    private readonly logger: Logger,
    private readonly diskUsageSource: DiskUsageSource,
    /** Small chunks, as records of volume files. */
    private readonly volumes: VolumeStore,
  ) {}

  static async open(dataDir: string, logger: Logger, diskUsageSource: DiskUsageSource = statfsUsage): Promise<ChunkStore> {
    const root = path.resolve(dataDir);
    const volumes = await VolumeStore.open(root, logger, asStoreError);
    const store = new ChunkStore(root, path.join(root, 'chunks'), path.join(root, 'tmp'), logger, diskUsageSource, volumes);
    await fs.mkdir(store.chunksDir, { recursive: true });
    await fs.mkdir(store.tmpDir, { recursive: true });
    await store.clearLeftoverTempFiles();
    store.count = await store.countChunks();
    return store;
  }

  /** Closes the volume files (chunk files are opened per call); the store is not used after. */
  close(): Promise<void> {
    return this.volumes.close();
  }

  get chunkCount(): number {
    return this.count + this.volumes.chunkCount;
  }

  /**
   * Starts a put. A stored chunk with the same SHA-256 gives an upload that only drains.
   * `framesChecked`: the client sends a CRC-32 with every message (see TempFileUpload).
   */
  async beginPut(rawChunkId: unknown, rawChecksum: unknown, expectedSize = 0, framesChecked = false): Promise<ChunkUpload> {
    const chunkId = normalizeChunkId(rawChunkId);
    // An empty checksum means the client sends one in its last message (SHA-256 or CRC-32).
    const checksum = rawChecksum === '' ? '' : normalizeChecksum(rawChecksum);
    // Only a checksum sent up front can be compared before the data comes (a chunk stored
    // with its CRC-32 alone cannot be compared to a SHA-256): else the upload runs and its
    // publish compares content when the name is taken. A file being committed is named before
    // its directory is fsynced: this put is acknowledged on that copy, so only once it is durable.
    if (checksum) await this.fileCommits.get(chunkId)?.catch(() => undefined);
    const existing = checksum ? await this.statChunk(chunkId) : undefined;
    if (existing && parseCrc32Checksum(existing.checksum) === undefined) {
      this.assertSameChecksum(existing.checksum, checksum, chunkId);
      return new AlreadyStoredUpload(chunkId);
    }
    if (expectedSize > 0) await this.assertSpaceFor(expectedSize, chunkId);
    const options = { chunkId, checksum, framesChecked, expectedSize };
    if (isSmallChunk(expectedSize)) {
      return new VerifiedUpload(options, new RecordSink(chunkId, expectedSize, (record, identity) => this.publishRecord(chunkId, record, identity)));
    }
    const sink = await TempFileSink.create(path.join(this.tmpDir, `${chunkId}.${randomUUID()}`), expectedSize, (file, tempPath, identity) =>
      this.commitFile(chunkId, this.committer.commit({ file, name: () => this.link(tempPath, chunkId, identity) })));
    return new VerifiedUpload(options, sink);
  }

  /**
   * Stores a verified small chunk as a volume record, durably; a stored id (as a record or a
   * file, or a put of it being written) compares content instead, as link() does.
   */
  private async publishRecord(chunkId: string, record: Buffer, identity: ChunkIdentity): Promise<void> {
    for (let settled = false; !settled; ) {
      await this.volumes.settled(chunkId);
      const fileCommit = this.fileCommits.get(chunkId);
      if (fileCommit) await fileCommit.catch(() => undefined);
      settled = !fileCommit;
    }
    // Nothing awaited from here to put(), which marks the id taken at once.
    if (this.volumes.has(chunkId) || (this.mayBeFile(chunkId) && existsSync(this.chunkPath(chunkId)))) return this.assertSameContent(chunkId, identity);
    await this.volumes.put(chunkId, record);
  }

  /** Tracks a chunk file's commit (see fileCommits) until it settles. */
  private async commitFile(chunkId: string, commit: Promise<void>): Promise<void> {
    this.fileCommits.set(chunkId, commit);
    try {
      await commit;
    } finally {
      if (this.fileCommits.get(chunkId) === commit) this.fileCommits.delete(chunkId);
    }
  }

  async read(rawChunkId: unknown, range: ChunkRange = {}): Promise<ChunkRead> {
    const chunkId = normalizeChunkId(rawChunkId);
    const what = `chunk ${chunkId}`;
    const record = this.volumes.payload(chunkId, what);
    if (record) return wholeChunkRead(record, range, what);
    const chunk = await this.openBlocks(chunkId, what);
    try {
      const { offset, length } = servedRange(chunk.layout.size, range, what);
      return {
        size: chunk.layout.size,
        offset,
        length,
        blocks: (allocate) => verifiedBlocks(chunk, offset, length, what, allocate),
        close: () => closeBlocks(chunk),
      };
    } catch (error) {
      await closeBlocks(chunk);
      throw error;
    }
  }

  /**
   * Opens a chunk file and reads its footer and check table (through the page cache); a large
   * chunk (DIRECT_MIN_CHUNK_BYTES, as the writer) gets a direct reader for its data blocks.
   */
  private async openBlocks(chunkId: string, what: string): Promise<OpenChunk> {
    const file = await this.openChunk(chunkId);
    try {
      const stats = await file.stat();
      const layout = await readLayoutWithChecks(file, stats.size, what);
      const direct = layout.size >= DIRECT_MIN_CHUNK_BYTES ? await DirectBlockReader.open(this.chunkPath(chunkId), stats) : undefined;
      return { file, layout, direct };
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A range of a chunk in one Buffer (ReadChunk), every block it touches checked first as by
   * read(); a range longer than `maxLength` is refused with OUT_OF_RANGE before anything is
   * read. A small chunk file is read whole (WHOLE_READ_MAX_FILE_BYTES): one read of data,
   * checks and footer together. The range lies in memory from `allocate`.
   */
  async readRange(rawChunkId: unknown, range: ChunkRange, maxLength: number, allocate: BlockAllocator): Promise<Buffer> {
    const chunkId = normalizeChunkId(rawChunkId);
    const what = `chunk ${chunkId}`;
    const whole = this.volumes.payload(chunkId, what, allocate) ?? this.readSmallFile(chunkId, what, allocate);
    if (!whole) return this.readRangeInBlocks(chunkId, range, maxLength, allocate);
    const layout = parseChunkFile(whole, what);
    const { offset, length } = servedRange(layout.size, range, what);
    assertRangeFits(length, maxLength, what);
    return verifiedRange(whole, layout, offset, length, what);
  }

  /** readRange of a chunk too big to be read whole: its blocks, as read() serves them. */
  private async readRangeInBlocks(chunkId: string, range: ChunkRange, maxLength: number, allocate: BlockAllocator): Promise<Buffer> {
    const read = await this.read(chunkId, range);
    try {
      assertRangeFits(read.length, maxLength, `chunk ${chunkId}`);
      const blocks: Buffer[] = [];
      for await (const block of read.blocks(allocate)) blocks.push(block);
      if (blocks.length === 1) return blocks[0];
      const joined = allocate(read.length);
      let at = 0;
      for (const block of blocks) at += block.copy(joined, at);
      return joined.subarray(0, at);
    } finally {
      await read.close();
    }
  }

  /** The whole file of a chunk (data, checks, footer) when it is a small one, else undefined. */
  private readSmallFile(chunkId: string, what: string, allocate: BlockAllocator): Buffer | undefined {
    let fd: number;
    try {
      fd = openSync(this.chunkPath(chunkId), 'r');
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) throw notFound(chunkId);
      throw error;
    }
    try {
      const { size } = fstatSync(fd);
      return size > WHOLE_READ_MAX_FILE_BYTES ? undefined : readExactlySync(fd, size, 0, what, allocate);
    } finally {
      closeSync(fd);
    }
  }

  async delete(rawChunkId: unknown): Promise<void> {
    const chunkId = normalizeChunkId(rawChunkId);
    if (await this.volumes.delete(chunkId)) return;
    try {
      await fs.unlink(this.chunkPath(chunkId));
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) throw notFound(chunkId);
      throw error;
    }
    this.count -= 1;
    await fsyncDir(path.dirname(this.chunkPath(chunkId)));
  }

  /**
   * Re-reads every block of a chunk against its stored check, and the whole chunk against its
   * SHA-256 (scrub): the block checks find where damage is, the SHA-256 what they could miss.
   * A chunk stored with a CRC-32 as its whole-chunk check has that compared with its block
   * CRCs combined: the data itself is checked by the block CRCs, which catch every damaged byte.
   */
  async verify(rawChunkId: unknown): Promise<VerifyResult> {
    const chunkId = normalizeChunkId(rawChunkId);
    const what = `chunk ${chunkId}`;
    let chunk: OpenChunk | undefined;
    try {
      const record = this.volumes.payload(chunkId, what);
      if (record && !this.volumes.headerIsIntact(chunkId, what)) {
        return { ok: false, corruptBlock: -1, message: `${what} is damaged on disk: the header of its volume record does not hold (the next start would lose the record)` };
      }
      if (!record) chunk = await this.openBlocks(chunkId, what);
      const layout = record ? parseChunkFile(record, what) : chunk!.layout;
      const storedCrc = parseCrc32Checksum(layout.checksum);
      const whole = storedCrc === undefined ? createHash('sha256') : undefined;
      // Both throw at the first block that fails its check.
      const blocks = record ? [verifiedRange(record, layout, 0, layout.size, what)] : verifiedBlocks(chunk!, 0, layout.size, what);
      for await (const block of blocks) whole?.update(block);
      const intact = whole ? whole.digest('hex') === layout.checksum : crc32FromBlockChecks(layout) === storedCrc;
      if (!intact) {
        const kind = whole ? 'SHA-256' : 'CRC-32';
        return { ok: false, corruptBlock: -1, message: `${what} is damaged on disk: its blocks pass their checks but the chunk does not match its ${kind}` };
      }
      return { ok: true };
    } catch (error) {
      if (error instanceof ChunkStoreError && error.reason === 'DATA_LOSS') {
        // -1: the footer or check table itself is damaged, not one block.
        const corruptBlock = error instanceof CorruptBlockError ? error.blockIndex : -1;
        return { ok: false, corruptBlock, message: error.message };
      }
      throw error;
    } finally {
      if (chunk) await closeBlocks(chunk);
    }
  }

  /** Stored chunks (files and volume records alike) in chunk id order, starting after `after` ('' = from the start). */
  async *list(after = '', limit = 0): AsyncGenerator<StoredChunk> {
    const start = after === '' ? '' : normalizeChunkId(after);
    let listed = 0;
    for await (const chunk of mergedById(this.listFiles(start), this.listRecords(start))) {
      yield chunk;
      listed += 1;
      if (limit > 0 && listed >= limit) return;
    }
  }

  /** Chunks stored as volume records, in id order, after `start`. */
  private async *listRecords(start: string): AsyncGenerator<StoredChunk> {
    const ids = this.volumes.ids();
    for (let index = firstAfter(ids, start); index < ids.length; index += 1) {
      const chunk = await this.listed(ids[index], () => this.recordStat(ids[index]));
      if (chunk) yield chunk;
    }
  }

  /** Chunks stored as files, in id order, after `start`. */
  private async *listFiles(start: string): AsyncGenerator<StoredChunk> {
    for (const outer of await sortedEntries(this.chunksDir)) {
      if (outer < start.slice(0, 2)) continue;
      for (const inner of await sortedEntries(path.join(this.chunksDir, outer))) {
        if (outer + inner < start.slice(0, 4)) continue;
        for (const name of await sortedEntries(path.join(this.chunksDir, outer, inner))) {
          if (name <= start || !isStoredChunkName(name)) continue;
          const chunk = await this.listed(name, () => this.statFile(name));
          if (chunk) yield chunk;
        }
      }
    }
  }

  diskUsage(): Promise<DiskUsage> {
    return this.diskUsageSource(this.dataDir);
  }

  private chunkPath(chunkId: string): string {
    return path.join(this.chunksDir, chunkId.slice(0, 2), chunkId.slice(2, 4), chunkId);
  }

  private async openChunk(chunkId: string): Promise<fs.FileHandle> {
    try {
      return await fs.open(this.chunkPath(chunkId), 'r');
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) throw notFound(chunkId);
      throw error;
    }
  }

  /** Size, checksum and mtime from the footer; undefined when the chunk does not exist. */
  private async statChunk(chunkId: string): Promise<StoredChunk | undefined> {
    await this.volumes.settled(chunkId);
    return this.recordStat(chunkId) ?? this.statFile(chunkId);
  }

  /** statChunk of a chunk stored as a volume record; undefined when it is not one. */
  private recordStat(chunkId: string): StoredChunk | undefined {
    const tail = this.volumes.tail(chunkId, FOOTER_BYTES, `chunk ${chunkId}`);
    if (!tail) return undefined;
    const layout = layoutFromFooter(tail.bytes, tail.payloadLength, `chunk ${chunkId}`);
    return { chunkId, size: layout.size, checksum: layout.checksum, modifiedAtMs: tail.modifiedAtMs };
  }

  /** statChunk of a chunk stored as a file. */
  private async statFile(chunkId: string): Promise<StoredChunk | undefined> {
    let file: fs.FileHandle;
    try {
      file = await fs.open(this.chunkPath(chunkId), 'r');
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) return undefined;
      throw error;
    }
    try {
      const stats = await file.stat();
      const layout = await readLayout(file, stats.size, `chunk ${chunkId}`);
      return { chunkId, size: layout.size, checksum: layout.checksum, modifiedAtMs: Math.floor(stats.mtimeMs) };
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  /** A stat for a listing: a damaged chunk is logged and skipped so that one cannot stop a listing. */
  private async listed(chunkId: string, stat: () => Promise<StoredChunk | undefined> | StoredChunk | undefined): Promise<StoredChunk | undefined> {
    try {
      return await stat(); // undefined when deleted while listing
    } catch (error) {
      if (!(error instanceof ChunkStoreError)) throw error;
      this.logger.warn('Skipping damaged chunk in listing', { event: 'chunk_damaged', chunkId, error: error.message });
      return undefined;
    }
  }

  private assertSameChecksum(stored: string, offered: string, chunkId: string): void {
    if (stored !== offered) {
      throw new ChunkStoreError(
        'ALREADY_EXISTS',
        `chunk ${chunkId} is already stored with checksum ${stored}, refusing different content (${offered})`,
      );
    }
  }

  /**
   * A put of a stored id succeeds only with the same content: the same SHA-256 or CRC-32 text,
   * or else the same CRC-32, the stored one taken from its block checks when its footer keeps
   * a SHA-256 (a chunk first put by an original client, now copied by ringstore).
   */
  private async assertSameContent(chunkId: string, offered: ChunkIdentity): Promise<void> {
    const existing = await this.statChunk(chunkId);
    if (!existing || existing.checksum === offered.checksum) return;
    let storedCrc = parseCrc32Checksum(existing.checksum);
    const record = storedCrc === undefined ? this.volumes.payload(chunkId, `chunk ${chunkId}`) : undefined;
    if (record) storedCrc = crc32FromBlockChecks(parseChunkFile(record, `chunk ${chunkId}`));
    else if (storedCrc === undefined && parseCrc32Checksum(offered.checksum) !== undefined) {
      const file = await this.openChunk(chunkId);
      try {
        storedCrc = crc32FromBlockChecks(await readLayoutWithChecks(file, (await file.stat()).size, `chunk ${chunkId}`));
      } finally {
        await file.close().catch(() => undefined);
      }
    }
    if (storedCrc !== offered.crc32) this.assertSameChecksum(existing.checksum, offered.checksum, chunkId);
  }

  private async assertSpaceFor(size: number, chunkId: string): Promise<void> {
    const needed = size + trailerBytesFor(size);
    const { fits, available } = await this.freeSpace.admit(needed);
    if (!fits) {
      throw new ChunkStoreError(
        'RESOURCE_EXHAUSTED',
        `disk full: chunk ${chunkId} needs ${needed} bytes but only ${available} are available to puts (the rest is kept for deletes)`,
      );
    }
  }

  /**
   * Gives a synced temp file its chunk name; returns the directories to fsync (group commit
   * does, once per batch). link() never replaces an existing name, so two puts of one id racing
   * each other cannot overwrite a stored chunk: the loser sees EEXIST and compares content.
   */
  private async link(tempPath: string, chunkId: string, identity: ChunkIdentity): Promise<string[]> {
    if (this.volumes.has(chunkId)) {
      // Stored as a volume record (by a put that announced its size): the same content or nothing.
      try {
        await this.assertSameContent(chunkId, identity);
      } finally {
        await removeFile(tempPath);
      }
      return [];
    }
    const finalPath = this.chunkPath(chunkId);
    const shardDir = path.dirname(finalPath);
    const shard = parseInt(chunkId.slice(0, 4), 16);
    this.markFile(chunkId);
    let createdDir = this.shardExists[shard] ? undefined : await fs.mkdir(shardDir, { recursive: true });
    try {
      try {
        await fs.link(tempPath, finalPath);
      } catch (error) {
        if (!isNodeError(error, 'ENOENT') || !this.shardExists[shard]) throw error;
        // The shard directory went away after it was made (removed by hand): made again.
        createdDir = await fs.mkdir(shardDir, { recursive: true });
        await fs.link(tempPath, finalPath);
      }
      this.shardExists[shard] = 1;
      this.count += 1;
    } catch (error) {
      if (!isNodeError(error, 'EEXIST')) throw asStoreError(error);
      await this.assertSameContent(chunkId, identity);
    } finally {
      await removeFile(tempPath);
    }
    return createdDir ? [shardDir, path.dirname(shardDir), this.chunksDir] : [shardDir];
  }

  /** Sets the chunk's fileMayExist bit. */
  private markFile(chunkId: string): void {
    const prefix = parseInt(chunkId.slice(0, 6), 16);
    this.fileMayExist[prefix >>> 5] |= 1 << (prefix & 31);
  }

  /** False when no chunk file of this id can exist (fileMayExist). */
  private mayBeFile(chunkId: string): boolean {
    const prefix = parseInt(chunkId.slice(0, 6), 16);
    return (this.fileMayExist[prefix >>> 5] & (1 << (prefix & 31))) !== 0;
  }

  private async clearLeftoverTempFiles(): Promise<void> {
    const leftovers = await fs.readdir(this.tmpDir);
    await Promise.all(leftovers.map((name) => fs.rm(path.join(this.tmpDir, name), { force: true, recursive: true })));
    if (leftovers.length > 0) {
      this.logger.info('Removed unfinished puts left by an earlier run', { event: 'temp_cleared', count: leftovers.length });
    }
  }

  private async countChunks(): Promise<number> {
    let count = 0;
    for (const outer of await sortedEntries(this.chunksDir)) {
      for (const inner of await sortedEntries(path.join(this.chunksDir, outer))) {
        const names = (await sortedEntries(path.join(this.chunksDir, outer, inner))).filter(isStoredChunkName);
        for (const name of names) this.markFile(name);
        count += names.length;
      }
    }
    return count;
  }
}

async function closeBlocks({ file, direct }: OpenChunk): Promise<void> {
  await direct?.close();
  await file.close().catch(() => undefined);
}

async function* verifiedBlocks(
  { file, layout, direct }: OpenChunk,
  offset: number,
  length: number,
  what: string,
  allocate: BlockAllocator = Buffer.allocUnsafe,
): AsyncGenerator<Buffer> {
  if (length === 0) return;
  const end = offset + length;
  const first = Math.floor(offset / layout.blockSize);
  const last = Math.floor((end - 1) / layout.blockSize);
  const blockEnd = (index: number): number => Math.min(layout.size, (index + 1) * layout.blockSize);
  // Direct reads go ahead of the blocks asked for by several MiB (see DirectBlocks).
  const directBlocks = direct?.usable ? direct.blocks(first * layout.blockSize, blockEnd(last), what) : undefined;
  const readBlock = async (index: number): Promise<Buffer> => {
    const blockStart = index * layout.blockSize;
    // The part of the block that is served.
    const from = Math.max(offset, blockStart) - blockStart;
    const to = Math.min(end, blockEnd(index)) - blockStart;
    const checked = (block: Buffer): Buffer => {
      if (!blockIsIntact(layout, index, block)) throw new CorruptBlockError(index, what);
      return block;
    };
    // A direct read lands in a pool buffer: checked there, then only the served bytes copied out.
    const pooled = directBlocks && direct?.usable ? await directBlocks.next() : undefined;
    if (pooled) {
      const copy = allocate(to - from);
      checked(pooled).copy(copy, 0, from, to);
      return copy;
    }
    return checked(await readExactly(file, blockEnd(index) - blockStart, blockStart, what, allocate)).subarray(from, to);
  };
  // The next block is read (or taken from the direct reads ahead) and checked while the previous
  // one is on its way to the client, so disk, hashing and network overlap instead of taking
  // turns (one extra block of memory).
  const readAhead = (index: number): Promise<Buffer> => {
    const pending = readBlock(index);
    pending.catch(() => undefined); // seen when awaited; never an unhandled rejection meanwhile
    return pending;
  };
  let next = readAhead(first);
  try {
    for (let index = first; index <= last; index += 1) {
      const block = await next;
      if (index < last) next = readAhead(index + 1);
      yield block;
    }
  } finally {
    // A read stopped early waits for its reads in flight, so the file is not closed under them
    // and no pool buffer goes back while the kernel writes into it.
    await next.catch(() => undefined);
    await directBlocks?.close();
  }
}

/** Whether a put announcing `expectedSize` bytes is stored as a volume record: its stored bytes are read whole. */
function isSmallChunk(expectedSize: number): boolean {
  return expectedSize > 0 && expectedSize + trailerBytesFor(expectedSize) <= WHOLE_READ_MAX_FILE_BYTES;
}

/** A read of a chunk held whole in memory (a volume record). */
function wholeChunkRead(whole: Buffer, range: ChunkRange, what: string): ChunkRead {
  const layout = parseChunkFile(whole, what);
  const { offset, length } = servedRange(layout.size, range, what);
  return {
    size: layout.size,
    offset,
    length,
    async *blocks(allocate?: BlockAllocator) {
      if (length === 0) return;
      const served = verifiedRange(whole, layout, offset, length, what);
      if (!allocate) yield served;
      else {
        const copy = allocate(length);
        served.copy(copy);
        yield copy;
      }
    },
    close: async () => undefined,
  };
}

/** A range of a chunk held whole in memory, once every block it touches passes its check. */
function verifiedRange(whole: Buffer, layout: ChunkLayoutWithChecks, offset: number, length: number, what: string): Buffer {
  if (length === 0) return whole.subarray(0, 0);
  for (let index = Math.floor(offset / layout.blockSize); index * layout.blockSize < offset + length; index += 1) {
    const blockStart = index * layout.blockSize;
    if (!blockIsIntact(layout, index, whole.subarray(blockStart, Math.min(layout.size, blockStart + layout.blockSize)))) throw new CorruptBlockError(index, what);
  }
  return whole.subarray(offset, offset + length);
}

/** The first index in sorted `ids` after `start`. */
function firstAfter(ids: string[], start: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ids[middle] <= start) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Two listings sorted by id as one; an id in both (a put raced across kinds) is listed once. */
async function* mergedById(first: AsyncIterator<StoredChunk>, second: AsyncIterator<StoredChunk>): AsyncGenerator<StoredChunk> {
  let a = await first.next();
  let b = await second.next();
  while (!a.done || !b.done) {
    if (b.done || (!a.done && a.value.chunkId < b.value.chunkId)) {
      yield a.value as StoredChunk;
      a = await first.next();
    } else {
      if (!a.done && a.value.chunkId === b.value.chunkId) a = await first.next();
      yield b.value;
      b = await second.next();
    }
  }
}

/** Values of an id's first six hex digits (see fileMayExist): 2 MiB of bits. */
const FILE_PREFIXES = 1 << 24;

/** Most kept free for deletes: what compacting one volume that is half dead copies. */
const DELETE_RESERVE_MAX_BYTES = VOLUME_MAX_BYTES / 2;

/**
 * The free space puts may take. A delete of a volume record needs room too (its tombstone, and
 * the live records a compaction copies before it frees a volume), so puts stop short of a full
 * disk by a reserve: half a volume, or a tenth of a small disk. Without it, a disk filled by
 * small chunks could not free itself: every delete would fail for lack of space.
 */
export function putsMayTake({ available, total }: DiskUsage): number {
  return Math.max(0, available - Math.min(DELETE_RESERVE_MAX_BYTES, Math.floor(total / 10)));
}

/** The range a request names, within a chunk of `size` bytes (length 0 or none: to the end). */
function servedRange(size: number, range: ChunkRange, what: string): { offset: number; length: number } {
  const offset = range.offset ?? 0;
  if (offset > size) throw new ChunkStoreError('OUT_OF_RANGE', `offset ${offset} is beyond the end of ${what} (${size} bytes)`);
  const available = size - offset;
  return { offset, length: range.length ? Math.min(range.length, available) : available };
}

function assertRangeFits(length: number, maxLength: number, what: string): void {
  if (length > maxLength) {
    throw new ChunkStoreError('OUT_OF_RANGE', `${length} bytes of ${what} asked for in one reply, which holds at most ${maxLength}: read them with GetChunk`);
  }
}

function notFound(chunkId: string): ChunkStoreError {
  return new ChunkStoreError('NOT_FOUND', `chunk ${chunkId} not found`);
}

/** Stored names are lowercase UUIDs; anything else in the tree is not a chunk. */
function isStoredChunkName(name: string): boolean {
  return isChunkId(name) && name === name.toLowerCase();
}

async function sortedEntries(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (error) {
    if (isNodeError(error, 'ENOENT')) return [];
    throw error;
  }
}
