/**
 * A lean SigV4 signer for the S3 bench's many small requests: the Authorization header over
 * host, x-amz-date and x-amz-content-sha256 (UNSIGNED-PAYLOAD, as presigned and TLS clients
 * send), with the signing key derived once a day. It builds on the gateway's own SigV4 pieces:
 * the bench measures the server, so the client, on the same cores, must cost little. Only
 * paths without a query and of unreserved characters (bench keys) are signed.
 */
import {
  SIGV4_ALGORITHM,
  canonicalRequest,
  credentialScope,
  deriveSigningKey,
  formatAmzDate,
  hmac,
  stringToSign,
} from '../../src/s3/sigv4-canonical';

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

const SIGNED_HEADERS = ['host', 'x-amz-content-sha256', 'x-amz-date'];

export class S3RequestSigner {
  private key: { date: string; key: Buffer } | undefined;

  constructor(
    private readonly keys: S3Keys,
    private readonly region = 'us-east-1',
  ) {}

  /** The headers that sign a request for `url` (its path only; no query). */
  headers(method: string, url: URL, now = new Date()): Record<string, string> {
    if (url.search !== '' || !/^[A-Za-z0-9\-._~/]*$/.test(url.pathname)) throw new Error(`the bench signer signs plain paths only, not ${url.pathname}${url.search}`);
    const amzDate = formatAmzDate(now);
    const date = amzDate.slice(0, 8);
    const headers = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate };
    const canonical = canonicalRequest({ method, uri: url.pathname, query: '', signedHeaders: SIGNED_HEADERS, headers, payloadHash: 'UNSIGNED-PAYLOAD' });
    const scope = credentialScope(date, this.region, 's3');
    const signature = hmac(this.signingKey(date), stringToSign(amzDate, scope, canonical)).toString('hex');
    const authorization = `${SIGV4_ALGORITHM} Credential=${this.keys.accessKeyId}/${scope}, SignedHeaders=${SIGNED_HEADERS.join(';')}, Signature=${signature}`;
    return { ...headers, authorization };
  }

  private signingKey(date: string): Buffer {
    if (this.key?.date !== date) this.key = { date, key: deriveSigningKey(this.keys.secretAccessKey, date, this.region, 's3') };
    return this.key.key;
  }
}
