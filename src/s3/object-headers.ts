/** The headers an object keeps (Content-*, Cache-Control, Expires, x-amz-meta-*) in and out. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectMetadata, ObjectRecord } from '../metadata/types';
import { storedContentEncoding } from './aws-chunked';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './checksums';
import { S3Error } from './errors';
import { quoteEtag } from './etag';
import { headerValue } from './sigv4-canonical';

/** S3's limit on user metadata: names and values together. */
const MAX_USER_METADATA_BYTES = 2048;
const USER_METADATA_PREFIX = 'x-amz-meta-';
/** What S3 answers as Content-Type of an object stored without one. */
export const DEFAULT_OBJECT_TYPE = 'binary/octet-stream';

export function metadataFromHeaders(req: IncomingMessage): ObjectMetadata {
  const header = (name: string) => headerValue(req.headersDistinct, name) ?? null;
  // Tags would be dropped, and GetObjectTagging answers that no object has any.
  if (header('x-amz-tagging')) throw new S3Error('NotImplemented', 'Object tags (x-amz-tagging) are not kept by ringstore.');
  const userMetadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (!name.startsWith(USER_METADATA_PREFIX) || values === undefined) continue;
    const key = name.slice(USER_METADATA_PREFIX.length);
    const value = values.join(',');
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    userMetadata[key] = value;
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', undefined, { Size: bytes, MaxSizeAllowed: MAX_USER_METADATA_BYTES });
  }
  return {
    contentType: header('content-type'),
    contentEncoding: storedContentEncoding(header('content-encoding') ?? undefined) ?? null,
    contentDisposition: header('content-disposition'),
    contentLanguage: header('content-language'),
    cacheControl: header('cache-control'),
    expires: header('expires'),
    userMetadata,
  };
}

/** Overrides a signed GET may ask for (response-content-type=...), by response header. */
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

/**
 * The headers of a GET or HEAD of the object (Content-Length and Content-Range are the
 * caller's). With `withChecksum` (x-amz-checksum-mode: ENABLED, whole object) the stored checksum.
 */
export function setObjectHeaders(res: ServerResponse, object: ObjectRecord, query: Map<string, string>, withChecksum: boolean): void {
  res.setHeader('ETag', quoteEtag(object.etag));
  res.setHeader('Last-Modified', object.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', object.contentType ?? DEFAULT_OBJECT_TYPE);
  const optional: [string, string | null][] = [
    ['Content-Encoding', object.contentEncoding],
    ['Content-Disposition', object.contentDisposition],
    ['Content-Language', object.contentLanguage],
    ['Cache-Control', object.cacheControl],
    ['Expires', object.expires],
  ];
  for (const [name, value] of optional) if (value !== null) res.setHeader(name, value);
  for (const [name, value] of Object.entries(object.userMetadata)) res.setHeader(`${USER_METADATA_PREFIX}${name}`, value);
  for (const [parameter, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const value = query.get(parameter);
    if (value !== undefined) res.setHeader(header, value);
  }
  if (withChecksum && object.checksum) {
    res.setHeader(CHECKSUM_ALGORITHMS[object.checksum.algorithm as ChecksumAlgorithm].header, object.checksum.value);
    res.setHeader('x-amz-checksum-type', object.checksum.type);
  }
}

/** The stored checksum as a header of a PUT's answer, or as XML elements. */
export function checksumHeader(object: Pick<ObjectRecord, 'checksum'>): Record<string, string> {
  if (!object.checksum) return {};
  return { [CHECKSUM_ALGORITHMS[object.checksum.algorithm as ChecksumAlgorithm].header]: object.checksum.value };
}

export function checksumElements(checksum: { algorithm: string; value: string } | null): Record<string, string> {
  if (!checksum) return {};
  return { [CHECKSUM_ALGORITHMS[checksum.algorithm as ChecksumAlgorithm].xmlElement]: checksum.value };
}
