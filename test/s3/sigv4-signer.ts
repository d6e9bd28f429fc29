/**
 * An independent SigV4 signer for the verifier's tests: @smithy/signature-v4, the one the AWS
 * SDK for JavaScript signs with, configured as the S3 client configures it.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';

function bytes(data: SourceData): string | Uint8Array {
  return typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** The hash the SDK plugs into the signer (@smithy/hash-node's shape) on node:crypto. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

export function smithySigner(region = 'us-east-1', credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }): SignatureV4 {
  // S3 signs the path as sent (uriEscapePath false) with the payload hash in x-amz-content-sha256.
  return new SignatureV4({ credentials, region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
}

/** How the SDK escapes a path segment or query component (AWS UriEncode). */
export function sdkEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface RequestToSign {
  method: string;
  /** Already escaped, as the SDK builds it. */
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
}

/** The request target the server will see for a signed request. */
export function targetOf(request: { path: string; query?: Record<string, string | string[] | null> }): string {
  const query = Object.entries(request.query ?? {})
    .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => (v === null ? sdkEscape(name) : `${sdkEscape(name)}=${sdkEscape(v)}`)))
    .join('&');
  return query === '' ? request.path : `${request.path}?${query}`;
}

/** Node lower-cases header names: what a server sees. */
export function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

export async function signWithSmithy(request: RequestToSign, signingDate: Date, signer = smithySigner()) {
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: 'localhost', path: request.path, query: request.query ?? {}, headers: { host: 'localhost:9000', ...request.headers } },
    { signingDate },
  );
  return { method: signed.method, url: targetOf(signed), headers: lowerCased(signed.headers) };
}

/** As @aws-sdk/s3-request-presigner presigns: UNSIGNED-PAYLOAD (hoisted into the query), content-type unsigned. */
export async function presignWithSmithy(request: RequestToSign, signingDate: Date, expiresIn: number, signer = smithySigner()) {
  const signed = await signer.presign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: 'localhost',
      path: request.path,
      query: request.query ?? {},
      headers: { host: 'localhost:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...request.headers },
    },
    { signingDate, expiresIn, unsignableHeaders: new Set(['content-type']) },
  );
  return { method: signed.method, url: targetOf(signed), headers: lowerCased(signed.headers) };
}
