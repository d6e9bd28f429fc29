/**
 * CRC-64/NVME, as S3's x-amz-checksum-crc64nvme: reflected polynomial 0x9A6C9329AC4BC9B5,
 * initial value and final xor all ones. The 64-bit state is kept as two 32-bit halves (BigInt
 * arithmetic per byte would be far too slow), with slicing-by-8 tables.
 */
const POLYNOMIAL = 0x9a6c9329ac4bc9b5n;

/** HIGH/LOW[k * 256 + b]: the halves of the CRC of byte b followed by k zero bytes. */
const [HIGH, LOW] = (() => {
  const high = new Int32Array(8 * 256);
  const low = new Int32Array(8 * 256);
  const table: bigint[] = [];
  for (let b = 0; b < 256; b++) {
    let crc = BigInt(b);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ POLYNOMIAL : crc >> 1n;
    table.push(crc);
  }
  const rows = [table];
  for (let k = 1; k < 8; k++) rows.push(rows[k - 1].map((previous) => (previous >> 8n) ^ table[Number(previous & 0xffn)]));
  rows.forEach((row, k) =>
    row.forEach((value, b) => {
      high[k * 256 + b] = Number(value >> 32n);
      low[k * 256 + b] = Number(value & 0xffffffffn);
    }),
  );
  return [high, low];
})();

/** The CRC-64/NVME state: pass the previous result to continue over the next piece of data. */
export interface Crc64 {
  high: number;
  low: number;
}

export const CRC64_START: Crc64 = { high: 0, low: 0 };

export function crc64nvme(data: Uint8Array, previous: Crc64 = CRC64_START): Crc64 {
  const h = HIGH;
  const l = LOW;
  let hi = ~previous.high;
  let lo = ~previous.low;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    // Little-endian: the first four bytes meet the low half, the next four the high half.
    const a = lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    const b = hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24));
    const i7 = 7 * 256 + (a & 0xff), i6 = 6 * 256 + ((a >>> 8) & 0xff), i5 = 5 * 256 + ((a >>> 16) & 0xff), i4 = 4 * 256 + (a >>> 24);
    const i3 = 3 * 256 + (b & 0xff), i2 = 2 * 256 + ((b >>> 8) & 0xff), i1 = 256 + ((b >>> 16) & 0xff), i0 = b >>> 24;
    hi = h[i7] ^ h[i6] ^ h[i5] ^ h[i4] ^ h[i3] ^ h[i2] ^ h[i1] ^ h[i0];
    lo = l[i7] ^ l[i6] ^ l[i5] ^ l[i4] ^ l[i3] ^ l[i2] ^ l[i1] ^ l[i0];
  }
  for (; i < data.length; i++) {
    const index = (lo ^ data[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ l[index];
    hi = (hi >>> 8) ^ h[index];
  }
  return { high: ~hi >>> 0, low: ~lo >>> 0 };
}

/** The 8 big-endian bytes S3 encodes in base64. */
export function crc64Bytes(crc: Crc64): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32BE(crc.high, 0);
  bytes.writeUInt32BE(crc.low, 4);
  return bytes;
}
