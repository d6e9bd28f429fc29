import type { Request, RequestHandler } from 'express';
import type { Metrics } from './metrics';

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
    const startedAt = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';
      const route = routeLabel(req);
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      // A client that left before any response shows as status 0 rather than a made-up code.
      const status = res.headersSent ? String(res.statusCode) : '0';
      metrics.httpRequests.inc({ method, route, status });
      metrics.httpRequestDuration.observe({ method, route }, seconds);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}
