/**
 * ETags and multipart checksums as S3 clients check them: the hex MD5 of the body for a
 * single-part object, the MD5 of the concatenated binary part MD5s followed by `-N` for a
 * multipart one, and for flexible checksums the "composite" form, the checksum of the
 * concatenated part checksums followed by `-N`.
 */
import { type ChecksumAlgorithm, digestOf } from './checksums';

/** The ETag of a single-part object, without quotes. */
export function singlePartEtag(md5: Buffer): string {
  return md5.toString('hex');
}

/** The ETag of a multipart object from its parts' binary MD5s in part order, without quotes. */
export function multipartEtag(partMd5s: readonly Buffer[]): string {
  return `${digestOf('MD5', Buffer.concat(partMd5s)).toString('hex')}-${partMd5s.length}`;
}

/** An ETag as headers and XML carry it: in double quotes. */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** A part's hex ETag back to its binary MD5 (what multipartEtag takes). */
export function etagMd5(etag: string): Buffer {
  return Buffer.from(etag, 'hex');
}

/** The composite checksum of a multipart object: base64 of the checksum of the part checksums, then `-N`. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksums: readonly Buffer[]): string {
  return `${digestOf(algorithm, Buffer.concat(partChecksums)).toString('base64')}-${partChecksums.length}`;
}
