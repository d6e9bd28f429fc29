import type { ObjectRecord } from './types';

/**
 * S3 object rows kept in memory, for a store that is the only writer of its database: the
 * embedded one (a PGlite database belongs to one gateway process), so every change to an
 * object row passes through this store and can be seen here. With PostgreSQL other gateways
 * write too, and the cache is off (maxRows 0): each lookup reads the row.
 *
 * Kept exact, never stale: a change drops its keys' rows before and after it runs, and a
 * lookup that overlapped any change does not keep what it read (it may be the row the change
 * replaced). The least recently used row goes first once maxRows are held.
 */
export class ObjectRowCache {
  private readonly rows = new Map<string, ObjectRecord>();
  /** Changes begun plus changes ended: a lookup keeps its row only if this did not move. */
  private changes = 0;

  constructor(private readonly maxRows: number) {}

  /** The row if it is held now (counted as a use). */
  peek(bucket: string, key: string): ObjectRecord | undefined {
    const id = rowId(bucket, key);
    const hit = this.rows.get(id);
    if (hit) {
      this.rows.delete(id); // most recently used: last in the map's order
      this.rows.set(id, hit);
    }
    return hit;
  }

  async lookup(bucket: string, key: string, read: () => Promise<ObjectRecord | null>): Promise<ObjectRecord | null> {
    return this.peek(bucket, key) ?? this.fill(bucket, key, read);
  }

  /** Reads the row and keeps it, unless a change ran meanwhile. */
  async fill(bucket: string, key: string, read: () => Promise<ObjectRecord | null>): Promise<ObjectRecord | null> {
    const id = rowId(bucket, key);
    const changesBefore = this.changes;
    const row = await read();
    if (row && this.maxRows > 0 && this.changes === changesBefore) {
      this.rows.set(id, row);
      if (this.rows.size > this.maxRows) this.rows.delete(this.rows.keys().next().value!);
    }
    return row;
  }

  /** Runs `write`, which changes (puts, replaces or deletes) the rows of `keys`. */
  async change<T>(keys: ReadonlyArray<{ bucket: string; key: string }>, write: () => Promise<T>): Promise<T> {
    this.drop(keys);
    try {
      return await write();
    } finally {
      this.drop(keys);
    }
  }

  private drop(keys: ReadonlyArray<{ bucket: string; key: string }>): void {
    this.changes++;
    for (const { bucket, key } of keys) this.rows.delete(rowId(bucket, key));
  }
}

function rowId(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}
