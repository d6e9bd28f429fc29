/**
 * The CRC of two pieces joined, from the CRC of each and the length of the second, without the
 * bytes: what a FULL_OBJECT checksum of a multipart upload needs (S3 computes it over the whole
 * object; its parts' CRCs are all that is kept). zlib's crc32_combine method: for a reflected
 * CRC whose initial value and final xor are equal (all ones for all three of S3's CRCs),
 * crc(A || B) = crc(A) * x^(8 * |B|) mod P  xor  crc(B), with polynomials in reflected bit
 * order. BigInt arithmetic, one multiplication per part (a completion has at most 10,000).
 */
import type { ChecksumAlgorithm } from './checksums';

interface ReflectedCrc {
  width: bigint;
  polynomial: bigint;
}

const CRCS: Partial<Record<ChecksumAlgorithm, ReflectedCrc>> = {
  CRC32: { width: 32n, polynomial: 0xedb88320n },
  CRC32C: { width: 32n, polynomial: 0x82f63b78n },
  CRC64NVME: { width: 64n, polynomial: 0x9a6c9329ac4bc9b5n },
};

/** The algorithms whose checksums combine, so FULL_OBJECT multipart checksums can use them. */
export function combinesParts(algorithm: ChecksumAlgorithm): boolean {
  return CRCS[algorithm] !== undefined;
}

/** a * b mod P, both reflected (x^0 is the top bit). */
function multiplyModP(crc: ReflectedCrc, a: bigint, b: bigint): bigint {
  let m = 1n << (crc.width - 1n);
  let product = 0n;
  for (;;) {
    if (a & m) {
      product ^= b;
      if ((a & (m - 1n)) === 0n) return product;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ crc.polynomial : b >> 1n;
  }
}

/** x^(8 * bytes) mod P: the product of x^(2^k) for each bit k of 8 * bytes. */
function shiftFor(crc: ReflectedCrc, bytes: number): bigint {
  let power = 1n << (crc.width - 1n); // x^0
  let k = 0;
  for (let bits = BigInt(bytes) * 8n; bits > 0n; bits >>= 1n, k++) {
    if (bits & 1n) power = multiplyModP(crc, powerOfTwoShift(crc, k), power);
  }
  return power;
}

const powersOfTwo = new Map<ReflectedCrc, bigint[]>();

/** x^(2^k) mod P, squared up once per CRC and kept. */
function powerOfTwoShift(crc: ReflectedCrc, k: number): bigint {
  let powers = powersOfTwo.get(crc);
  if (!powers) powersOfTwo.set(crc, (powers = [1n << (crc.width - 2n)])); // x^1
  while (powers.length <= k) powers.push(multiplyModP(crc, powers[powers.length - 1], powers[powers.length - 1]));
  return powers[k];
}

/**
 * The big-endian CRC bytes of the pieces joined in order, from each piece's CRC bytes (as S3
 * encodes them) and its length.
 */
export function combineCrcs(algorithm: ChecksumAlgorithm, pieces: ReadonlyArray<{ crc: Buffer; size: number }>): Buffer {
  const crc = CRCS[algorithm];
  if (!crc) throw new RangeError(`${algorithm} checksums do not combine`);
  const bytes = Number(crc.width / 8n);
  // Parts mostly share one size: its shift is worked out once.
  const shifts = new Map<number, bigint>();
  let combined = 0n; // the CRC of nothing
  for (const piece of pieces) {
    if (piece.crc.length !== bytes) throw new RangeError(`a ${algorithm} is ${bytes} bytes, got ${piece.crc.length}`);
    let shift = shifts.get(piece.size);
    if (shift === undefined) shifts.set(piece.size, (shift = shiftFor(crc, piece.size)));
    combined = multiplyModP(crc, shift, combined) ^ BigInt(`0x${piece.crc.toString('hex')}`);
  }
  return Buffer.from(combined.toString(16).padStart(bytes * 2, '0'), 'hex');
}
