/** Multipart uploads: Create, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads. */
import { randomUUID } from 'node:crypto';
import type { MultipartUploadRecord, PartRecord, StoredChecksumType } from '../metadata/types';
import type { UploadLocation } from '../objects/multipart';
import { CHECKSUM_ALGORITHMS, parseChecksumAlgorithm, parseChecksumValue, type ChecksumAlgorithm } from './checksums';
import { combineCrcs, combinesParts } from './crc-combine';
import type { S3Context, S3Deps } from './context';
import { copySource } from './copy-source';
import { copyDigest } from './object-write';
import { S3Error } from './errors';
import { compositeChecksum, etagMd5, multipartEtag, quoteEtag } from './etag';
import { readSmallBody, requestBody } from './incoming-body';
import { listingValue, parseEncodingType, parseMaxEntries, parsePartNumberMarker } from './listing';
import { parsePartNumber } from './names';
import { checksumElements, metadataFromHeaders } from './object-headers';
import { MAX_COMPLETE_BODY_BYTES, parseCompleteMultipartUpload } from './request-bodies';
import { ownerFields, sendEmpty, sendXml } from './responses';

/** S3's limits: every part but the last at least 5 MiB, each at most 5 GiB. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 ** 3;

function uploadOf(ctx: S3Context): UploadLocation {
  const uploadId = ctx.query('uploadId');
  if (!uploadId) throw new S3Error('InvalidArgument', 'uploadId must not be empty.', { ArgumentName: 'uploadId' });
  return { bucket: ctx.bucket, key: ctx.key, uploadId };
}

export async function createMultipartUpload(ctx: S3Context, deps: S3Deps): Promise<void> {
  const metadata = metadataFromHeaders(ctx.req);
  const requested = ctx.header('x-amz-checksum-algorithm');
  const algorithm = requested ? parseChecksumAlgorithm(requested) : null;
  const checksumType = algorithm ? multipartChecksumType(algorithm, ctx.header('x-amz-checksum-type')) : null;
  const upload = await deps.objects.createUpload({
    bucket: ctx.bucket,
    key: ctx.key,
    owner: ctx.auth.accessKeyId,
    metadata,
    checksumAlgorithm: algorithm,
    checksumType,
  });
  if (algorithm && checksumType) {
    ctx.res.setHeader('x-amz-checksum-algorithm', algorithm);
    ctx.res.setHeader('x-amz-checksum-type', checksumType);
  }
  sendXml(ctx.res, 'InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: upload.uploadId });
}

/**
 * The kind of whole-object checksum an upload gets, as S3 allows them: FULL_OBJECT (a checksum
 * of the whole object, combined from the parts' CRCs) for the CRCs, COMPOSITE (a checksum of
 * the parts' checksums, "-N") for CRC32, CRC32C and the SHAs. Without a type, CRC64NVME is
 * FULL_OBJECT and the others COMPOSITE.
 */
function multipartChecksumType(algorithm: ChecksumAlgorithm, header: string | undefined): StoredChecksumType {
  const type = header?.toUpperCase() ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type !== 'FULL_OBJECT' && type !== 'COMPOSITE') {
    throw new S3Error('InvalidRequest', `Value for x-amz-checksum-type header is invalid: ${header!.slice(0, 32)}`);
  }
  if (type === 'FULL_OBJECT' ? !combinesParts(algorithm) : algorithm === 'CRC64NVME') {
    throw new S3Error('InvalidRequest', `The ${type} checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`);
  }
  return type;
}

/** UploadPart: the body as PutObject takes it, kept under its part number. */
export async function uploadPart(ctx: S3Context, deps: S3Deps): Promise<void> {
  const location = uploadOf(ctx);
  const partNumber = parsePartNumber(ctx.query('partNumber'));
  const upload = await deps.objects.getUpload(location);
  const { body, digest } = requestBody(ctx.req, ctx.auth, { maxSize: MAX_PART_SIZE, idleMs: deps.bodyIdleTimeoutMs, storedAlgorithm: storedAlgorithm(upload) });
  const part = await deps.objects.uploadPart(location, partNumber, body, digest);
  ctx.res.setHeader('ETag', quoteEtag(part.etag));
  if (upload.checksumAlgorithm && part.checksum) ctx.res.setHeader(CHECKSUM_ALGORITHMS[storedAlgorithm(upload)!].header, part.checksum);
  sendEmpty(ctx.res);
}

export async function uploadPartCopy(ctx: S3Context, deps: S3Deps): Promise<void> {
  const location = uploadOf(ctx);
  const partNumber = parsePartNumber(ctx.query('partNumber'));
  const upload = await deps.objects.getUpload(location);
  const part = await deps.objects.uploadPartCopy(location, partNumber, await copySource(ctx, deps, { withRange: true }), copyDigest(storedAlgorithm(upload)));
  sendXml(ctx.res, 'CopyPartResult', { ETag: quoteEtag(part.etag), LastModified: part.lastModified, ...partChecksum(upload, part) });
}

function storedAlgorithm(upload: MultipartUploadRecord): ChecksumAlgorithm | undefined {
  return upload.checksumAlgorithm ? (upload.checksumAlgorithm as ChecksumAlgorithm) : undefined;
}

function partChecksum(upload: MultipartUploadRecord, part: PartRecord): Record<string, string> {
  return upload.checksumAlgorithm && part.checksum ? checksumElements({ algorithm: upload.checksumAlgorithm, value: part.checksum }) : {};
}

/**
 * Checks the listed parts against the stored ones (ETag, and any checksum listed), computes
 * the MD5-of-MD5s ETag and the composite checksum from them, and lets the store stitch the
 * parts' chunks into the object.
 */
export async function completeMultipartUpload(ctx: S3Context, deps: S3Deps): Promise<void> {
  const location = uploadOf(ctx);
  const xml = await readSmallBody(ctx.req, ctx.auth, MAX_COMPLETE_BODY_BYTES, { idleMs: deps.bodyIdleTimeoutMs, checksumHeadersNameTheObject: true });
  const listed = parseCompleteMultipartUpload(xml);
  const upload = await deps.objects.getUpload(location);
  const stored = new Map((await deps.objects.allParts(location)).map((part) => [part.partNumber, part]));
  const algorithm = storedAlgorithm(upload);
  const partChecksums: Array<{ crc: Buffer; size: number }> = [];
  for (const part of listed) {
    const found = stored.get(part.partNumber);
    if (!found || !/^[0-9a-f]{32}$/.test(part.etag) || found.etag !== part.etag) {
      throw new S3Error('InvalidPart', undefined, { UploadId: location.uploadId, PartNumber: part.partNumber, ETag: part.etag });
    }
    for (const [name, value] of Object.entries(part.checksums)) {
      if (found.checksum !== null && value !== found.checksum) {
        throw new S3Error('InvalidPart', `The ${name} checksum listed for part ${part.partNumber} is not the part's.`, { PartNumber: part.partNumber });
      }
    }
    if (algorithm && found.checksum) partChecksums.push({ crc: Buffer.from(found.checksum, 'base64'), size: found.size });
  }
  const checksum = algorithm && partChecksums.length === listed.length ? wholeObjectChecksum(ctx, algorithm, upload.checksumType ?? 'COMPOSITE', partChecksums) : null;
  const object = await deps.objects.completeUpload(location, listed, {
    fileId: randomUUID(),
    etag: multipartEtag(listed.map((part) => etagMd5(part.etag))),
    checksum,
  });
  if (checksum) ctx.res.setHeader('x-amz-checksum-type', checksum.type);
  sendXml(ctx.res, 'CompleteMultipartUploadResult', {
    Location: `/${ctx.bucket}/${encodeURIComponent(ctx.key)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: quoteEtag(object.etag),
    ...checksumElements(object.checksum),
    ...(object.checksum ? { ChecksumType: object.checksum.type } : {}),
  });
}

/**
 * The object's checksum from its parts'. A FULL_OBJECT checksum the client sent with the
 * completion (x-amz-checksum-<algorithm>, of the whole object) must be the one combined from
 * the parts: BadDigest otherwise, and nothing is completed.
 */
function wholeObjectChecksum(
  ctx: S3Context,
  algorithm: ChecksumAlgorithm,
  type: StoredChecksumType,
  parts: ReadonlyArray<{ crc: Buffer; size: number }>,
): { algorithm: ChecksumAlgorithm; value: string; type: StoredChecksumType } {
  if (type === 'COMPOSITE') return { algorithm, value: compositeChecksum(algorithm, parts.map((part) => part.crc)), type };
  const combined = combineCrcs(algorithm, parts);
  const sent = ctx.header(CHECKSUM_ALGORITHMS[algorithm].header);
  if (sent !== undefined && !parseChecksumValue(algorithm, sent).equals(combined)) {
    throw new S3Error('BadDigest', `The ${algorithm.toLowerCase()} you specified for the whole object did not match the one of its parts.`);
  }
  return { algorithm, value: combined.toString('base64'), type };
}

export async function abortMultipartUpload(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.abortUpload(uploadOf(ctx));
  sendEmpty(ctx.res, 204);
}

export async function listParts(ctx: S3Context, deps: S3Deps): Promise<void> {
  const location = uploadOf(ctx);
  const maxParts = parseMaxEntries('max-parts', ctx.query('max-parts'));
  const partNumberMarker = parsePartNumberMarker(ctx.query('part-number-marker'));
  const upload = await deps.objects.getUpload(location);
  const page = await deps.objects.listParts(location, { partNumberMarker, maxParts });
  sendXml(ctx.res, 'ListPartsResult', {
    Bucket: ctx.bucket,
    Key: ctx.key,
    UploadId: location.uploadId,
    Initiator: ownerFields(upload.owner),
    Owner: ownerFields(upload.owner),
    StorageClass: 'STANDARD',
    PartNumberMarker: partNumberMarker,
    NextPartNumberMarker: page.nextPartNumberMarker,
    MaxParts: maxParts,
    IsTruncated: page.isTruncated,
    ChecksumAlgorithm: upload.checksumAlgorithm ?? undefined,
    ChecksumType: upload.checksumType ?? undefined,
    Part: page.parts.map((part) => ({
      PartNumber: part.partNumber,
      LastModified: part.lastModified,
      ETag: quoteEtag(part.etag),
      Size: part.size,
      ...partChecksum(upload, part),
    })),
  });
}

export async function listMultipartUploads(ctx: S3Context, deps: S3Deps): Promise<void> {
  const encoding = parseEncodingType(ctx.query('encoding-type'));
  const query = {
    prefix: ctx.query('prefix') ?? '',
    delimiter: ctx.query('delimiter') ?? '',
    keyMarker: ctx.query('key-marker') ?? '',
    uploadIdMarker: ctx.query('upload-id-marker') ?? '',
    maxUploads: parseMaxEntries('max-uploads', ctx.query('max-uploads')),
  };
  if (query.delimiter.endsWith('\u{10FFFF}')) throw new S3Error('InvalidArgument', 'This delimiter is not supported.', { ArgumentName: 'delimiter' });
  const listing = await deps.objects.listUploads(ctx.bucket, query);
  const value = (text: string) => listingValue(text, encoding);
  sendXml(ctx.res, 'ListMultipartUploadsResult', {
    Bucket: ctx.bucket,
    KeyMarker: value(query.keyMarker),
    UploadIdMarker: query.uploadIdMarker,
    NextKeyMarker: listing.nextKeyMarker === undefined ? undefined : value(listing.nextKeyMarker),
    NextUploadIdMarker: listing.nextUploadIdMarker,
    Delimiter: query.delimiter === '' ? undefined : value(query.delimiter),
    Prefix: value(query.prefix),
    MaxUploads: query.maxUploads,
    IsTruncated: listing.isTruncated,
    Upload: listing.uploads.map((upload) => ({
      Key: value(upload.key),
      UploadId: upload.uploadId,
      Initiator: ownerFields(upload.owner),
      Owner: ownerFields(upload.owner),
      StorageClass: 'STANDARD',
      Initiated: upload.initiatedAt,
      ChecksumAlgorithm: upload.checksumAlgorithm ?? undefined,
    })),
    CommonPrefixes: listing.commonPrefixes.map((prefix) => ({ Prefix: value(prefix) })),
    EncodingType: encoding,
  });
}
