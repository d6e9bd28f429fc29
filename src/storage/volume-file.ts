import fs from 'node:fs/promises';
import path from 'node:path';

/** Volumes roll over at this size: the one being appended to is read whole at start (see volume-scan). */
export const VOLUME_MAX_BYTES = 64 * 1024 * 1024;

const VOLUME_NAME = /^(\d{6,})\.vol$/;

/** One open volume file: records are appended at `end` and read with positioned reads of `fd`. */
export class VolumeFile {
  /** Bytes of records that no longer count (deleted, or copied elsewhere): what compaction would reclaim. */
  deadBytes = 0;
  /** Ids with a put here that a tombstone (or a newer copy) outdates: see VolumeStore's tombstones. */
  readonly deadPutIds = new Set<string>();
  /** Takes no more records: full, or a failed sync left its tail in doubt. */
  sealed = false;

  private constructor(
    readonly number: number,
    readonly path: string,
    readonly handle: fs.FileHandle,
    /** Where the next record goes: the end of its last intact record. */
    public end: number,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  static nameOf(number: number): string {
    return `${String(number).padStart(6, '0')}.vol`;
  }

  /** The volume number in a file name; undefined for anything that is not a volume. */
  static numberIn(name: string): number | undefined {
    const match = VOLUME_NAME.exec(name);
    return match ? Number(match[1]) : undefined;
  }

  static async open(dir: string, number: number): Promise<VolumeFile> {
    const file = path.join(dir, VolumeFile.nameOf(number));
    const handle = await fs.open(file, 'r+');
    return new VolumeFile(number, file, handle, (await handle.stat()).size);
  }

  /** A new, empty volume; the caller makes its name durable (fsync of the directory). */
  static async create(dir: string, number: number): Promise<VolumeFile> {
    const file = path.join(dir, VolumeFile.nameOf(number));
    return new VolumeFile(number, file, await fs.open(file, 'wx+', 0o600), 0);
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}
