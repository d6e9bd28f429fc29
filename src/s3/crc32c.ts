/**
 * CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c: reflected polynomial 0x82F63B78, initial
 * value and final xor all ones. Node has no native one (zlib's crc32 is the other polynomial), so
 * this is the table-driven slicing-by-8 form: eight bytes per step, measured in docs/s3-design.md.
 */
const POLYNOMIAL = 0x82f63b78;

/** TABLES[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[b] = crc;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const previous = tables[(k - 1) * 256 + b];
      tables[k * 256 + b] = (previous >>> 8) ^ tables[previous & 0xff];
    }
  }
  return tables;
})();

/** The CRC-32C of `data` continuing from `crc` (the result of the previous part, 0 to start). */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const low = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      t[7 * 256 + (low & 0xff)] ^ t[6 * 256 + ((low >>> 8) & 0xff)] ^ t[5 * 256 + ((low >>> 16) & 0xff)] ^ t[4 * 256 + (low >>> 24)] ^
      t[3 * 256 + data[i + 4]] ^ t[2 * 256 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]];
  }
  for (; i < data.length; i++) c = (c >>> 8) ^ t[(c ^ data[i]) & 0xff];
  return ~c >>> 0;
}
