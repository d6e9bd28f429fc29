/**
 * The digests S3 computes over a body: MD5 (ETag, Content-MD5) and the flexible checksums
 * (x-amz-checksum-*), all incremental so a body is hashed while it streams, and their checks.
 * Values travel as S3 writes them: base64 of the big-endian digest bytes.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from './crc32c';
import { CRC64_START, crc64Bytes, crc64nvme } from './crc64nvme';
import { S3Error } from './errors';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface ChecksumAlgorithmInfo {
  name: ChecksumAlgorithm;
  /** The request/response header carrying the value. */
  header: string;
  /** The element in XML bodies (CompleteMultipartUpload, ListParts, GetObjectAttributes). */
  xmlElement: string;
  digestBytes: number;
}

export const CHECKSUM_ALGORITHMS: Readonly<Record<ChecksumAlgorithm, ChecksumAlgorithmInfo>> = {
  CRC32: { name: 'CRC32', header: 'x-amz-checksum-crc32', xmlElement: 'ChecksumCRC32', digestBytes: 4 },
  CRC32C: { name: 'CRC32C', header: 'x-amz-checksum-crc32c', xmlElement: 'ChecksumCRC32C', digestBytes: 4 },
  CRC64NVME: { name: 'CRC64NVME', header: 'x-amz-checksum-crc64nvme', xmlElement: 'ChecksumCRC64NVME', digestBytes: 8 },
  SHA1: { name: 'SHA1', header: 'x-amz-checksum-sha1', xmlElement: 'ChecksumSHA1', digestBytes: 20 },
  SHA256: { name: 'SHA256', header: 'x-amz-checksum-sha256', xmlElement: 'ChecksumSHA256', digestBytes: 32 },
};

/**
 * The algorithm named by x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm (any case),
 * InvalidRequest for an unknown one.
 */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm {
  const name = value.trim().toUpperCase();
  if (!(name in CHECKSUM_ALGORITHMS)) {
    throw new S3Error('InvalidRequest', `Checksum algorithm ${JSON.stringify(value)} is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.`);
  }
  return name as ChecksumAlgorithm;
}

/** The algorithm whose header this is (`x-amz-checksum-crc32` -> CRC32), if any. */
export function checksumAlgorithmOfHeader(header: string): ChecksumAlgorithm | undefined {
  const lower = header.toLowerCase();
  return Object.values(CHECKSUM_ALGORITHMS).find((algorithm) => algorithm.header === lower)?.name;
}

/** A digest fed piece by piece. */
export interface IncrementalDigest {
  update(data: Uint8Array): void;
  /** The digest bytes; call once, after the last update. */
  digest(): Buffer;
}

function nodeHash(name: 'md5' | 'sha1' | 'sha256'): IncrementalDigest {
  const hash = createHash(name);
  return { update: (data) => void hash.update(data), digest: () => hash.digest() };
}

function crc32Digest(update: (data: Uint8Array, crc: number) => number): IncrementalDigest {
  let crc = 0;
  return {
    update: (data) => void (crc = update(data, crc)),
    digest: () => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(crc >>> 0);
      return bytes;
    },
  };
}

export function createDigest(algorithm: ChecksumAlgorithm | 'MD5'): IncrementalDigest {
  switch (algorithm) {
    case 'MD5': return nodeHash('md5');
    case 'SHA1': return nodeHash('sha1');
    case 'SHA256': return nodeHash('sha256');
    case 'CRC32': return crc32Digest(crc32);
    case 'CRC32C': return crc32Digest(crc32c);
    case 'CRC64NVME': {
      let crc = CRC64_START;
      return { update: (data) => void (crc = crc64nvme(data, crc)), digest: () => crc64Bytes(crc) };
    }
  }
}

/** The digest of a whole buffer, for small bodies and tests. */
export function digestOf(algorithm: ChecksumAlgorithm | 'MD5', data: Uint8Array): Buffer {
  const digest = createDigest(algorithm);
  digest.update(data);
  return digest.digest();
}

/** Strict base64 of exactly `bytes` bytes (what S3 accepts in digest headers), else undefined. */
function decodeBase64Digest(value: string, bytes: number): Buffer | undefined {
  const trimmed = value.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length !== 4 * Math.ceil(bytes / 3)) return undefined;
  const decoded = Buffer.from(trimmed, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === trimmed ? decoded : undefined;
}

/** The 16 bytes a Content-MD5 header announces; InvalidDigest when it is not base64 of an MD5. */
export function parseContentMd5(header: string): Buffer {
  const digest = decodeBase64Digest(header, 16);
  if (!digest) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': header });
  return digest;
}

/** The digest an x-amz-checksum-* header or trailer announces; InvalidRequest when malformed. */
export function parseChecksumValue(algorithm: ChecksumAlgorithm, value: string): Buffer {
  const info = CHECKSUM_ALGORITHMS[algorithm];
  const digest = decodeBase64Digest(value, info.digestBytes);
  if (!digest) throw new S3Error('InvalidRequest', `Value for ${info.header} header is invalid.`);
  return digest;
}

/**
 * BadDigest unless the body's digest is the announced one. `what` names it in the message
 * ('Content-MD5', 'CRC32', ...).
 */
export function checkDigest(what: string, announced: Buffer, computed: Buffer): void {
  if (!announced.equals(computed)) {
    throw new S3Error('BadDigest', `The ${what} you specified did not match the calculated checksum.`, {
      ExpectedDigest: announced.toString('base64'),
      CalculatedDigest: computed.toString('base64'),
    });
  }
}

/**
 * What one streaming pass computes over a body: always MD5 (the ETag), plus the flexible
 * checksums asked for (the one the client sent, or the one it asked S3 to store).
 */
export class BodyDigests {
  private readonly md5 = createDigest('MD5');
  private readonly checksums: [ChecksumAlgorithm, IncrementalDigest][];
  private length = 0;

  constructor(algorithms: readonly ChecksumAlgorithm[] = []) {
    this.checksums = [...new Set(algorithms)].map((algorithm) => [algorithm, createDigest(algorithm)]);
  }

  update(data: Uint8Array): void {
    this.length += data.length;
    this.md5.update(data);
    for (const [, digest] of this.checksums) digest.update(data);
  }

  /** Call once, after the last update. */
  finish(): { size: number; md5: Buffer; checksums: Partial<Record<ChecksumAlgorithm, Buffer>> } {
    return {
      size: this.length,
      md5: this.md5.digest(),
      checksums: Object.fromEntries(this.checksums.map(([algorithm, digest]) => [algorithm, digest.digest()])),
    };
  }
}
