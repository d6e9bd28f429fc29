/**
 * CRC-32 (the zlib/IEEE polynomial, Node's `zlib.crc32`) as PutChunk's end-to-end check: each
 * data message carries the CRC of its bytes and the last one the whole chunk's. Both ends get
 * the chunk's CRC from the messages' CRCs with crc32Combine instead of a second pass over the
 * bytes.
 */
import { crc32Combiner } from '../util/crc32-combine';

/**
 * The CRC-32 of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine): a
 * few hundred operations, whatever the lengths. crc32Combine(0, crcB, n) is crcB, so a running
 * CRC can start at 0.
 */
export const crc32Combine = crc32Combiner(0xedb88320);

const CRC32_CHECKSUM = /^crc32:([0-9a-f]{8})$/;

/** The text form a chunk's CRC-32 is recorded in (metadata, ListChunks): `crc32:` and 8 hex digits. */
export function crc32Checksum(crc: number): string {
  return `crc32:${(crc >>> 0).toString(16).padStart(8, '0')}`;
}

/** The CRC-32 in a `crc32:<8 hex>` checksum; undefined for any other text (a hex SHA-256). */
export function parseCrc32Checksum(checksum: string): number | undefined {
  const match = CRC32_CHECKSUM.exec(checksum.toLowerCase());
  return match ? parseInt(match[1], 16) : undefined;
}
