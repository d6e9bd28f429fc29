/**
 * Request and response details shared by the listing operations (ListObjects V1/V2,
 * ListMultipartUploads, ListParts): continuation tokens, max-keys style bounds and
 * `encoding-type=url`.
 */
import { createHash } from 'node:crypto';
import { S3Error } from './errors';

/** S3 never returns more than 1000 entries per page, whatever max-keys asks. */
export const MAX_LIST_ENTRIES = 1000;

const TOKEN_VERSION = 1;
const TOKEN_CHECK_BYTES = 8;

function tokenCheck(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, TOKEN_CHECK_BYTES);
}

/**
 * An opaque ListObjectsV2 continuation token: where the next page starts (the last key or
 * common prefix returned), bound to its bucket. It carries no authority: the listing is always
 * of the bucket in the request (the token of another bucket is refused), and within that bucket
 * a made-up token can reach no more than start-after can. The check bytes only turn a mangled
 * token into a clear error.
 */
export function encodeContinuationToken(bucket: string, startAfter: string): string {
  const payload = Buffer.from(JSON.stringify([TOKEN_VERSION, bucket, startAfter]), 'utf8');
  return Buffer.concat([tokenCheck(payload), payload]).toString('base64url');
}

/** Where a continuation token says to resume, or InvalidArgument when it is not one of this bucket's. */
export function decodeContinuationToken(token: string, bucket: string): string {
  const invalid = () => new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token', ArgumentValue: token });
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) throw invalid();
  const raw = Buffer.from(token, 'base64url');
  const payload = raw.subarray(TOKEN_CHECK_BYTES);
  if (raw.length <= TOKEN_CHECK_BYTES || !tokenCheck(payload).equals(raw.subarray(0, TOKEN_CHECK_BYTES))) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(payload.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== TOKEN_VERSION || decoded[1] !== bucket || typeof decoded[2] !== 'string') throw invalid();
  return decoded[2];
}

/**
 * max-keys, max-uploads, max-parts: a whole number from 0; above 1000 it is 1000, as S3 does.
 * `name` is the query parameter, for the error.
 */
export function parseMaxEntries(name: string, value: string | undefined): number {
  if (value === undefined) return MAX_LIST_ENTRIES;
  if (!/^\d{1,10}$/.test(value.trim())) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: value });
  }
  return Math.min(Number(value.trim()), MAX_LIST_ENTRIES);
}

/** part-number-marker: a whole number from 0 (0 and absent both mean "from the first part"). */
export function parsePartNumberMarker(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,5}$/.test(value)) {
    throw new S3Error('InvalidArgument', 'Provided part-number-marker not an integer or within integer range', { ArgumentName: 'part-number-marker', ArgumentValue: value });
  }
  return Number(value);
}

export type EncodingType = 'url' | undefined;

export function parseEncodingType(value: string | undefined): EncodingType {
  if (value === undefined) return undefined;
  if (value.toLowerCase() !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: value });
  }
  return 'url';
}

/**
 * S3's `encoding-type=url` form of a key or prefix in a listing: letters, digits and - _ . / *
 * stay, a space becomes '+', every other UTF-8 byte %XX (so '~' and '+' are encoded). Clients
 * decode it as a form value (botocore: unquote_plus).
 */
export function urlEncodeListingValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_./*]/.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The listing form of a value for the requested encoding (as is without one). */
export function listingValue(value: string, encoding: EncodingType): string {
  return encoding === 'url' ? urlEncodeListingValue(value) : value;
}
