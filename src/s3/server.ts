/**
 * The S3 endpoint's request handler: authenticate (Signature V4; anonymous refused), name the
 * operation, check names, run it, and answer every failure as S3's XML error. Each request is
 * counted by operation and status and logged (the path only: never a header or a query, so
 * no credential or signature reaches the log).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { onRequestEnd } from '../http/request-end';
import type { UploadSlots } from '../http/upload/upload-slots';
import type { Metrics } from '../observability/metrics';
import type { Logger } from '../util/logger';
import { S3Context, type S3Deps } from './context';
import { toS3Error } from './domain-errors';
import type { S3Error } from './errors';
import { validateBucketName, validateObjectKey } from './names';
import { parseRequestTarget, type RequestTarget } from './request-target';
import { routeOf } from './router';
import type { SigV4Verifier } from './sigv4-verifier';
import { answerBeforeBody } from '../http/discard-body';
import { BodyBrokenError, BodyStalledError } from '../http/upload/client-stream';

export interface S3HandlerDeps extends S3Deps {
  verifier: SigV4Verifier;
  metrics: Metrics;
  /** One line per request. */
  accessLog: Logger;
  /** S3_DOMAIN: virtual-hosted-style requests name the bucket in Host (`bucket.domain`). */
  domain?: string;
  /** Caps requests storing bytes at once; past it they get SlowDown before any byte is read. */
  uploadSlots: UploadSlots;
}

export function createS3Handler(deps: S3HandlerDeps): RequestListener {
  return (req, res) => void handle(req, res, deps);
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: S3HandlerDeps): Promise<void> {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('Server', 'ringstore');
  let operation = 'Unknown';
  let target: RequestTarget | undefined;
  onRequestEnd(res, ({ seconds, status }) => {
    deps.metrics.s3Requests.inc({ operation, status: String(status) });
    deps.metrics.s3RequestDuration.observe({ operation }, seconds);
    const path = (target?.path ?? '').slice(0, 300);
    deps.accessLog.info(`S3 ${operation} ${req.method} ${path} ${status || 'no response'} ${(seconds * 1000).toFixed(1)} ms`, {
      event: 's3_request',
      operation,
      method: req.method,
      path,
      status,
      durationMs: Math.round(seconds * 10_000) / 10,
      requestId,
      remote: req.socket.remoteAddress,
    });
  });
  try {
    target = parseRequestTarget(req.url ?? '/', req.headers.host, deps.domain);
    const route = routeOf(req.method ?? 'GET', target, req.headers['x-amz-copy-source'] !== undefined);
    operation = route.name;
    const auth = deps.verifier.verify({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headersDistinct });
    if (target.bucket !== undefined) validateBucketName(target.bucket);
    if (target.key !== undefined) validateObjectKey(target.key);
    // Another key's bucket is AccessDenied for every operation on it; CreateBucket says whose it is.
    if (target.bucket !== undefined && route.name !== 'CreateBucket') {
      await deps.objects.access.check(auth.accessKeyId, target.bucket, route.name === 'DeleteBucket' ? 'delete' : 'use');
    }
    const release = route.stores ? deps.uploadSlots.acquire() : undefined;
    try {
      await route.run(new S3Context(req, res, target, auth, requestId), deps);
    } finally {
      release?.();
    }
  } catch (error) {
    sendError(req, res, deps, toS3Error(error), error, target, requestId);
  }
}

function sendError(req: IncomingMessage, res: ServerResponse, deps: S3HandlerDeps, s3: S3Error, cause: unknown, target: RequestTarget | undefined, requestId: string): void {
  if (s3.code === 'InternalError') deps.log.error(`S3 ${req.method} ${target?.path ?? ''} failed: ${(cause as Error)?.stack ?? String(cause)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  answerBeforeBody(req, res);
  // A body that stalled (RequestTimeout) or can never be whole ends its connection, as in the
  // file API: there is nothing more to drain, and a stalled client must not linger.
  if (cause instanceof BodyStalledError || cause instanceof BodyBrokenError) res.setHeader('Connection', 'close');
  if (s3.code === 'ServiceUnavailable' || s3.code === 'SlowDown') res.setHeader('Retry-After', '2');
  if (req.method === 'HEAD' || s3.status === 304) {
    res.writeHead(s3.status, { 'Content-Length': 0 });
    res.end();
    return;
  }
  const body = s3.toXml(target?.path ?? '/', requestId);
  res.writeHead(s3.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
