/**
 * The CRC of two pieces joined, from the CRC of each and the length of the second, without the
 * bytes: what a FULL_OBJECT checksum of a multipart upload needs (S3 computes it over the whole
 * object; its parts' CRCs are all that is kept). zlib's crc32_combine method: for a reflected
 * CRC whose initial value and final xor are equal (all ones for all three of S3's CRCs),
 * crc(A || B) = crc(A) * x^(8 * |B|) mod P  xor  crc(B), with polynomials in reflected bit
 * order. CRC32 and CRC32C use the shared 32-bit combiner (src/util/crc32-combine, the wire's
 * too); CRC64NVME is wider than JavaScript's 32-bit bitwise operators and is worked in BigInt,
 * one multiplication per part (a completion has at most 10,000).
 */
import { crc32Combiner } from '../util/crc32-combine';
import type { ChecksumAlgorithm } from './checksums';

const CRC32_COMBINERS: Partial<Record<ChecksumAlgorithm, ReturnType<typeof crc32Combiner>>> = {
  CRC32: crc32Combiner(0xedb88320),
  CRC32C: crc32Combiner(0x82f63b78),
};

/** The algorithms whose checksums combine, so FULL_OBJECT multipart checksums can use them. */
export function combinesParts(algorithm: ChecksumAlgorithm): boolean {
  return algorithm === 'CRC64NVME' || CRC32_COMBINERS[algorithm] !== undefined;
}

/**
 * The big-endian CRC bytes of the pieces joined in order, from each piece's CRC bytes (as S3
 * encodes them) and its length.
 */
export function combineCrcs(algorithm: ChecksumAlgorithm, pieces: ReadonlyArray<{ crc: Buffer; size: number }>): Buffer {
  if (!combinesParts(algorithm)) throw new RangeError(`${algorithm} checksums do not combine`);
  const bytes = algorithm === 'CRC64NVME' ? 8 : 4;
  for (const piece of pieces) {
    if (piece.crc.length !== bytes) throw new RangeError(`a ${algorithm} is ${bytes} bytes, got ${piece.crc.length}`);
  }
  const combined = Buffer.alloc(bytes);
  const combine = CRC32_COMBINERS[algorithm];
  if (combine) combined.writeUInt32BE(pieces.reduce((crc, piece) => combine(crc, piece.crc.readUInt32BE(0), piece.size), 0)); // from the CRC of nothing
  else combined.writeBigUInt64BE(combineCrc64s(pieces));
  return combined;
}

/** The reflected CRC-64/NVME polynomial. */
const CRC64_POLYNOMIAL = 0x9a6c9329ac4bc9b5n;

/** a * b mod P, both reflected (x^0 is the top bit). */
function multiplyModP64(a: bigint, b: bigint): bigint {
  let m = 1n << 63n;
  let product = 0n;
  for (;;) {
    if (a & m) {
      product ^= b;
      if ((a & (m - 1n)) === 0n) return product;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ CRC64_POLYNOMIAL : b >> 1n;
  }
}

/** X_POWERS[k] = x^(2^k) mod P, squared up as far as asked and kept. */
const X_POWERS: bigint[] = [1n << 62n]; // x^1

/** x^(8 * bytes) mod P: the product of x^(2^k) for each bit k of 8 * bytes. */
function shiftFor(bytes: number): bigint {
  let power = 1n << 63n; // x^0
  let k = 0;
  for (let bits = BigInt(bytes) * 8n; bits > 0n; bits >>= 1n, k++) {
    while (X_POWERS.length <= k) X_POWERS.push(multiplyModP64(X_POWERS[X_POWERS.length - 1], X_POWERS[X_POWERS.length - 1]));
    if (bits & 1n) power = multiplyModP64(X_POWERS[k], power);
  }
  return power;
}

function combineCrc64s(pieces: ReadonlyArray<{ crc: Buffer; size: number }>): bigint {
  // Parts mostly share one size: its shift is worked out once.
  const shifts = new Map<number, bigint>();
  let combined = 0n; // the CRC of nothing
  for (const piece of pieces) {
    let shift = shifts.get(piece.size);
    if (shift === undefined) shifts.set(piece.size, (shift = shiftFor(piece.size)));
    combined = multiplyModP64(shift, combined) ^ piece.crc.readBigUInt64BE(0);
  }
  return combined;
}
