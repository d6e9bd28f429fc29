import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ChunkStoreError } from './chunk-store-error';

/**
 * One chunk is one file, so a rename/link publishes data and checksums together:
 *
 *   [data: size bytes][block checks: one per block][footer: 88 bytes]
 *
 * footer = magic | size u64 | block size u32 | block count u32 | SHA-256 of the data
 *          | SHA-256 of (block checks + the footer's first 56 bytes), so a damaged footer or
 *          check table is detected instead of trusted.
 *
 * The trailer goes at the end because block checks are only known once the data is written.
 * The magic names how blocks are checked; both formats are read, new chunks are RSCHUNK2:
 * - RSCHUNK1: the SHA-256 of every block (32 bytes).
 * - RSCHUNK2: the CRC-32 of every block (4 bytes). Every read checks every block it sends, so
 *   this check is on the hot path of every download and costs CPU on every put: CRC-32 takes
 *   0.24 s per GiB on our machine where SHA-256 takes 0.61 s. It catches what disks do to data
 *   (every burst of up to 32 bits, and all but 2^-32 of other damage). The whole chunk's SHA-256
 *   stays in the footer: puts are checked against it, and so is every scrub.
 */
export const BLOCK_SIZE = 1024 * 1024;
export const FOOTER_BYTES = 88;
const FOOTER_SIGNED_BYTES = 56;

interface BlockCheckFormat {
  magic: Buffer;
  /** Bytes of one block's check. */
  width: number;
  of(block: Buffer): Buffer;
}

const SHA256_BLOCKS: BlockCheckFormat = {
  magic: Buffer.from('RSCHUNK1', 'ascii'),
  width: 32,
  of: (block) => createHash('sha256').update(block).digest(),
};

const CRC32_BLOCKS: BlockCheckFormat = {
  magic: Buffer.from('RSCHUNK2', 'ascii'),
  width: 4,
  of: (block) => crc32Bytes(crc32(block)),
};

const FORMATS = [CRC32_BLOCKS, SHA256_BLOCKS];
/** The format new chunks are written in. */
const WRITTEN = CRC32_BLOCKS;

export interface ChunkLayout {
  size: number;
  blockSize: number;
  blockCount: number;
  /** Hex SHA-256 of the whole chunk, as the client sent it. */
  checksum: string;
}

export interface ChunkLayoutWithChecks extends ChunkLayout {
  format: BlockCheckFormat;
  /** blockCount x format.width bytes: the check of every block. */
  blockChecks: Buffer;
}

export function blockCountFor(size: number, blockSize = BLOCK_SIZE): number {
  return Math.ceil(size / blockSize);
}

export function trailerBytesFor(size: number): number {
  return blockCountFor(size) * WRITTEN.width + FOOTER_BYTES;
}

function crc32Bytes(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value >>> 0, 0);
  return bytes;
}

/** The check of every BLOCK_SIZE block of a stream written in pieces of any size. */
export class BlockChecksWriter {
  private crc = 0;
  private bytesInBlock = 0;
  private readonly checks: Buffer[] = [];

  update(data: Buffer): void {
    for (let offset = 0; offset < data.length; ) {
      const take = Math.min(BLOCK_SIZE - this.bytesInBlock, data.length - offset);
      this.crc = crc32(data.subarray(offset, offset + take), this.crc);
      this.bytesInBlock += take;
      offset += take;
      if (this.bytesInBlock === BLOCK_SIZE) this.endBlock();
    }
  }

  /** The checks of all blocks, the last (short) one included. */
  finish(): Buffer[] {
    if (this.bytesInBlock > 0) this.endBlock();
    return this.checks;
  }

  private endBlock(): void {
    this.checks.push(crc32Bytes(this.crc));
    this.crc = 0;
    this.bytesInBlock = 0;
  }
}

/** The bytes written after the data: block checks (from BlockChecksWriter), then the footer. */
export function encodeTrailer(size: number, blockChecks: Buffer[], wholeDigest: Buffer): Buffer {
  const footer = Buffer.alloc(FOOTER_BYTES);
  WRITTEN.magic.copy(footer, 0);
  footer.writeBigUInt64BE(BigInt(size), 8);
  footer.writeUInt32BE(BLOCK_SIZE, 16);
  footer.writeUInt32BE(blockChecks.length, 20);
  wholeDigest.copy(footer, 24);
  const checks = Buffer.concat(blockChecks);
  signature(checks, footer).copy(footer, FOOTER_SIGNED_BYTES);
  return Buffer.concat([checks, footer]);
}

function signature(checks: Buffer, footer: Buffer): Buffer {
  return createHash('sha256').update(checks).update(footer.subarray(0, FOOTER_SIGNED_BYTES)).digest();
}

function corrupt(what: string, why: string): ChunkStoreError {
  return new ChunkStoreError('DATA_LOSS', `${what} is damaged on disk: ${why}`);
}

/** A Buffer of exactly `length` bytes to read one block into. */
export type BlockAllocator = (length: number) => Buffer;

/**
 * Reads exactly `length` bytes at `position` into a buffer from `allocate`, or fails: a short
 * read means a damaged file.
 */
export async function readExactly(
  file: FileHandle,
  length: number,
  position: number,
  what: string,
  allocate: BlockAllocator = Buffer.allocUnsafe,
): Promise<Buffer> {
  const buffer = allocate(length);
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
  return (await readFooter(file, fileSize, what)).layout;
}

async function readFooter(file: FileHandle, fileSize: number, what: string): Promise<{ layout: ChunkLayout; format: BlockCheckFormat }> {
  if (fileSize < FOOTER_BYTES) throw corrupt(what, `file is only ${fileSize} bytes`);
  const footer = await readExactly(file, FOOTER_BYTES, fileSize - FOOTER_BYTES, what);
  const format = FORMATS.find((candidate) => footer.subarray(0, candidate.magic.length).equals(candidate.magic));
  if (!format) throw corrupt(what, 'footer magic is wrong');
  const size = Number(footer.readBigUInt64BE(8));
  const blockSize = footer.readUInt32BE(16);
  const blockCount = footer.readUInt32BE(20);
  if (blockSize !== BLOCK_SIZE || blockCount !== blockCountFor(size, blockSize)) {
    throw corrupt(what, `footer says ${size} bytes in ${blockCount} blocks of ${blockSize}`);
  }
  if (fileSize !== size + blockCount * format.width + FOOTER_BYTES) {
    throw corrupt(what, `file is ${fileSize} bytes but its footer describes ${size} bytes of data`);
  }
  return { layout: { size, blockSize, blockCount, checksum: footer.subarray(24, 56).toString('hex') }, format };
}

/** Footer plus the block check table, with the table's signature checked. */
export async function readLayoutWithChecks(file: FileHandle, fileSize: number, what: string): Promise<ChunkLayoutWithChecks> {
  const { layout, format } = await readFooter(file, fileSize, what);
  const trailer = await readExactly(file, fileSize - layout.size, layout.size, what);
  const blockChecks = trailer.subarray(0, layout.blockCount * format.width);
  const footer = trailer.subarray(blockChecks.length);
  if (!signature(blockChecks, footer).equals(footer.subarray(FOOTER_SIGNED_BYTES))) {
    throw corrupt(what, 'block checksum table does not match its signature');
  }
  return { ...layout, format, blockChecks };
}

/** Whether block `index` (its full bytes, as read from disk) matches its stored check. */
export function blockIsIntact(layout: ChunkLayoutWithChecks, index: number, block: Buffer): boolean {
  const { format, blockChecks } = layout;
  return format.of(block).equals(blockChecks.subarray(index * format.width, (index + 1) * format.width));
}
