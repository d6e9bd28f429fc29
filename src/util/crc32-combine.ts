/**
 * The CRC of A followed by B from crc(A), crc(B) and B's length, without the bytes (zlib's
 * crc32_combine), for any reflected 32-bit CRC whose initial value and final xor are equal:
 * crc(A || B) = crc(A) * x^(8 * |B|) mod P  xor  crc(B). The wire's CRC-32 check and S3's
 * FULL_OBJECT CRC32 and CRC32C checksums both use it. Plain 32-bit number arithmetic: the wire
 * combines once a message, where BigInt would cost several times as much.
 */

/** a * b modulo the polynomial, in reflected bit order (x^0 is the top bit; zlib's multmodp). */
function multiplyModP(polynomial: number, a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if (a & bit) {
      product ^= b;
      if ((a & (bit - 1)) === 0) break;
    }
    b = b & 1 ? (b >>> 1) ^ polynomial : b >>> 1;
  }
  return product >>> 0;
}

/**
 * The combine function of the reflected CRC with this polynomial: combine(crcA, crcB, lengthB)
 * is the CRC of A then B, a few hundred operations whatever the lengths. combine(0, crcB, n) is
 * crcB, so a running CRC can start at 0.
 */
export function crc32Combiner(polynomial: number): (crcA: number, crcB: number, lengthB: number) => number {
  // xPowers[k] = x^(2^k) modulo the polynomial.
  const xPowers: number[] = [];
  for (let power = 0x40000000, k = 0; k < 64; k += 1) {
    xPowers.push(power);
    power = multiplyModP(polynomial, power, power);
  }
  /** x^(8 * bytes) modulo the polynomial: what appending `bytes` zero bytes multiplies a CRC by. */
  const shiftForBytes = (bytes: number): number => {
    let result = 0x80000000; // x^0
    for (let k = 3; bytes > 0; k += 1, bytes = Math.floor(bytes / 2)) {
      if (bytes % 2 === 1) result = multiplyModP(polynomial, xPowers[k % 64], result);
    }
    return result;
  };
  return (crcA, crcB, lengthB) => (multiplyModP(polynomial, shiftForBytes(lengthB), crcA) ^ crcB) >>> 0;
}
