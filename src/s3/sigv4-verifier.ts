/**
 * Verifies AWS Signature Version 4 (AWS4-HMAC-SHA256) on an S3 request, in the Authorization
 * header or in a presigned URL's query. Any region the client signed for is accepted (there is
 * one ringstore); the service must be s3. Anonymous requests are refused.
 *
 * The canonical URI: S3 signs the path as the client sent it, encoded once (never twice as
 * other AWS services do). Clients encode with AWS's UriEncode, so that is tried first on the
 * decoded path; a client that encodes differently (lower-case hex, a reserved character left
 * bare) signed the bytes it sent, so the path and query exactly as received are the fallback.
 * Both describe the same resource, so accepting either grants nothing more.
 */
import type { SecretLookup } from './credentials';
import { S3Error } from './errors';
import { parsePayloadMode, UNSIGNED_PAYLOAD, type PayloadMode } from './payload-hash';
import {
  canonicalRequest,
  credentialScope,
  formatAmzDate,
  headerValue,
  hmac,
  signaturesEqual,
  SIGV4_ALGORITHM,
  stringToSign,
  uriEncode,
  type RequestHeaders,
} from './sigv4-canonical';
import { SigningKeyCache } from './signing-key-cache';

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

/** What the verifier reads of a request. */
export interface SigV4Request {
  method: string;
  /** The request target as received (Node's req.url): path and query, encoding untouched. */
  url: string;
  /**
   * Lower-case names. Pass Node's req.headersDistinct so a repeated header joins with ','
   * as AWS signs it (req.headers joins most with ', ').
   */
  headers: RequestHeaders;
}

/** What aws-chunked needs to verify chunk signatures chained from the request's. */
export interface ChunkSigningContext {
  signingKey: Buffer;
  /** The request's X-Amz-Date (20130524T000000Z). */
  amzDate: string;
  /** date/region/s3/aws4_request */
  scope: string;
  /** The request's own signature, the first link of the chain. */
  seedSignature: string;
}

export interface VerifiedRequest {
  accessKeyId: string;
  via: 'header' | 'presigned';
  requestTime: Date;
  /** The region the client signed for. */
  region: string;
  payload: PayloadMode;
  signing: ChunkSigningContext;
}

export interface SigV4VerifierOptions {
  keys: SecretLookup;
  /** Milliseconds since the epoch; tests pin it. */
  now?: () => number;
}

interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(value: string): Date | undefined {
  const match = AMZ_DATE.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Rejects 20130230T...: a date that normalizes to another day is not the one signed.
  return formatAmzDate(date) === value ? date : undefined;
}

/** Credential=AKID/20130524/us-east-1/s3/aws4_request (an access key id holds no '/'). */
function parseCredential(credential: string, fail: (message: string) => S3Error): Omit<Authorization, 'signedHeaders' | 'signature'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[0] === '' || !/^\d{8}$/.test(parts[1]) || parts[2] === '' || parts[4] !== 'aws4_request') {
    throw fail(`the Credential is malformed; expecting "<access key id>/YYYYMMDD/<region>/s3/aws4_request", got "${credential}"`);
  }
  if (parts[3] !== 's3') throw fail(`the Credential's service is "${parts[3]}", expecting "s3"`);
  return { accessKeyId: parts[0], date: parts[1], region: parts[2], service: parts[3] };
}

function parseSignedHeaders(value: string, fail: (message: string) => S3Error): string[] {
  const names = value.split(';');
  if (names.some((name) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))) throw fail(`SignedHeaders is malformed: "${value}"`);
  if (new Set(names).size !== names.length) throw fail(`SignedHeaders names a header twice: "${value}"`);
  if (!names.includes('host')) throw fail('SignedHeaders must include host');
  return names;
}

function headerMalformed(message: string): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}.`);
}

function queryMalformed(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', `The query parameters that authorize this request are malformed: ${message}.`);
}

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (spaces and order vary by client). */
function parseAuthorizationHeader(value: string): Authorization {
  const space = value.indexOf(' ');
  const scheme = space < 0 ? value : value.slice(0, space);
  if (scheme !== SIGV4_ALGORITHM) {
    throw new S3Error('InvalidRequest', `The authorization mechanism you have provided is not supported. Please use ${SIGV4_ALGORITHM}.`);
  }
  const fields = new Map<string, string>();
  for (const piece of value.slice(space + 1).split(',')) {
    const eq = piece.indexOf('=');
    if (eq < 0) throw headerMalformed(`"${piece.trim()}" is not a name=value pair`);
    const name = piece.slice(0, eq).trim();
    if (fields.has(name)) throw headerMalformed(`${name} is given twice`);
    fields.set(name, piece.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw headerMalformed('it needs Credential, SignedHeaders and Signature');
  }
  return {
    ...parseCredential(credential, headerMalformed),
    signedHeaders: parseSignedHeaders(signedHeaders, headerMalformed),
    signature,
  };
}

/** name=value pairs of the raw query, in order, undecoded. */
function rawQueryPairs(query: string): [string, string][] {
  return query
    .split('&')
    .filter((piece) => piece !== '')
    .map((piece) => {
      const eq = piece.indexOf('=');
      return eq < 0 ? [piece, ''] : [piece.slice(0, eq), piece.slice(eq + 1)];
    });
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidURI', `Couldn't parse the specified URI: "${text}" is not valid percent-encoded UTF-8.`);
  }
}

/** Pairs sorted by name, then value (byte order: the encoded forms are ASCII), joined as name=value&... */
function sortedQuery(pairs: [string, string][]): string {
  const byNameThenValue = (a: [string, string], b: [string, string]) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  return [...pairs].sort(byNameThenValue).map(([name, value]) => `${name}=${value}`).join('&');
}

/** The (uri, query) forms a client may have signed: canonical re-encoding first, then as sent. */
function canonicalTargets(url: string, omitParam?: string): { uri: string; query: string }[] {
  const mark = url.indexOf('?');
  const rawPath = (mark < 0 ? url : url.slice(0, mark)) || '/';
  const pairs = rawQueryPairs(mark < 0 ? '' : url.slice(mark + 1)).filter(([name]) => decodeComponent(name) !== omitParam);
  const normalized = {
    uri: uriEncode(decodeComponent(rawPath), true),
    query: sortedQuery(pairs.map(([name, value]) => [uriEncode(decodeComponent(name), false), uriEncode(decodeComponent(value), false)])),
  };
  const asSent = { uri: rawPath, query: sortedQuery(pairs) };
  return normalized.uri === asSent.uri && normalized.query === asSent.query ? [normalized] : [normalized, asSent];
}

/** Query parameters decoded (first occurrence wins), for the X-Amz-* of a presigned URL. */
function queryParams(url: string): Map<string, string> {
  const mark = url.indexOf('?');
  const params = new Map<string, string>();
  for (const [name, value] of rawQueryPairs(mark < 0 ? '' : url.slice(mark + 1))) {
    const decoded = decodeComponent(name);
    if (!params.has(decoded)) params.set(decoded, decodeComponent(value));
  }
  return params;
}

export class SigV4Verifier {
  private readonly keys: SecretLookup;
  private readonly now: () => number;
  private readonly signingKeys = new SigningKeyCache();

  constructor(options: SigV4VerifierOptions) {
    this.keys = options.keys;
    this.now = options.now ?? Date.now;
  }

  /** The authenticated request, or an S3Error saying why it is refused. */
  verify(request: SigV4Request): VerifiedRequest {
    const authorization = headerValue(request.headers, 'authorization');
    const params = queryParams(request.url);
    const presigned = params.has('X-Amz-Signature') || params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential');
    if (authorization !== undefined && presigned) {
      throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.');
    }
    if (authorization !== undefined) return this.verifyHeader(request, authorization);
    if (presigned) return this.verifyPresigned(request, params);
    throw new S3Error('AccessDenied', 'Anonymous access is not allowed: sign the request with AWS Signature Version 4.');
  }

  private verifyHeader(request: SigV4Request, value: string): VerifiedRequest {
    const auth = parseAuthorizationHeader(value);
    const { amzDate, time } = this.requestTime(request.headers);
    if (auth.date !== amzDate.slice(0, 8)) {
      throw headerMalformed(`the Credential date ${auth.date} is not the date of the request (${amzDate.slice(0, 8)})`);
    }
    this.checkSkew(time);
    const unsigned = Object.keys(request.headers).filter((name) => name.startsWith('x-amz-') && !auth.signedHeaders.includes(name));
    if (unsigned.length > 0) {
      throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
    }
    const contentSha256 = headerValue(request.headers, 'x-amz-content-sha256');
    if (contentSha256 === undefined) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    const payload = parsePayloadMode(contentSha256);
    return this.checkSignature(request, auth, amzDate, time, payload, contentSha256, 'header', canonicalTargets(request.url));
  }

  private verifyPresigned(request: SigV4Request, params: Map<string, string>): VerifiedRequest {
    const required = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
    const missing = required.filter((name) => !params.has(name));
    if (missing.length > 0) throw queryMalformed(`${missing.join(', ')} missing`);
    if (params.get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) throw queryMalformed(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`);
    const credential = parseCredential(params.get('X-Amz-Credential')!, queryMalformed);
    const amzDate = params.get('X-Amz-Date')!;
    const signedAt = parseAmzDate(amzDate);
    if (!signedAt) throw queryMalformed('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    if (credential.date !== amzDate.slice(0, 8)) throw queryMalformed(`the X-Amz-Credential date ${credential.date} is not the date of X-Amz-Date`);
    const expiresText = params.get('X-Amz-Expires')!;
    const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
    if (!(expires >= 1)) throw queryMalformed('X-Amz-Expires should be a number of seconds');
    if (expires > MAX_PRESIGNED_EXPIRES_SECONDS) {
      throw queryMalformed(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES_SECONDS}`);
    }
    const now = this.now();
    if (signedAt.getTime() - now > MAX_CLOCK_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (now > signedAt.getTime() + expires * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        'X-Amz-Expires': expires,
        Expires: new Date(signedAt.getTime() + expires * 1000).toISOString(),
        ServerTime: new Date(now).toISOString(),
      });
    }
    const auth: Authorization = {
      ...credential,
      signedHeaders: parseSignedHeaders(params.get('X-Amz-SignedHeaders')!, queryMalformed),
      signature: params.get('X-Amz-Signature')!,
    };
    // The AWS SDK's presigner puts X-Amz-Content-Sha256=UNSIGNED-PAYLOAD in the query.
    const contentSha256 = headerValue(request.headers, 'x-amz-content-sha256') ?? params.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
    const payload = parsePayloadMode(contentSha256);
    return this.checkSignature(request, auth, amzDate, signedAt, payload, contentSha256, 'presigned', canonicalTargets(request.url, 'X-Amz-Signature'));
  }

  /** X-Amz-Date, else the Date header; AccessDenied when neither is a valid date. */
  private requestTime(headers: SigV4Request['headers']): { amzDate: string; time: Date } {
    const amzDateHeader = headerValue(headers, 'x-amz-date');
    if (amzDateHeader !== undefined) {
      const time = parseAmzDate(amzDateHeader);
      if (time) return { amzDate: amzDateHeader, time };
    } else {
      const dateHeader = headerValue(headers, 'date');
      const time = dateHeader === undefined ? undefined : new Date(dateHeader);
      if (time && !Number.isNaN(time.getTime())) return { amzDate: formatAmzDate(time), time };
    }
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }

  private checkSkew(time: Date): void {
    const now = this.now();
    if (Math.abs(now - time.getTime()) > MAX_CLOCK_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        RequestTime: formatAmzDate(time),
        ServerTime: new Date(now).toISOString(),
        MaxAllowedSkewMilliseconds: MAX_CLOCK_SKEW_MS,
      });
    }
  }

  private checkSignature(
    request: SigV4Request,
    auth: Authorization,
    amzDate: string,
    requestTime: Date,
    payload: PayloadMode,
    payloadHash: string,
    via: VerifiedRequest['via'],
    targets: { uri: string; query: string }[],
  ): VerifiedRequest {
    const secret = this.keys.secretFor(auth.accessKeyId);
    if (secret === undefined) {
      throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: auth.accessKeyId });
    }
    const signingKey = this.signingKeys.signingKey(auth.accessKeyId, secret, auth.date, auth.region, auth.service);
    const scope = credentialScope(auth.date, auth.region, auth.service);
    const attempts = targets.map(({ uri, query }) => {
      const canonical = canonicalRequest({
        method: request.method.toUpperCase(),
        uri,
        query,
        signedHeaders: auth.signedHeaders,
        headers: request.headers,
        payloadHash,
      });
      const toSign = stringToSign(amzDate, scope, canonical);
      return { canonical, toSign, signature: hmac(signingKey, toSign).toString('hex') };
    });
    // Every candidate is compared, so timing does not tell which form matched.
    const matched = attempts.map((attempt) => signaturesEqual(attempt.signature, auth.signature)).includes(true);
    if (!matched) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: auth.accessKeyId,
        StringToSign: attempts[0].toSign,
        SignatureProvided: auth.signature,
        CanonicalRequest: attempts[0].canonical,
      });
    }
    return {
      accessKeyId: auth.accessKeyId,
      via,
      requestTime,
      region: auth.region,
      payload,
      signing: { signingKey, amzDate, scope, seedSignature: auth.signature },
    };
  }
}
