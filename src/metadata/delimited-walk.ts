/**
 * S3's listing with a delimiter, as one SQL statement that only ever seeks the index: a
 * recursive walk whose every step is one index probe for the next row after the previous one.
 * A key holding the delimiter after the prefix becomes a common prefix, and the next step seeks
 * straight past every key under it (to the smallest string greater than all of them: the
 * prefix with its last character incremented), so a "directory" of a million keys costs two
 * probes, not a million rows. Keys compare in byte order (their columns are COLLATE "C").
 *
 * The same walk serves objects (position: key) and multipart uploads (position: key, upload
 * id). Parameters: $1 bucket, $2 prefix, $3 the prefix's upper bound (null: none), $4 delimiter,
 * $5 the character after the delimiter's last one, $6 how many entries to return at most, then
 * the start position, one value per position column ($7 = its key): entries strictly after it.
 * Without a delimiter there is nothing to skip, and rangeSql reads the range in one index scan
 * (a probe per row made a page of 1,000 keys 3 to 4 times slower); its parameters are the same without $4, $5.
 */

export interface WalkSpec {
  table: string;
  /** The columns ordering the walk, key first; the table's index is (bucket, ...position). */
  position: readonly string[];
  /** Other columns the result needs. */
  carried: readonly string[];
}

/** The smallest string greater than every string that starts with `prefix` (code-point order), or null. */
export function prefixUpperBound(prefix: string): string | null {
  const codePoints = [...prefix];
  while (codePoints.length > 0) {
    const next = nextCodePoint(codePoints.pop()!);
    if (next !== null) return codePoints.join('') + next;
  }
  return null;
}

/** The character after `char` in code-point order (skipping surrogates), or null after U+10FFFF. */
export function nextCodePoint(char: string): string | null {
  const codePoint = char.codePointAt(0)!;
  if (codePoint >= 0x10ffff) return null;
  return String.fromCodePoint(codePoint + 1 === 0xd800 ? 0xe000 : codePoint + 1);
}

export function delimitedWalkSql(spec: WalkSpec): string {
  const columns = [...spec.position, ...spec.carried];
  const start = spec.position.map((_, i) => `$${7 + i}`).join(', ');
  const rowOf = (alias: string) => `(${spec.position.map((column) => `${alias}.${column}`).join(', ')})`;
  // The common prefix of a key: up to and including the first delimiter after the prefix.
  const commonPrefix = `CASE WHEN $4 <> '' AND strpos(substr(t.key, char_length($2) + 1), $4) > 0
      THEN left(t.key, char_length($2) + strpos(substr(t.key, char_length($2) + 1), $4) + char_length($4) - 1) END`;
  const step = (where: string) => `
    SELECT ${columns.map((c) => `t.${c}`).join(', ')}, cp.common_prefix,
           CASE WHEN cp.common_prefix IS NULL THEN t.key ELSE left(cp.common_prefix, -1) || $5 END AS next_from
    FROM ${spec.table} t CROSS JOIN LATERAL (SELECT ${commonPrefix} AS common_prefix) cp
    WHERE t.bucket = $1 AND t.key >= $2 AND ($3::text IS NULL OR t.key < $3) AND ${where}
    ORDER BY ${spec.position.map((c) => `t.${c}`).join(', ')} LIMIT 1`;
  // A common prefix the start position lies in (the one the previous page ended with) is not
  // listed again: only the first step can meet one, and it counts for nothing.
  return `
    WITH RECURSIVE walk AS (
      (SELECT first.*, CASE WHEN first.common_prefix IS NULL OR first.common_prefix > $7 THEN 1 ELSE 0 END AS n
       FROM (${step(`${rowOf('t')} > (${start})`)}) first)
      UNION ALL
      SELECT next.*, w.n + 1
      FROM walk w CROSS JOIN LATERAL (${step(`${rowOf('t')} > ${rowOf('w')} AND t.key >= w.next_from`)}) next
      WHERE w.n < $6
    )
    SELECT * FROM walk WHERE n > 0 ORDER BY n`;
}

/** The listing without a delimiter: $1 bucket, $2 prefix, $3 its upper bound, $4 limit, then the start position. */
export function rangeSql(spec: WalkSpec): string {
  const columns = [...spec.position, ...spec.carried].map((c) => `t.${c}`).join(', ');
  const position = spec.position.map((c) => `t.${c}`).join(', ');
  const start = spec.position.map((_, i) => `$${5 + i}`).join(', ');
  return `
    SELECT ${columns}, NULL::text AS common_prefix FROM ${spec.table} t
    WHERE t.bucket = $1 AND t.key >= $2 AND ($3::text IS NULL OR t.key < $3) AND (${position}) > (${start})
    ORDER BY ${position} LIMIT $4`;
}
