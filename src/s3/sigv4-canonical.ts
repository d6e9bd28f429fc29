/**
 * The pieces of AWS Signature Version 4 as S3 defines them: URI encoding, the canonical request,
 * the string to sign and the signing key. Shared by the request verifier and aws-chunked.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * AWS's UriEncode: every UTF-8 byte except the unreserved A-Z a-z 0-9 - . _ ~ as %XX (upper
 * case); `/` kept when encoding a path.
 */
export function uriEncode(text: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replaceAll('%2F', '/') : encoded;
}

/** Request headers as the S3 layer takes them: lower-case names, a repeated header as an array. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** One header's value, a repeated one joined with ',' as AWS joins it. */
export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The canonical headers and the signed-header list, from the names the client signed (in its
 * order) and the request's headers (lower-case names; a repeated header as an array, joined
 * with ',' as AWS does). Values are trimmed and inner runs of spaces collapse to one.
 */
export function canonicalHeaders(signedHeaders: readonly string[], headers: RequestHeaders): string {
  return signedHeaders
    .map((name) => {
      const value = headers[name];
      const joined = Array.isArray(value) ? value.map((v) => v.trim()).join(',') : (value ?? '');
      return `${name}:${joined.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
}

export interface CanonicalRequestParts {
  method: string;
  /** The canonical URI (already encoded). */
  uri: string;
  /** The canonical query string (already encoded and sorted). */
  query: string;
  signedHeaders: readonly string[];
  headers: RequestHeaders;
  /** Hex SHA-256 of the payload, or the literal x-amz-content-sha256 value (UNSIGNED-PAYLOAD, STREAMING-...). */
  payloadHash: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  return [
    parts.method,
    parts.uri,
    parts.query,
    canonicalHeaders(parts.signedHeaders, parts.headers),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

/** The credential scope: date/region/service/aws4_request. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

/** HMAC chain AWS4+secret -> date -> region -> service -> aws4_request. */
export function deriveSigningKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const dateKey = hmac(`AWS4${secretAccessKey}`, date);
  return hmac(hmac(hmac(dateKey, region), service), 'aws4_request');
}

/** 20130524T000000Z from a Date (what X-Amz-Date holds). */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Constant-time comparison of a computed hex signature with the one a client sent. */
export function signaturesEqual(expectedHex: string, providedHex: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(providedHex)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'latin1'), Buffer.from(providedHex, 'latin1'));
}
