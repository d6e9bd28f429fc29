import type { RequestHandler } from 'express';
import type { Logger } from '../util/logger';
import { onRequestEnd } from './request-end';

/**
 * One line per request once it is answered (or the client left): method, path, status and
 * duration. Only the request line is logged, never headers, so tokens in
 * Authorization never reach the log.
 */
export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    onRequestEnd(res, ({ seconds, status }) => {
      if (!log.isLevelEnabled('info')) return; // LOG_LEVEL=warn: not even the line is built
      const ms = seconds * 1000;
      const path = req.originalUrl.length > 300 ? `${req.originalUrl.slice(0, 300)}...` : req.originalUrl;
      log.info(`${req.method} ${path} ${status || 'no response'} ${ms.toFixed(1)} ms`, {
        event: 'http_request',
        method: req.method,
        path,
        status,
        durationMs: Math.round(ms * 10) / 10,
        remote: req.socket.remoteAddress,
      });
    });
    next();
  };
}
