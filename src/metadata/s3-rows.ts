/** Rows of the S3 tables to records, and the errors S3 statements give up with. */
import { toDate, toNumber } from './row-values';
import type {
  BucketRecord,
  MultipartUploadRecord,
  ObjectMetadata,
  ObjectRecord,
  ObjectSummary,
  PartRecord,
  StoredChecksum,
  StoredChecksumType,
} from './types';

type Row = Record<string, unknown>;

export function toBucket(row: Row): BucketRecord {
  return { name: row.name as string, owner: row.owner as string, createdAt: toDate(row.created_at) };
}

function toChecksum(row: Row): StoredChecksum | null {
  if (row.checksum_algorithm === null || row.checksum_value === null || row.checksum_value === undefined) return null;
  return { algorithm: row.checksum_algorithm as string, value: row.checksum_value as string, type: row.checksum_type as StoredChecksumType };
}

/** jsonb arrives parsed from both drivers; a copy keeps it in the caller's realm (see toDate). */
function toStringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((value ?? {}) as Record<string, string>));
}

function toMetadata(source: Row): ObjectMetadata {
  return {
    contentType: (source.content_type as string | null) ?? null,
    contentEncoding: (source.content_encoding as string | null) ?? null,
    contentDisposition: (source.content_disposition as string | null) ?? null,
    contentLanguage: (source.content_language as string | null) ?? null,
    cacheControl: (source.cache_control as string | null) ?? null,
    expires: (source.expires as string | null) ?? null,
    userMetadata: toStringRecord(source.user_metadata),
  };
}

/** The metadata as the columns of s3_objects (and the jsonb an upload keeps until completion). */
export function metadataColumns(metadata: ObjectMetadata): Row {
  return {
    content_type: metadata.contentType,
    content_encoding: metadata.contentEncoding,
    content_disposition: metadata.contentDisposition,
    content_language: metadata.contentLanguage,
    cache_control: metadata.cacheControl,
    expires: metadata.expires,
    user_metadata: metadata.userMetadata,
  };
}

export function toObject(row: Row): ObjectRecord {
  return {
    bucket: row.bucket as string,
    key: row.key as string,
    fileId: row.file_id as string,
    etag: row.etag as string,
    size: toNumber(row.size, 'size'),
    ...toMetadata(row),
    checksum: toChecksum(row),
    lastModified: toDate(row.last_modified),
  };
}

export function toObjectSummary(row: Row): ObjectSummary {
  return { key: row.key as string, etag: row.etag as string, size: toNumber(row.size, 'size'), lastModified: toDate(row.last_modified), checksum: toChecksum(row) };
}

export function toUpload(row: Row): MultipartUploadRecord {
  return {
    uploadId: row.upload_id as string,
    bucket: row.bucket as string,
    key: row.key as string,
    owner: row.owner as string,
    initiatedAt: toDate(row.initiated_at),
    metadata: toMetadata(row.metadata as Row),
    checksumAlgorithm: (row.checksum_algorithm as string | null) ?? null,
    checksumType: (row.checksum_type as StoredChecksumType | null) ?? null,
  };
}

export function toPart(row: Row): PartRecord {
  return {
    partNumber: toNumber(row.part_number, 'part_number'),
    fileId: row.file_id as string,
    size: toNumber(row.size, 'size'),
    etag: row.etag as string,
    checksum: (row.checksum_value as string | null) ?? null,
    lastModified: toDate(row.last_modified),
  };
}

/**
 * Why an S3 statement gave up as a whole: the reason its ringstore_abort() guard raised
 * ('no-bucket', 'no-upload', 'conflict', ...), or a foreign key that a concurrent delete broke
 * between the guard and the end of the statement. Undefined for any other error.
 */
export function abortReason(error: unknown): string | undefined {
  const { code, message, constraint } = error as { code?: string; message?: string; constraint?: string };
  if (code === 'RS001') return /ringstore_abort:([\w:-]+)/.exec(message ?? '')?.[1];
  if (code === '23503' && constraint?.endsWith('_bucket_fkey')) return 'no-bucket';
  if (code === '23503' && constraint === 's3_parts_upload_id_fkey') return 'no-upload';
  return undefined;
}
