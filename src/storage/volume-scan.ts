import type { FileHandle } from 'node:fs/promises';
import { nextMagic, parseHeader, payloadIsIntact, RECORD_HEADER_BYTES, type RecordHeader } from './volume-record';

/** Bytes read at once while scanning: records of small chunks are read many to a read. */
const WINDOW_BYTES = 1024 * 1024;

export interface ScannedRecord extends RecordHeader {
  /** Where the record (its header) starts in the volume. */
  offset: number;
}

export interface VolumeScan {
  records: ScannedRecord[];
  /** Where the last intact record ends: what follows it is a torn tail (or nothing). */
  intactEnd: number;
  /** Damaged stretches with intact records after them, skipped: [from, to) byte ranges. */
  skipped: Array<[number, number]>;
}

/**
 * The records of a volume file, in file order (at start, and for compaction).
 * A record counts when its header's CRC holds and its payload fits in the file; with
 * `checkPayloads`, its payload's CRC too. The volume being appended to is scanned so: a crash
 * may have torn the batch being written at its end, and a torn payload must not count. Older
 * volumes were synced whole before anything went into a newer one, so their headers suffice,
 * and reading only those keeps start-up short; damage in their payloads is for reads and scrub.
 * After a record that does not count, the scan looks for the next intact one: there is one only
 * when the damage is not a torn tail (bytes gone bad in the middle), and it is skipped over
 * rather than anything after it being given up.
 */
export async function scanVolume(file: FileHandle, fileSize: number, checkPayloads: boolean): Promise<VolumeScan> {
  const reader = new WindowReader(file, fileSize);
  const records: ScannedRecord[] = [];
  const skipped: Array<[number, number]> = [];
  const headerAt = async (offset: number): Promise<ScannedRecord | undefined> => {
    const header = parseHeader(await reader.bytes(offset, RECORD_HEADER_BYTES));
    return header && { ...header, offset };
  };
  const intact = async (record: ScannedRecord): Promise<boolean> =>
    record.offset + RECORD_HEADER_BYTES + record.payloadLength <= fileSize
    && (!checkPayloads || payloadIsIntact(record, await reader.bytes(record.offset + RECORD_HEADER_BYTES, record.payloadLength)));
  let offset = 0;
  let intactEnd = 0;
  while (offset < fileSize) {
    const record = await headerAt(offset);
    // A record whose header holds but whose payload does not reach the file's end was cut: a torn tail.
    if (record && offset + RECORD_HEADER_BYTES + record.payloadLength > fileSize) break;
    if (record && (await intact(record))) {
      records.push(record);
      offset += RECORD_HEADER_BYTES + record.payloadLength;
      intactEnd = offset;
      continue;
    }
    // An intact header's length is trusted: a damaged payload is passed over whole, never
    // searched for records (a chunk's data may hold bytes that look like one). Only a damaged
    // header makes the scan look for the next intact record.
    const next = record ? offset + RECORD_HEADER_BYTES + record.payloadLength : await nextIntactRecord(reader, offset + 1, async (at) => {
      const candidate = await headerAt(at);
      return candidate && (await intact(candidate)) ? candidate : undefined;
    });
    if (next === undefined) break;
    skipped.push([offset, next]);
    offset = next;
  }
  // Damage with no intact record after it is a torn tail, not a skipped stretch.
  return { records, intactEnd, skipped: skipped.filter(([from]) => from < intactEnd) };
}

async function nextIntactRecord(reader: WindowReader, from: number, recordAt: (offset: number) => Promise<ScannedRecord | undefined>): Promise<number | undefined> {
  for (let at = from; at < reader.fileSize; ) {
    const window = await reader.bytes(at, Math.min(WINDOW_BYTES, reader.fileSize - at));
    const found = nextMagic(window, 0);
    if (found < 0) {
      // A magic split across two windows is found from the next one.
      at += Math.max(1, window.length - RECORD_HEADER_BYTES);
      continue;
    }
    if (await recordAt(at + found)) return at + found;
    at += found + 1;
  }
  return undefined;
}

/** Reads a file in windows of WINDOW_BYTES (or one record's length, when larger). */
class WindowReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(private readonly file: FileHandle, readonly fileSize: number) {}

  /** `length` bytes at `offset`, fewer where the file ends first. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(offset + length, this.fileSize);
    if (offset < this.windowStart || end > this.windowStart + this.window.length) {
      const size = Math.min(Math.max(WINDOW_BYTES, end - offset), this.fileSize - offset);
      const window = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead: read } = await this.file.read(window, filled, size - filled, offset + filled);
        if (read === 0) break;
        filled += read;
      }
      this.window = window.subarray(0, filled);
      this.windowStart = offset;
    }
    return this.window.subarray(offset - this.windowStart, end - this.windowStart);
  }
}
