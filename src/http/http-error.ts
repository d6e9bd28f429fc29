import type { ErrorRequestHandler, Response } from 'express';
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

export function sendError(res: Response, error: HttpError): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  res.set(error.headers).status(error.status).json({ error: error.message, ...error.details });
}

/** Last express error handler: HttpErrors as they are, anything else a logged 500. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (error instanceof HttpError) {
      sendError(res, error);
      return;
    }
    // body-parser style errors carry a status (e.g. malformed JSON -> 400).
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) log.error(`Unhandled error on ${req.method} ${req.path}: ${error?.stack ?? error}`);
    sendError(res, new HttpError(status, status === 500 ? 'internal server error' : String(error.message ?? 'bad request')));
  };
}
