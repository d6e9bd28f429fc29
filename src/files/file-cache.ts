import type { FileRecord } from '../metadata/types';

/**
 * Completed files are immutable, so their metadata can be served from memory. Entries expire
 * after ttlMs so a delete made through another gateway (or a replica moved by repair) is seen
 * within that time; this gateway's own deletes evict at once.
 */
export class FileCache<T extends { fileId: string } = FileRecord> {
  private readonly entries = new Map<string, { record: T; expiresAt: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  get(fileId: string): T | undefined {
    const entry = this.entries.get(fileId);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(fileId);
      return undefined;
    }
    return entry.record;
  }

  set(record: T): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(record.fileId);
    this.entries.set(record.fileId, { record, expiresAt: Date.now() + this.ttlMs });
    // Map keeps insertion order: the first key is the oldest.
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(fileId: string): void {
    this.entries.delete(fileId);
  }
}
