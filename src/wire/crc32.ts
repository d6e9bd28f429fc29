/**
 * CRC-32 (the zlib/IEEE polynomial) as PutChunk's end-to-end check: each data message carries
 * the CRC of its bytes and the last one the whole chunk's. Both ends get the chunk's CRC from
 * the messages' CRCs with crc32Combine instead of a second pass over the bytes.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32Combiner } from '../util/crc32-combine';

/** The CRC-32 of `data`, continuing from `initial` (the CRC of the bytes before it; 0 to start). */
export type Crc32 = (data: Uint8Array, initial?: number) => number;

/**
 * @node-rs/crc32 (crc32fast: carry-less multiplication, PCLMULQDQ on x86-64) where its binary
 * for this platform is installed, else zlib's; both compute the same CRC. Every byte of an
 * upload is checked once in the gateway and once in each storage server that stores it, and
 * every block read is checked again: zlib.crc32 (node 20: table lookups) took 0.23-0.24 s per
 * GiB on this machine, @node-rs/crc32 0.08-0.10 s (64 KiB and 1 MiB pieces, cache-cold data).
 */
export const crc32: Crc32 = simdCrc32() ?? zlibCrc32OrInitial;

/** Which implementation `crc32` is: 'simd' (@node-rs/crc32) or 'zlib' (the fallback). */
export const CRC32_IMPLEMENTATION: 'simd' | 'zlib' = crc32 === zlibCrc32OrInitial ? 'zlib' : 'simd';

/** zlib.crc32, except that no bytes leave the CRC as it was (zlib answers 0 for an empty buffer). */
function zlibCrc32OrInitial(data: Uint8Array, initial = 0): number {
  return data.length === 0 ? initial >>> 0 : zlibCrc32(data, initial);
}

function simdCrc32(): Crc32 | undefined {
  try {
    return (require('@node-rs/crc32') as { crc32: Crc32 }).crc32;
  } catch {
    return undefined; // no prebuilt binary for this platform (an optional dependency of the package)
  }
}

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
