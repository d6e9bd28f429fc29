import type { Request, RequestHandler } from 'express';
import type { Logger } from '../util/logger';
import { onRequestEnd } from './request-end';

/**
 * Requests that come by the hundred without a person behind them: health checks (load
 * balancers, `docker compose`, monitoring) and storage servers' heartbeats. Logged at debug
 * unless they fail, so they do not bury the requests people make.
 */
function isRoutine(req: Request): boolean {
  return (req.method === 'GET' && req.path === '/health') || (req.method === 'POST' && req.originalUrl.split('?')[0].replace(/\/+$/, '') === '/admin/servers');
}

/**
 * One line per request once it is answered (or the client left): method, path, status and
 * duration. Only the request line is logged, never headers, so tokens in
 * Authorization never reach the log.
 */
export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    onRequestEnd(res, ({ seconds, status }) => {
      const level = isRoutine(req) && status > 0 && status < 400 ? 'debug' : 'info';
      if (!log.isLevelEnabled(level)) return; // LOG_LEVEL=warn: not even the line is built
      const ms = seconds * 1000;
      const path = req.originalUrl.length > 300 ? `${req.originalUrl.slice(0, 300)}...` : req.originalUrl;
      log.log(level, `${req.method} ${path} ${status || 'no response'} ${ms.toFixed(1)} ms`, {
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
