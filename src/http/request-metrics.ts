import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../observability/metrics';
import { onRequestEnd } from './request-end';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const ROUTE_LABEL = Symbol('routeLabel');
type LabelledRequest = Request & { [ROUTE_LABEL]?: string };

/**
 * Records the full route pattern ('/files/:id') the moment a route matches. Express sets
 * req.route then, while req.baseUrl is still the router's mount path; a router that passes an
 * error on restores baseUrl to its parent's, so reading both when the response ends labelled
 * failures '/:id' and successes '/files/:id'.
 */
function watchRouteMatch(req: LabelledRequest): void {
  let route: unknown = req.route;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      // '/files' + '/' is the route people call '/files'.
      if (typeof value?.path === 'string') req[ROUTE_LABEL] = value.path === '/' ? req.baseUrl || '/' : `${req.baseUrl}${value.path}`;
    },
  });
}

/** Labels a request whose route is known before Express routes it (hot-routes.ts). */
export function labelRoute(req: Request, label: string): void {
  (req as LabelledRequest)[ROUTE_LABEL] = label;
}

/** The route pattern that handled a request ('/files/:id'), never the raw URL with its ids. */
function routeLabel(req: LabelledRequest): string {
  return req[ROUTE_LABEL] ?? 'unmatched';
}

/**
 * Counts every request by method, route pattern and status and times it. Recorded once, when the
 * response finishes or the client goes away (a dropped download is still a request).
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    if ((req as LabelledRequest)[ROUTE_LABEL] === undefined) watchRouteMatch(req);
    onRequestEnd(res, ({ seconds, status }) => {
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';
      const route = routeLabel(req);
      metrics.httpRequests.inc({ method, route, status: String(status) });
      metrics.httpRequestDuration.observe({ method, route }, seconds);
    });
    next();
  };
}
