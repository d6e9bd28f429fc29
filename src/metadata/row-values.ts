/** Conversions of column values whose JavaScript type differs between `pg` and PGlite. */

/**
 * bigint / count(*) columns: `pg` returns strings, PGlite numbers or bigints. Sizes stay far
 * below 2^53, so a number is exact; anything beyond is refused rather than rounded.
 */
export function toNumber(value: unknown, column: string): number {
  const parsed = typeof value === 'number' ? value : Number(value as string | bigint);
  if (!Number.isSafeInteger(parsed)) {
    throw new Error(`metadata column ${column} holds ${String(value)}, not a safe integer`);
  }
  return parsed;
}

export function toNullableNumber(value: unknown, column: string): number | null {
  return value === null || value === undefined ? null : toNumber(value, column);
}

/**
 * timestamptz columns. A fresh Date belongs to the caller's realm: rows from the PGlite child
 * process are deserialized in Node's main context, which under jest is not the test's sandbox.
 */
export function toDate(value: unknown): Date {
  return new Date(value as Date);
}

/** text[] columns, copied into the caller's realm like toDate. */
export function toStrings(value: unknown): string[] {
  return Array.from(value as string[]);
}
