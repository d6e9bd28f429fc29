import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../observability/metrics';
import { onRequestEnd } from './request-end';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route pattern that handled a request ('/files/:id'), never the raw URL with its ids. */
function routeLabel(req: Request): string {
  const path: unknown = req.route?.path;
  if (typeof path !== 'string') return 'unmatched';
  return `${req.baseUrl}${path}` || '/';
}

/**
 * Counts every request by method, route pattern and status and times it. Recorded once, when the
 * response finishes or the client goes away (a dropped download is still a request).
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    onRequestEnd(res, ({ seconds, status }) => {
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';
      const route = routeLabel(req);
      metrics.httpRequests.inc({ method, route, status: String(status) });
      metrics.httpRequestDuration.observe({ method, route }, seconds);
    });
    next();
  };
}
