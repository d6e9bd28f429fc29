import { randomUUID } from 'node:crypto';
import { SMALL_FILE_MAX_BYTES, SmallFileCache } from '../../src/files/small-file-cache';
import type { FileRecord } from '../../src/metadata/types';

function file(size: number, checksum = 'a'.repeat(64)): FileRecord {
  const at = new Date();
  return { fileId: randomUUID(), filename: 'f', contentType: 'application/octet-stream', size, checksum, status: 'completed', createdAt: at, updatedAt: at, completedAt: at, chunks: [] };
}

describe('SmallFileCache', () => {
  it('serves what it was given, only while the checksum still matches', () => {
    const cache = new SmallFileCache(1024);
    const record = file(3);
    cache.set(record, Buffer.from('abc'));
    expect(cache.get(record)?.toString()).toBe('abc');
    // Same id, other content (cannot happen for a completed file, but must never be served).
    expect(cache.get({ ...record, checksum: 'b'.repeat(64) })).toBeUndefined();
    // By id alone (an S3 object's row knows its file id, not its hash): ids are never reused.
    expect(cache.get({ fileId: record.fileId })?.toString()).toBe('abc');
    expect(cache.get({ fileId: randomUUID() })).toBeUndefined();
    cache.delete(record.fileId);
    expect(cache.get(record)).toBeUndefined();
    expect(cache.size).toEqual({ files: 0, bytes: 0 });
  });

  it('stays within its byte budget, dropping the least recently used first', () => {
    const cache = new SmallFileCache(300);
    const [a, b, c, d] = [file(100), file(100), file(100), file(100)];
    for (const f of [a, b, c]) cache.set(f, Buffer.alloc(100, f.fileId));
    expect(cache.get(a)).toBeDefined(); // a is now the most recently used
    cache.set(d, Buffer.alloc(100));
    expect(cache.size).toEqual({ files: 3, bytes: 300 });
    expect([a, b, c, d].map((f) => cache.get(f) !== undefined)).toEqual([true, false, true, true]);
  });

  it('keeps only small files, and nothing with a zero budget', () => {
    const cache = new SmallFileCache(10 * SMALL_FILE_MAX_BYTES);
    expect(cache.accepts(SMALL_FILE_MAX_BYTES)).toBe(true);
    expect(cache.accepts(SMALL_FILE_MAX_BYTES + 1)).toBe(false);
    const big = file(SMALL_FILE_MAX_BYTES + 1);
    cache.set(big, Buffer.alloc(big.size));
    expect(cache.get(big)).toBeUndefined();
    const off = new SmallFileCache(0);
    expect(off.accepts(1)).toBe(false);
  });
});
