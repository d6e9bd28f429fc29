import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from '../util/fsync-dir.cjs';
import type { Logger } from '../util/logger';
import { readExactly, readExactlySync, type BlockAllocator } from './chunk-file-format';
import { VolumeAppender } from './volume-appender';
import { VOLUME_MAX_BYTES, VolumeFile } from './volume-file';
import { RECORD_HEADER_BYTES, parseHeader, sealRecord, type RecordKind } from './volume-record';
import { scanVolume } from './volume-scan';

/** Where a stored chunk's record is. */
interface IndexEntry {
  volume: VolumeFile;
  /** Offset of the record's header. */
  offset: number;
  payloadLength: number;
  sequence: number;
  modifiedAtMs: number;
}

/** A sealed volume whose dead bytes pass this share of it is compacted. */
const COMPACT_DEAD_SHARE = 0.5;
/** Bytes of live records copied in one go while compacting: bounds compaction's memory. */
const COMPACT_COPY_BYTES = 8 * 1024 * 1024;

/**
 * Small chunks as records appended to volume files (`<data>/volumes/000001.vol`, ...), instead
 * of one file each: a put is one append to an open file, shared with the puts that finish with
 * it (VolumeAppender: one write, one fdatasync per batch), where a file per chunk costs a create,
 * link, unlink and directory fsync (most of a storage server's CPU per small put).
 *
 * An in-memory index maps each stored chunk to its record; it is rebuilt at start from the
 * records (volume-scan). Every record carries a sequence number, and an id's highest one says
 * whether it is stored: a delete appends a tombstone, and compaction copies records with their
 * numbers, so a crash at any point leaves the same answer.
 */
export class VolumeStore {
  private readonly index = new Map<string, IndexEntry>();
  /** Puts and deletes being written, by id: a second operation on one id waits for the first. */
  private readonly pending = new Map<string, Promise<unknown>>();
  /** For each id, the volumes holding a put of it that no longer counts: its tombstone must outlive them. */
  private readonly deadPutVolumes = new Map<string, Set<VolumeFile>>();
  private readonly volumes: VolumeFile[] = [];
  private readonly appender: VolumeAppender;
  private nextSequence = 1;
  private sortedIds: string[] | undefined;
  private compacting: Promise<void> | undefined;
  private closing = false;

  private constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    asStoreError: (error: unknown) => unknown,
    private readonly maxVolumeBytes: number,
  ) {
    this.appender = new VolumeAppender(
      (bytes) => this.volumeFor(bytes),
      (records) => logger.debug('Committing records together', { event: 'group_commit', chunks: records }),
      asStoreError,
    );
  }

  /** `asStoreError`: turns a failed write's error into the store's; `maxVolumeBytes`: where volumes roll over (tests make it small). */
  static async open(dataDir: string, logger: Logger, asStoreError: (error: unknown) => unknown, maxVolumeBytes = VOLUME_MAX_BYTES): Promise<VolumeStore> {
    const dir = path.join(dataDir, 'volumes');
    if (await fs.mkdir(dir, { recursive: true })) await fsyncDir(dataDir);
    const store = new VolumeStore(dir, logger, asStoreError, maxVolumeBytes);
    await store.load();
    return store;
  }

  get chunkCount(): number {
    return this.index.size;
  }

  /** Whether the chunk is stored here or a put of it is being written. */
  has(chunkId: string): boolean {
    return this.index.has(chunkId) || this.pending.has(chunkId);
  }

  /** Resolves once no put or delete of the chunk is being written. */
  async settled(chunkId: string): Promise<void> {
    for (let pending = this.pending.get(chunkId); pending; pending = this.pending.get(chunkId)) await pending.catch(() => undefined);
  }

  /**
   * Stores a chunk file's bytes, which follow RECORD_HEADER_BYTES of room in `record`, as a
   * record; resolves once durable. The caller has made sure the id is free (has()).
   */
  async put(chunkId: string, record: Buffer): Promise<void> {
    const sequence = this.nextSequence++;
    const modifiedAtMs = Date.now();
    const written = this.appender.append(sealRecord(record, 'put', chunkId, sequence, modifiedAtMs));
    this.pending.set(chunkId, written);
    try {
      const { volume, offset } = await written;
      this.index.set(chunkId, { volume, offset, payloadLength: record.length - RECORD_HEADER_BYTES, sequence, modifiedAtMs });
      this.sortedIds = undefined;
    } finally {
      this.pending.delete(chunkId);
    }
  }

  /** Appends a tombstone and resolves once it is durable; false when the chunk is not stored here. */
  async delete(chunkId: string): Promise<boolean> {
    await this.settled(chunkId);
    const entry = this.index.get(chunkId);
    if (!entry) return false;
    // Gone for readers at once, as an unlinked file is; back if the tombstone cannot be written.
    this.index.delete(chunkId);
    this.sortedIds = undefined;
    const written = this.appender.append(sealRecord(Buffer.alloc(RECORD_HEADER_BYTES), 'delete', chunkId, this.nextSequence++, Date.now()));
    this.pending.set(chunkId, written);
    // Compaction may remove the put's volume meanwhile (a deleted put is not copied): the put is
    // gone then, neither to be given back nor to be outlived by the tombstone.
    try {
      const tombstone = await written;
      tombstone.volume.deadBytes += RECORD_HEADER_BYTES;
      if (this.volumes.includes(entry.volume)) this.outdatePut(chunkId, entry);
    } catch (error) {
      if (this.volumes.includes(entry.volume)) this.index.set(chunkId, entry);
      throw error;
    } finally {
      this.pending.delete(chunkId);
      this.sortedIds = undefined;
    }
    this.compactWhenWorthIt();
    return true;
  }

  /** The chunk's stored bytes (a chunk file's: data, checks, footer), read with one synchronous pread; undefined when not stored here. */
  payload(chunkId: string, what: string, allocate?: BlockAllocator): Buffer | undefined {
    const entry = this.index.get(chunkId);
    if (!entry) return undefined;
    return readExactlySync(entry.volume.fd, entry.payloadLength, entry.offset + RECORD_HEADER_BYTES, what, allocate);
  }

  /**
   * Whether the header of the chunk's record still reads as written (VerifyChunk): reads never
   * look at it, but the next start would skip a record whose header is damaged.
   */
  headerIsIntact(chunkId: string, what: string): boolean {
    const entry = this.index.get(chunkId);
    if (!entry) return false;
    const header = parseHeader(readExactlySync(entry.volume.fd, RECORD_HEADER_BYTES, entry.offset, what));
    return header?.kind === 'put' && header.chunkId === chunkId && header.sequence === entry.sequence && header.payloadLength === entry.payloadLength;
  }

  /** The chunk's last `length` stored bytes (its footer), and when it was stored. */
  tail(chunkId: string, length: number, what: string): { bytes: Buffer; payloadLength: number; modifiedAtMs: number } | undefined {
    const entry = this.index.get(chunkId);
    if (!entry) return undefined;
    const bytes = readExactlySync(entry.volume.fd, Math.min(length, entry.payloadLength), entry.offset + RECORD_HEADER_BYTES + entry.payloadLength - Math.min(length, entry.payloadLength), what);
    return { bytes, payloadLength: entry.payloadLength, modifiedAtMs: entry.modifiedAtMs };
  }

  /** Stored ids in order (kept until the next change). */
  ids(): string[] {
    this.sortedIds ??= [...this.index.keys()].sort();
    return this.sortedIds;
  }

  /** Waits for a running compaction (tests). */
  async compacted(): Promise<void> {
    while (this.compacting) await this.compacting;
  }

  /** Closes the volume files once compaction and writes have stopped; the store is not used after. */
  async close(): Promise<void> {
    this.closing = true;
    await this.compacted();
    await this.appender.idle();
    await Promise.all(this.volumes.map((volume) => volume.close()));
  }

  private async load(): Promise<void> {
    const numbers = (await fs.readdir(this.dir)).map((name) => VolumeFile.numberIn(name)).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
    const started = Date.now();
    let records = 0;
    for (const [position, number] of numbers.entries()) {
      const volume = await VolumeFile.open(this.dir, number);
      this.volumes.push(volume);
      const last = position === numbers.length - 1;
      const scan = await scanVolume(volume.handle, volume.end, last);
      for (const [from, to] of scan.skipped) {
        this.logger.error(`Volume ${volume.path} is damaged: bytes ${from}-${to} hold no intact record and are skipped (chunks stored there are lost here; repair copies them back from other replicas)`, { event: 'volume_damaged', volume: volume.path, from, to });
      }
      if (scan.intactEnd < volume.end) {
        if (last) {
          // A batch the crash cut short: none of it was acknowledged (see VolumeAppender).
          this.logger.info(`Volume ${volume.path}: cut a torn tail of ${volume.end - scan.intactEnd} bytes left by a crash`, { event: 'volume_tail_cut', volume: volume.path, bytes: volume.end - scan.intactEnd });
          await volume.handle.truncate(scan.intactEnd);
          await volume.handle.sync();
        } else {
          this.logger.error(`Volume ${volume.path}: ${volume.end - scan.intactEnd} bytes at its end hold no intact record`, { event: 'volume_damaged', volume: volume.path });
        }
        volume.end = scan.intactEnd;
      }
      volume.sealed = !last || volume.end >= this.maxVolumeBytes;
      for (const record of scan.records) this.loadRecord(volume, record);
      records += scan.records.length;
    }
    for (const [chunkId, entry] of this.index) {
      if (entry.payloadLength === TOMBSTONE) this.index.delete(chunkId);
    }
    this.logger.info('Volumes loaded', { event: 'volumes_loaded', volumes: numbers.length, records, chunks: this.index.size, ms: Date.now() - started });
    this.compactWhenWorthIt();
  }

  /** Indexes one scanned record: the highest sequence of an id wins, whatever the file order. */
  private loadRecord(volume: VolumeFile, record: { kind: RecordKind; chunkId: string; sequence: number; offset: number; payloadLength: number; modifiedAtMs: number }): void {
    this.nextSequence = Math.max(this.nextSequence, record.sequence + 1);
    // While loading, a tombstone is indexed too (as TOMBSTONE), so that an older put found later loses to it.
    const entry: IndexEntry = {
      volume,
      offset: record.offset,
      payloadLength: record.kind === 'put' ? record.payloadLength : TOMBSTONE,
      sequence: record.sequence,
      modifiedAtMs: record.modifiedAtMs,
    };
    const current = this.index.get(record.chunkId);
    // An equal number is a copy compaction made (volumes load in order, so the newer place wins).
    const [winner, loser] = !current || record.sequence >= current.sequence ? [entry, current] : [current, entry];
    this.index.set(record.chunkId, winner);
    // A tombstone's own bytes are dead from the start: it is kept only as long as it outdates a put.
    if (record.kind === 'delete') volume.deadBytes += RECORD_HEADER_BYTES;
    if (loser && loser.payloadLength !== TOMBSTONE) this.outdatePut(record.chunkId, loser);
  }

  /** A put that no longer counts: its bytes are dead, and tombstones of its id must outlive it. */
  private outdatePut(chunkId: string, entry: IndexEntry): void {
    entry.volume.deadBytes += RECORD_HEADER_BYTES + entry.payloadLength;
    entry.volume.deadPutIds.add(chunkId);
    let volumes = this.deadPutVolumes.get(chunkId);
    if (!volumes) this.deadPutVolumes.set(chunkId, (volumes = new Set()));
    volumes.add(entry.volume);
  }

  /** The volume to append `bytes` to: the last one, or a new one when it is sealed or would pass VOLUME_MAX_BYTES. */
  private async volumeFor(bytes: number): Promise<VolumeFile> {
    const last = this.volumes.at(-1);
    if (last && !last.sealed && (last.end === 0 || last.end + bytes <= this.maxVolumeBytes)) return last;
    if (last) last.sealed = true;
    const volume = await VolumeFile.create(this.dir, (last?.number ?? 0) + 1);
    this.volumes.push(volume);
    await fsyncDir(this.dir); // the new name is durable before any record in it is acknowledged
    this.compactWhenWorthIt();
    return volume;
  }

  /** Starts compacting the first sealed volume that is mostly dead, unless a compaction runs. */
  private compactWhenWorthIt(): void {
    if (this.compacting || this.closing) return;
    const volume = this.volumes.find((candidate) => candidate.sealed && candidate !== this.volumes.at(-1) && candidate.deadBytes >= candidate.end * COMPACT_DEAD_SHARE);
    if (!volume) return;
    this.compacting = this.compact(volume)
      .catch((error: unknown) => {
        this.logger.error(`Compacting volume ${volume.path} failed (it stays as it is): ${(error as Error).message}`, { event: 'volume_compaction_failed', volume: volume.path });
      })
      .finally(() => {
        this.compacting = undefined;
        if (this.volumes.includes(volume)) return; // failed: not retried until restart
        this.compactWhenWorthIt();
      });
  }

  /**
   * Copies a volume's records that still count (live puts, and tombstones of ids with a dead put
   * in another volume) to the end of the current one, with their sequence numbers and times,
   * then removes the volume once the copies are durable. A crash before the removal leaves both
   * copies, which the sequence numbers reconcile at the next start.
   */
  private async compact(volume: VolumeFile): Promise<void> {
    const started = Date.now();
    const { records } = await scanVolume(volume.handle, volume.end, false);
    let copied = 0;
    let batch: Array<Promise<void>> = [];
    let batchBytes = 0;
    for (const record of records) {
      const entry = this.index.get(record.chunkId);
      const keep = record.kind === 'put'
        ? entry?.volume === volume && entry.offset === record.offset
        : [...(this.deadPutVolumes.get(record.chunkId) ?? [])].some((other) => other !== volume);
      if (!keep) continue;
      const bytes = await readExactly(volume.handle, RECORD_HEADER_BYTES + record.payloadLength, record.offset, `volume ${volume.path}`);
      batch.push(this.appender.append(bytes).then((copy) => this.moved(record.chunkId, record.kind, volume, record.offset, copy.volume, copy.offset, bytes.length)));
      batchBytes += bytes.length;
      copied += 1;
      if (batchBytes >= COMPACT_COPY_BYTES) {
        await Promise.all(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    await Promise.all(batch);
    // A delete whose tombstone failed while its put was being copied gives the put back where it was.
    if (records.some((record) => this.index.get(record.chunkId)?.volume === volume)) throw new Error('a chunk stored in it is still read from it');
    this.volumes.splice(this.volumes.indexOf(volume), 1);
    for (const chunkId of volume.deadPutIds) {
      const volumes = this.deadPutVolumes.get(chunkId);
      volumes?.delete(volume);
      if (volumes?.size === 0) this.deadPutVolumes.delete(chunkId);
    }
    await volume.close();
    await fs.unlink(volume.path);
    await fsyncDir(this.dir);
    this.logger.info(`Compacted volume ${volume.path}: ${copied} records kept, ${volume.end} bytes freed`, { event: 'volume_compacted', volume: volume.path, records: copied, ms: Date.now() - started });
  }

  /** A record copied by compaction is durable at its new place: readers go there, unless it was deleted meanwhile. */
  private moved(chunkId: string, kind: RecordKind, from: VolumeFile, fromOffset: number, to: VolumeFile, toOffset: number, length: number): void {
    const entry = this.index.get(chunkId);
    if (kind === 'put' && entry?.volume === from && entry.offset === fromOffset) {
      this.index.set(chunkId, { ...entry, volume: to, offset: toOffset });
      return;
    }
    if (kind === 'put') this.outdatePut(chunkId, { volume: to, offset: toOffset, payloadLength: length - RECORD_HEADER_BYTES, sequence: 0, modifiedAtMs: 0 });
    else to.deadBytes += length;
  }
}

/** payloadLength of an index entry that is a tombstone (only while loading). */
const TOMBSTONE = -1;
