import type { ErrorRequestHandler, Response } from 'express';
import { answerBeforeBody } from './discard-body';
import { DomainError, type FailureKind } from '../util/domain-error';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';

/** An error that becomes a JSON `{error, ...details}` response with its status code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The file API's answer to each kind of domain failure. */
const STATUS_BY_KIND: Record<FailureKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
  busy: 503,
};

/**
 * The HTTP answer to an error thrown below the HTTP layer: domain errors by their kind (with
 * `extra` details), HttpErrors as they are; undefined for anything else, which is a bug.
 */
export function toHttpError(error: unknown, extra: Record<string, unknown> = {}): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (!(error instanceof DomainError)) return undefined;
  const headers: Record<string, string> = error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
  return new HttpError(STATUS_BY_KIND[error.kind], error.publicMessage, { ...error.details, ...extra }, headers);
}

export function sendError(res: Response, error: HttpError): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  if (res.req) answerBeforeBody(res.req, res);
  res.set(error.headers).status(error.status).json({ error: error.message, ...error.details });
}

/**
 * Last express error handler: HttpErrors as they are, domain errors by their kind (logged when
 * the system, not the client, is at fault), anything else a logged 500, never hidden.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const mapped = toHttpError(error);
    if (mapped) {
      if (error instanceof DomainError && (error.kind === 'unavailable' || error.kind === 'busy')) {
        log.warn(`${req.method} ${req.path} answered ${mapped.status}: ${error.message}`);
      }
      sendError(res, mapped);
      return;
    }
    // body-parser style errors carry a status (e.g. malformed JSON -> 400).
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) log.error(`Unhandled error on ${req.method} ${req.path}: ${error?.stack ?? errorMessage(error)}`);
    sendError(res, new HttpError(status, status === 500 ? 'internal server error' : String(error.message ?? 'bad request')));
  };
}
