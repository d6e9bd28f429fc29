import type { ObjectRecord } from './types';

/**
 * S3 object rows kept in memory, for a store that is the only writer of its database: the
 * embedded one (a PGlite database belongs to one gateway process), so every change to an
 * object row passes through this store and can be seen here. With PostgreSQL other gateways
 * write too, and the cache is off (maxRows 0): each lookup reads the row.
 *
 * Kept exact, never stale: a change drops its keys' rows before and after it runs, and a
 * lookup that overlapped any change does not keep what it read (it may be the row the change
 * replaced). A put keeps the row it wrote unless another change of its key overlapped it (either
 * may have committed last), so the GET that often follows a PUT costs no query either. The least
 * recently used row goes first once maxRows are held.
 */
export class ObjectRowCache {
  private readonly rows = new Map<string, ObjectRecord>();
  /** Changes begun plus changes ended: a lookup keeps its row only if this did not move. */
  private changes = 0;
  /** Keys with changes running: how many, and the `changes` count when one of them last began or ended. */
  private readonly changing = new Map<string, { running: number; stamp: number }>();

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
    if (row && this.changes === changesBefore) this.keep(id, row);
    return row;
  }

  /** Runs `write`, which changes (puts, replaces or deletes) the rows of `keys`. */
  async change<T>(keys: ReadonlyArray<{ bucket: string; key: string }>, write: () => Promise<T>): Promise<T> {
    const ids = keys.map(({ bucket, key }) => rowId(bucket, key));
    const stamp = this.begin(ids);
    try {
      return await write();
    } finally {
      this.end(ids, stamp);
    }
  }

  /** Runs `write`, which puts the row of one key and answers it; keeps that row if no other change of the key overlapped. */
  async put(target: { bucket: string; key: string }, write: () => Promise<ObjectRecord>): Promise<ObjectRecord> {
    const id = rowId(target.bucket, target.key);
    const stamp = this.begin([id]);
    let row: ObjectRecord | undefined;
    try {
      return (row = await write());
    } finally {
      const alone = this.end([id], stamp);
      if (row && alone) this.keep(id, row);
    }
  }

  private keep(id: string, row: ObjectRecord): void {
    if (this.maxRows === 0) return;
    this.rows.set(id, row);
    if (this.rows.size > this.maxRows) this.rows.delete(this.rows.keys().next().value!);
  }

  /** Drops the keys' rows and counts a change of them begun; answers its stamp for end(). */
  private begin(ids: string[]): number {
    const stamp = ++this.changes;
    for (const id of ids) {
      this.rows.delete(id);
      this.changing.set(id, { running: (this.changing.get(id)?.running ?? 0) + 1, stamp });
    }
    return stamp;
  }

  /** Drops the keys' rows again and counts the change ended; true when no other change of them began or ended meanwhile. */
  private end(ids: string[], stamp: number): boolean {
    const ended = ++this.changes;
    let alone = true;
    for (const id of ids) {
      this.rows.delete(id);
      const changing = this.changing.get(id)!;
      if (changing.stamp !== stamp) alone = false;
      if (--changing.running === 0) this.changing.delete(id);
      else changing.stamp = ended;
    }
    return alone;
  }
}

function rowId(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}
