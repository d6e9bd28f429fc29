import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MultipartUploads } from '../objects/multipart';
import type { Logger } from '../util/logger';
import type { RequestTarget } from './request-target';
import { headerValue } from './sigv4-canonical';
import type { VerifiedRequest } from './sigv4-verifier';

/** What every S3 operation works with. */
export interface S3Deps {
  objects: MultipartUploads;
  log: Logger;
  /** The region GetBucketLocation reports (any region a client signs for is accepted). */
  region: string;
  /** Largest single PUT (S3: 5 GiB); larger bodies go multipart. */
  maxPutSize: number;
  /** BODY_IDLE_TIMEOUT_MS: a request body that stalls this long is cut with RequestTimeout. */
  bodyIdleTimeoutMs: number;
}

/** One authenticated request on its way through an operation. */
export class S3Context {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: RequestTarget,
    readonly auth: VerifiedRequest,
    readonly requestId: string,
  ) {}

  /** A request header, repeated values joined with ',' (as signed). */
  header(name: string): string | undefined {
    return headerValue(this.req.headersDistinct, name);
  }

  query(name: string): string | undefined {
    return this.target.query.get(name);
  }

  /** The bucket the route needs (the router sends only bucket requests here). */
  get bucket(): string {
    return this.target.bucket!;
  }

  get key(): string {
    return this.target.key!;
  }
}
