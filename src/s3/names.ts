/** What S3 accepts as a bucket name, an object key and a part number; anything else is an S3Error. */
import { S3Error } from './errors';

export const MAX_KEY_BYTES = 1024;
export const MAX_PART_NUMBER = 10_000;

/** Prefixes and suffixes S3 reserves for its own features (access points, directory buckets...). */
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const NUL_OR_LONE_SURROGATE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IP_ADDRESS = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** The reason a bucket name breaks S3's naming rules, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'a bucket name must be 3 to 63 characters long';
  if (!BUCKET_CHARS.test(name)) {
    return 'a bucket name may hold only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit';
  }
  if (name.includes('..')) return 'a bucket name must not hold two adjacent dots';
  if (IP_ADDRESS.test(name)) return 'a bucket name must not be formatted as an IP address';
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `a bucket name must not begin with "${prefix}"`;
  const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `a bucket name must not end with "${suffix}"`;
  return undefined;
}

export function validateBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${problem}.`, { BucketName: name });
}

/**
 * An object key: 1 to 1024 bytes of UTF-8. A NUL cannot be stored in a PostgreSQL text column,
 * and a lone surrogate has no UTF-8 form (it would silently become U+FFFD): both are refused.
 */
export function validateObjectKey(key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'An object key must not be empty.', { ArgumentName: 'key' });
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', `Your key is too long: at most ${MAX_KEY_BYTES} bytes of UTF-8.`, {
      MaxSizeAllowed: MAX_KEY_BYTES,
      Size: Buffer.byteLength(key, 'utf8'),
    });
  }
  if (NUL_OR_LONE_SURROGATE.test(key)) {
    throw new S3Error('InvalidArgument', 'An object key must be valid UTF-8 without NUL characters.', { ArgumentName: 'key' });
  }
}

/** A part number as sent (query string or XML): a whole number from 1 to 10000. */
export function parsePartNumber(value: string | undefined): number {
  const parsed = value !== undefined && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(parsed >= 1 && parsed <= MAX_PART_NUMBER)) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
      ArgumentName: 'partNumber',
      ArgumentValue: value ?? '',
    });
  }
  return parsed;
}
