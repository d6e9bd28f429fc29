import type { Request, RequestHandler } from 'express';
import type { Logger } from '../util/logger';
import { onRequestEnd } from './request-end';

/**
 * Requests that come by the hundred without a person behind them: health checks (load
 * balancers, `docker compose`, monitoring) and storage servers' heartbeats. Logged at debug
 * unless they fail, so they do not bury the requests people make.
 */
function isRoutine(req: Request): boolean {
  if (req.method === 'GET') return req.path === '/health';
  // The prefix first: most POSTs are uploads, and the path is cut out only for a heartbeat.
  return req.method === 'POST' && req.originalUrl.startsWith('/admin/servers') && req.originalUrl.split('?')[0].replace(/\/+$/, '') === '/admin/servers';
}

/**
 * One line per request once it is answered (or the client left): method, path, status and
 * duration. Only the request line is logged, never headers, so tokens in
 * Authorization never reach the log.
 */
export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    onRequestEnd(res, ({ seconds, status }) => {
      // LOG_LEVEL=warn (or higher): neither level is on (debug is below info), so nothing is
      // worked out, not even whether the request is a routine one.
      if (!log.isLevelEnabled('info')) return;
      const level = status > 0 && status < 400 && isRoutine(req) ? 'debug' : 'info';
      if (!log.isLevelEnabled(level)) return; // LOG_LEVEL=info: routine requests are not logged
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
