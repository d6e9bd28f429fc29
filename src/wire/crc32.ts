/**
 * CRC-32 (the zlib/IEEE polynomial, Node's `zlib.crc32`) as PutChunk's end-to-end check: each
 * data message carries the CRC of its bytes and the last one the whole chunk's. Both ends get
 * the chunk's CRC from the messages' CRCs with crc32Combine instead of a second pass over the
 * bytes.
 */

/** The reflected CRC-32 polynomial. */
const POLYNOMIAL = 0xedb88320;

/** a * b modulo the polynomial, in CRC-32's reflected bit order (zlib's multmodp). */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if (a & bit) {
      product ^= b;
      if ((a & (bit - 1)) === 0) break;
    }
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) modulo the polynomial. */
const X_POWERS: number[] = [];
for (let power = 0x40000000, k = 0; k < 64; k += 1) {
  X_POWERS.push(power);
  power = multiplyModP(power, power);
}

/** x^(8 * bytes) modulo the polynomial: what appending `bytes` zero bytes multiplies a CRC by. */
function shiftForBytes(bytes: number): number {
  let result = 0x80000000; // x^0
  for (let k = 3; bytes > 0; k += 1, bytes = Math.floor(bytes / 2)) {
    if (bytes % 2 === 1) result = multiplyModP(X_POWERS[k % 64], result);
  }
  return result;
}

/**
 * The CRC-32 of A followed by B, from crc(A), crc(B) and B's length (zlib's crc32_combine): a
 * few hundred operations, whatever the lengths. crc32Combine(0, crcB, n) is crcB, so a running
 * CRC can start at 0.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(shiftForBytes(lengthB), crcA) ^ crcB) >>> 0;
}

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
