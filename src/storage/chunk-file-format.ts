import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32, crc32Checksum, crc32Combine } from '../wire/crc32';
import { ChunkStoreError } from './chunk-store-error';

/**
 * One chunk is one file, so a rename/link publishes data and checksums together:
 *
 *   [data: size bytes][block checks: one per block][footer: 88 bytes]
 *
 * footer = magic | size u64 | block size u32 | block count u32 | whole-chunk check (32 bytes)
 *          | SHA-256 of (block checks + the footer's first 56 bytes), so a damaged footer or
 *          check table is detected instead of trusted.
 *
 * The trailer goes at the end because block checks are only known once the data is written.
 * The magic names how blocks and the whole chunk are checked; all three formats are read:
 * - RSCHUNK1: the SHA-256 of every block (32 bytes); the whole chunk's SHA-256.
 * - RSCHUNK2: the CRC-32 of every block (4 bytes); the whole chunk's SHA-256. Written for puts
 *   that carry a SHA-256 (`checksum`, the original clients), which the server must compute anyway.
 * - RSCHUNK3: the CRC-32 of every block; the whole chunk's CRC-32 (big-endian, then 28 zero
 *   bytes). Written for puts checked by CRC-32 alone (ringstore's gateway): no byte is hashed
 *   with SHA-256 on the way in.
 * Every read checks every block it sends, so the block check is on the hot path of every
 * download and costs CPU on every put: CRC-32 takes 0.09 s per GiB on our machine (0.24 s with
 * zlib's, see src/wire/crc32.ts) where SHA-256 takes 0.61 s. It catches what disks do to data (every burst of up to 32 bits, so every
 * damaged byte, and all but 2^-32 of other damage), which is what scrub relies on.
 */
export const BLOCK_SIZE = 1024 * 1024;
export const FOOTER_BYTES = 88;
const FOOTER_SIGNED_BYTES = 56;

interface BlockCheckFormat {
  magic: Buffer;
  /** Bytes of one block's check. */
  width: number;
  of(block: Buffer): Buffer;
  /** What the footer's whole-chunk check is. */
  whole: 'sha256' | 'crc32';
}

const SHA256_BLOCKS: BlockCheckFormat = {
  magic: Buffer.from('RSCHUNK1', 'ascii'),
  width: 32,
  of: (block) => createHash('sha256').update(block).digest(),
  whole: 'sha256',
};

const CRC32_BLOCKS: BlockCheckFormat = {
  magic: Buffer.from('RSCHUNK2', 'ascii'),
  width: 4,
  of: (block) => crc32Bytes(crc32(block)),
  whole: 'sha256',
};

const CRC32_BLOCKS_CRC32_WHOLE: BlockCheckFormat = { ...CRC32_BLOCKS, magic: Buffer.from('RSCHUNK3', 'ascii'), whole: 'crc32' };

const FORMATS = [CRC32_BLOCKS_CRC32_WHOLE, CRC32_BLOCKS, SHA256_BLOCKS];
/** How new chunks check their blocks (both formats written share it). */
const WRITTEN = CRC32_BLOCKS;

/** The whole chunk's check as the footer keeps it: its SHA-256 when the client sent one, else its CRC-32. */
export type WholeChunkCheck = { sha256: Buffer } | { crc32: number };

export interface ChunkLayout {
  size: number;
  blockSize: number;
  blockCount: number;
  /** The whole chunk's check: hex SHA-256 (RSCHUNK1, RSCHUNK2) or `crc32:<8 hex>` (RSCHUNK3). */
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

/**
 * The CRC-32 of every BLOCK_SIZE block of a stream written in pieces of any size, and of the
 * whole stream, in one pass over the bytes: each piece's CRC is computed once (split where it
 * crosses a block boundary) and combined into its block's, the piece's own (returned, so a
 * sender's CRC of it can be checked) and the whole stream's.
 */
export class BlockChecksWriter {
  private blockCrc = 0;
  private bytesInBlock = 0;
  private wholeCrc = 0;
  private readonly checks: Buffer[] = [];

  /** Adds `data`; returns its CRC-32. */
  update(data: Buffer): number {
    let dataCrc = 0;
    for (let offset = 0; offset < data.length; ) {
      const take = Math.min(BLOCK_SIZE - this.bytesInBlock, data.length - offset);
      const partCrc = crc32(data.subarray(offset, offset + take));
      this.blockCrc = crc32Combine(this.blockCrc, partCrc, take);
      dataCrc = crc32Combine(dataCrc, partCrc, take);
      this.bytesInBlock += take;
      offset += take;
      if (this.bytesInBlock === BLOCK_SIZE) this.endBlock();
    }
    this.wholeCrc = crc32Combine(this.wholeCrc, dataCrc, data.length);
    return dataCrc;
  }

  /** The CRC-32 of everything added so far. */
  get crc32(): number {
    return this.wholeCrc;
  }

  /** The checks of all blocks, the last (short) one included. */
  finish(): Buffer[] {
    if (this.bytesInBlock > 0) this.endBlock();
    return this.checks;
  }

  private endBlock(): void {
    this.checks.push(crc32Bytes(this.blockCrc));
    this.blockCrc = 0;
    this.bytesInBlock = 0;
  }
}

/** The bytes written after the data: block checks (from BlockChecksWriter), then the footer. */
export function encodeTrailer(size: number, blockChecks: Buffer[], whole: WholeChunkCheck): Buffer {
  const footer = Buffer.alloc(FOOTER_BYTES);
  (('sha256' in whole) ? CRC32_BLOCKS : CRC32_BLOCKS_CRC32_WHOLE).magic.copy(footer, 0);
  footer.writeBigUInt64BE(BigInt(size), 8);
  footer.writeUInt32BE(BLOCK_SIZE, 16);
  footer.writeUInt32BE(blockChecks.length, 20);
  if ('sha256' in whole) whole.sha256.copy(footer, 24);
  else footer.writeUInt32BE(whole.crc32 >>> 0, 24);
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

/** A read found the file shorter than its footer says: `missing` bytes were not there. */
export function fileEndsEarly(what: string, missing: number): ChunkStoreError {
  return corrupt(what, `file ends ${missing} bytes early`);
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
    if (bytesRead === 0) throw fileEndsEarly(what, length - filled);
    filled += bytesRead;
  }
  return buffer;
}

/** readExactly for an open file descriptor, with synchronous reads (see ChunkStore.readRange). */
export function readExactlySync(fd: number, length: number, position: number, what: string, allocate: BlockAllocator = Buffer.allocUnsafe): Buffer {
  const buffer = allocate(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(fd, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw fileEndsEarly(what, length - filled);
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
  return parseFooter(await readExactly(file, FOOTER_BYTES, fileSize - FOOTER_BYTES, what), fileSize, what);
}

function parseFooter(footer: Buffer, fileSize: number, what: string): { layout: ChunkLayout; format: BlockCheckFormat } {
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
  const checksum = format.whole === 'crc32' ? crc32Checksum(footer.readUInt32BE(24)) : footer.subarray(24, 56).toString('hex');
  return { layout: { size, blockSize, blockCount, checksum }, format };
}

/** The layout a chunk's footer (its last FOOTER_BYTES) describes, checked against the chunk's stored length. */
export function layoutFromFooter(footer: Buffer, storedLength: number, what: string): ChunkLayout {
  if (storedLength < FOOTER_BYTES) throw corrupt(what, `file is only ${storedLength} bytes`);
  return parseFooter(footer, storedLength, what).layout;
}

/** Footer plus the block check table, with the table's signature checked. */
export async function readLayoutWithChecks(file: FileHandle, fileSize: number, what: string): Promise<ChunkLayoutWithChecks> {
  const { layout, format } = await readFooter(file, fileSize, what);
  return withChecks(layout, format, await readExactly(file, fileSize - layout.size, layout.size, what), what);
}

/** The layout of a chunk file held whole in memory (data, block checks, footer), its table's signature checked. */
export function parseChunkFile(bytes: Buffer, what: string): ChunkLayoutWithChecks {
  if (bytes.length < FOOTER_BYTES) throw corrupt(what, `file is only ${bytes.length} bytes`);
  const { layout, format } = parseFooter(bytes.subarray(bytes.length - FOOTER_BYTES), bytes.length, what);
  return withChecks(layout, format, bytes.subarray(layout.size), what);
}

/** `trailer`: the bytes after the data (block checks, then the footer). */
function withChecks(layout: ChunkLayout, format: BlockCheckFormat, trailer: Buffer, what: string): ChunkLayoutWithChecks {
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

/**
 * The CRC-32 of the whole chunk from its stored block CRCs (RSCHUNK2, RSCHUNK3), without reading
 * its data; undefined for RSCHUNK1, whose blocks are checked by SHA-256.
 */
export function crc32FromBlockChecks(layout: ChunkLayoutWithChecks): number | undefined {
  if (layout.format.width !== 4) return undefined;
  let crc = 0;
  for (let index = 0; index < layout.blockCount; index += 1) {
    const length = Math.min(layout.blockSize, layout.size - index * layout.blockSize);
    crc = crc32Combine(crc, layout.blockChecks.readUInt32BE(index * 4), length);
  }
  return crc;
}
