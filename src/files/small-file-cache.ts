import type { FileRecord } from '../metadata/types';

/** Files up to this size are kept whole in memory once read; bigger ones always stream. */
export const SMALL_FILE_MAX_BYTES = 64 * 1024;
/** SMALL_FILE_CACHE_BYTES when it is not set. */
export const DEFAULT_SMALL_FILE_CACHE_BYTES = 32 * 1024 ** 2;

/**
 * The bytes of recently uploaded or downloaded small files, least recently used first out,
 * within a byte budget. A small file is six chunk calls to storage servers but one memory copy from here.
 *
 * No expiry of its own: every download first looks the file up in the metadata (FileService,
 * whose cache entries expire), and a completed file's bytes never change, so an entry is only
 * served for a file that still exists with the same checksum. S3 objects are files rows too:
 * an overwrite points the key at a new file id, so a stale entry is never asked for.
 */
export class SmallFileCache {
  private readonly entries = new Map<string, { checksum: string; content: Buffer }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Whether a file of this size is cached at all (never, when the budget is 0). */
  accepts(size: number): boolean {
    return size <= SMALL_FILE_MAX_BYTES && size <= this.maxBytes;
  }

  /** Without a checksum, the id alone: a files row's bytes never change and its id is never reused. */
  get(file: { fileId: string; checksum?: string }): Buffer | undefined {
    const entry = this.entries.get(file.fileId);
    if (!entry || (file.checksum !== undefined && entry.checksum !== file.checksum)) return undefined;
    // Map keeps insertion order: re-inserting makes this the most recently used.
    this.entries.delete(file.fileId);
    this.entries.set(file.fileId, entry);
    return entry.content;
  }

  set(file: Pick<FileRecord, 'fileId' | 'checksum'>, content: Buffer): void {
    if (!this.accepts(content.length)) return;
    this.delete(file.fileId);
    this.entries.set(file.fileId, { checksum: file.checksum, content });
    this.bytes += content.length;
    for (const [fileId] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(fileId);
    }
  }

  delete(fileId: string): void {
    const entry = this.entries.get(fileId);
    if (!entry) return;
    this.entries.delete(fileId);
    this.bytes -= entry.content.length;
  }

  get size(): { files: number; bytes: number } {
    return { files: this.entries.size, bytes: this.bytes };
  }
}
