import { writeAll, writeAllSync } from './chunk-file-writer';
import type { VolumeFile } from './volume-file';

/** Where an appended record landed: its volume and the offset of its header. */
export interface RecordLocation {
  volume: VolumeFile;
  offset: number;
}

/** Most records written together, and most bytes: bounds how long the first of a batch waits. */
const MAX_BATCH_RECORDS = 1024;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/**
 * A batch up to this size is written with a synchronous pwrite: a few KiB into the page cache
 * cost the system call ~10 us, where the threadpool round trip of an asynchronous write (a
 * worker woken, its completion posted back to the loop) cost ~0.1 ms of CPU per batch. Only
 * the fdatasync, which waits for the disk, goes to the threadpool.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/**
 * Group commit for volume records: records appended while a batch is being made durable wait
 * and go together in the next one, as ONE write at the volume's end and one fdatasync; only
 * then is any of them resolved. So nothing is acknowledged before its record is durable, and a
 * batch is written only once every earlier one is synced: a crash can tear only the last batch
 * of the volume being appended to, whose records no one was told are stored. A failed write or
 * sync fails its batch alone: the volume is cut back to the batch's start, and when that fails
 * too (or the sync failed, after which the page cache cannot be trusted) it is sealed and the
 * next batch starts a new volume. A lone record on an idle store is written at the end of the
 * turn of the event loop it came in (with the records that came in the same turn), never after a timer.
 */
export class VolumeAppender {
  private waiting: Array<{ record: Buffer; resolve: (location: RecordLocation) => void; reject: (error: unknown) => void }> = [];
  private running = false;
  /** Settles when the batch being written does (compaction waits for it before it closes a volume). */
  private draining: Promise<void> = Promise.resolve();

  constructor(
    /** The volume to append to; a new one when the last is sealed or full (made durable by its creator). */
    private readonly volumeFor: (bytes: number) => Promise<VolumeFile>,
    /** Told the size of every batch written (logs, tests). */
    private readonly onBatch: (records: number) => void,
    /** Turns a write's error into the store's (disk full: RESOURCE_EXHAUSTED). */
    private readonly asStoreError: (error: unknown) => unknown,
  ) {}

  /** Resolves once `record` is durable at the returned place. */
  append(record: Buffer): Promise<RecordLocation> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ record, resolve, reject });
      if (!this.running) {
        // The first batch starts once this turn of the event loop is over, not at once: the
        // chunks of one PutSmallChunks call reach here one after the other in the same turn,
        // and started at once the first went alone, the others in a second write and fdatasync.
        this.running = true;
        this.draining = new Promise((started) => setImmediate(started)).then(() => this.drain());
      }
    });
  }

  /** Resolves when no batch is being written. */
  async idle(): Promise<void> {
    while (this.running) await this.draining;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      let bytes = 0;
      let count = 0;
      while (count < this.waiting.length && count < MAX_BATCH_RECORDS && (count === 0 || bytes + this.waiting[count].record.length <= MAX_BATCH_BYTES)) {
        bytes += this.waiting[count].record.length;
        count += 1;
      }
      const batch = this.waiting.splice(0, count);
      this.onBatch(batch.length);
      try {
        const locations = await this.write(batch.map((entry) => entry.record), bytes);
        batch.forEach((entry, index) => entry.resolve(locations[index]));
      } catch (error) {
        const reason = this.asStoreError(error);
        for (const entry of batch) entry.reject(reason);
      }
    }
    this.running = false;
  }

  private async write(records: Buffer[], bytes: number): Promise<RecordLocation[]> {
    const volume = await this.volumeFor(bytes);
    const start = volume.end;
    try {
      const data = records.length === 1 ? records[0] : Buffer.concat(records, bytes);
      if (bytes <= SYNC_WRITE_MAX_BYTES) writeAllSync(volume.fd, data, start);
      else await writeAll(volume.handle, data, start);
    } catch (error) {
      await volume.handle.truncate(start).catch(() => { volume.sealed = true; });
      throw error;
    }
    try {
      await volume.handle.datasync();
    } catch (error) {
      volume.sealed = true;
      await volume.handle.truncate(start).catch(() => undefined);
      throw error;
    }
    volume.end = start + bytes;
    let offset = start;
    return records.map((record) => {
      const location = { volume, offset };
      offset += record.length;
      return location;
    });
  }
}
