import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ChunkStoreError } from './chunk-store-error';

/**
 * One chunk is one file, so a rename/link publishes data and checksums together:
 *
 *   [data: size bytes][block digests: 32 bytes per block][footer: 88 bytes]
 *
 * footer = magic "RSCHUNK1" | size u64 | block size u32 | block count u32 | SHA-256 of the data
 *          | SHA-256 of (block digests + the footer's first 56 bytes), so a damaged footer or
 *          digest table is detected instead of trusted.
 *
 * The trailer goes at the end because block digests are only known once the data is written.
 */
export const BLOCK_SIZE = 1024 * 1024;
const MAGIC = Buffer.from('RSCHUNK1', 'ascii');
const DIGEST_BYTES = 32;
export const FOOTER_BYTES = 88;
const FOOTER_SIGNED_BYTES = 56;

export interface ChunkLayout {
  size: number;
  blockSize: number;
  blockCount: number;
  /** Hex SHA-256 of the whole chunk, as the client sent it. */
  checksum: string;
}

export interface ChunkLayoutWithDigests extends ChunkLayout {
  /** blockCount x 32 bytes: the SHA-256 of every block. */
  blockDigests: Buffer;
}

export function blockCountFor(size: number, blockSize = BLOCK_SIZE): number {
  return Math.ceil(size / blockSize);
}

export function trailerBytesFor(size: number): number {
  return blockCountFor(size) * DIGEST_BYTES + FOOTER_BYTES;
}

/** The bytes written after the data: block digests, then the footer. */
export function encodeTrailer(size: number, blockDigests: Buffer[], wholeDigest: Buffer): Buffer {
  const footer = Buffer.alloc(FOOTER_BYTES);
  MAGIC.copy(footer, 0);
  footer.writeBigUInt64BE(BigInt(size), 8);
  footer.writeUInt32BE(BLOCK_SIZE, 16);
  footer.writeUInt32BE(blockDigests.length, 20);
  wholeDigest.copy(footer, 24);
  const digests = Buffer.concat(blockDigests);
  signature(digests, footer).copy(footer, FOOTER_SIGNED_BYTES);
  return Buffer.concat([digests, footer]);
}

function signature(digests: Buffer, footer: Buffer): Buffer {
  return createHash('sha256').update(digests).update(footer.subarray(0, FOOTER_SIGNED_BYTES)).digest();
}

function corrupt(what: string, why: string): ChunkStoreError {
  return new ChunkStoreError('DATA_LOSS', `${what} is damaged on disk: ${why}`);
}

/** Reads exactly `length` bytes at `position`, or fails: a short read means a damaged file. */
export async function readExactly(file: FileHandle, length: number, position: number, what: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw corrupt(what, `file ends ${length - filled} bytes early`);
    filled += bytesRead;
  }
  return buffer;
}

/** The footer alone (cheap: for listings). Checks it is consistent with the file size. */
export async function readLayout(file: FileHandle, fileSize: number, what: string): Promise<ChunkLayout> {
  if (fileSize < FOOTER_BYTES) throw corrupt(what, `file is only ${fileSize} bytes`);
  const footer = await readExactly(file, FOOTER_BYTES, fileSize - FOOTER_BYTES, what);
  if (!footer.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt(what, 'footer magic is wrong');
  const size = Number(footer.readBigUInt64BE(8));
  const blockSize = footer.readUInt32BE(16);
  const blockCount = footer.readUInt32BE(20);
  if (blockSize !== BLOCK_SIZE || blockCount !== blockCountFor(size, blockSize)) {
    throw corrupt(what, `footer says ${size} bytes in ${blockCount} blocks of ${blockSize}`);
  }
  if (fileSize !== size + blockCount * DIGEST_BYTES + FOOTER_BYTES) {
    throw corrupt(what, `file is ${fileSize} bytes but its footer describes ${size} bytes of data`);
  }
  return { size, blockSize, blockCount, checksum: footer.subarray(24, 56).toString('hex') };
}

/** Footer plus the block digest table, with the table's signature checked. */
export async function readLayoutWithDigests(file: FileHandle, fileSize: number, what: string): Promise<ChunkLayoutWithDigests> {
  const layout = await readLayout(file, fileSize, what);
  const trailerStart = layout.size;
  const trailer = await readExactly(file, fileSize - trailerStart, trailerStart, what);
  const blockDigests = trailer.subarray(0, layout.blockCount * DIGEST_BYTES);
  const footer = trailer.subarray(blockDigests.length);
  if (!signature(blockDigests, footer).equals(footer.subarray(FOOTER_SIGNED_BYTES))) {
    throw corrupt(what, 'block checksum table does not match its signature');
  }
  return { ...layout, blockDigests };
}

export function blockDigest(layout: ChunkLayoutWithDigests, index: number): Buffer {
  return layout.blockDigests.subarray(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES);
}
