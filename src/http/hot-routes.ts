import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { RequestClasses } from './express-shaped';
import { labelRoute } from './request-metrics';

/**
 * A route that takes most of the traffic (a file's upload and download), taken ahead of
 * Express's router: a 4 KiB upload spent ~7 % of the gateway's CPU in matching the router's
 * layers one after the other (the middleware, then each mounted router and route).
 */
export interface HotRoute {
  method: 'GET' | 'POST';
  /** Under the mount path: '/' (the mount path itself) or '/:id' (one segment). */
  path: '/' | '/:id';
  /** The route's handlers, as Express runs them (guard first). */
  handlers: RequestHandler[];
}

/** One path segment the fast path takes as it is: what a file id is spelled with, nothing to decode. */
const PLAIN_SEGMENT = /^[0-9A-Za-z-]{1,64}$/;

export interface HotRouteDeps {
  app: Express;
  /** Run around every request first, as app.use() runs them. */
  middleware: readonly RequestHandler[];
  /** Where the routes' router is mounted, e.g. '/files'. */
  mountPath: string;
  routes: readonly HotRoute[];
  /** The app's last handler, which answers every error. */
  errorHandler: ErrorRequestHandler;
  /**
   * The classes the server makes its requests and responses with, when they have Express's
   * prototypes already (express-shaped.ts): such objects are taken as they are.
   */
  madeWith?: RequestClasses;
}

/**
 * Takes a request for one of the hot routes, spelled the one plain way ('/files',
 * '/files/<id>', any query), and runs the same middleware, handlers and error handler as
 * Express would, in the same order, with the same req and res (Express's prototypes, params,
 * baseUrl, the metrics route label): so headers, errors and logs are the same. Returns false
 * for every other request, which Express then routes as before (and so any other spelling of
 * these routes too: a trailing slash, another case, escapes).
 */
export function hotRouteDispatcher(deps: HotRouteDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { app, mountPath } = deps;
  const shapedRequest: object | undefined = deps.madeWith?.IncomingMessage.prototype;
  const shapedResponse: object | undefined = deps.madeWith?.ServerResponse.prototype;
  // Per route, made once: what runs (middleware, then the route's handlers) and its metrics label.
  const byMethod = new Map(deps.routes.map((route) => [`${route.method} ${route.path}`, {
    handlers: [...deps.middleware, ...route.handlers],
    label: route.path === '/' ? mountPath : `${mountPath}${route.path}`,
  }]));
  return (incoming, response) => {
    const url = incoming.url ?? '';
    if (!url.startsWith(mountPath)) return false;
    const queryAt = url.indexOf('?');
    const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
    let path: HotRoute['path'];
    let params: Record<string, string>;
    if (pathname.length === mountPath.length) {
      path = '/';
      params = {};
    } else {
      const segment = pathname.slice(mountPath.length + 1);
      if (pathname[mountPath.length] !== '/' || !PLAIN_SEGMENT.test(segment)) return false;
      path = '/:id';
      params = { id: segment };
    }
    const route = byMethod.get(`${incoming.method} ${path}`);
    if (!route) return false;
    // What Express's app.handle and its routers set up before a route's handlers run. Objects
    // the server made with Express's prototypes keep them: changing a prototype is slow.
    const req = (Object.getPrototypeOf(incoming) === shapedRequest ? incoming : Object.setPrototypeOf(incoming, app.request)) as Request;
    const res = (Object.getPrototypeOf(response) === shapedResponse ? response : Object.setPrototypeOf(response, app.response)) as Response;
    req.res = res;
    res.req = req;
    res.locals ??= Object.create(null) as Response['locals'];
    if (app.enabled('x-powered-by')) res.setHeader('X-Powered-By', 'Express');
    req.originalUrl = url;
    req.baseUrl = mountPath;
    req.params = params;
    labelRoute(req, route.label);
    runHandlers(route.handlers, req, res, (error) => {
      req.baseUrl = '';
      deps.errorHandler(error ?? new Error(`${req.method} ${pathname}: the route's handlers passed the request on unanswered`), req, res, unexpectedNext);
    });
    return true;
  };
}

/**
 * Runs handlers in turn, each one's next() starting the next one, as Express does: an error
 * passed to next(), thrown, or rejected by an async handler ends the run with that error.
 */
function runHandlers(handlers: readonly RequestHandler[], req: Request, res: Response, done: (error?: unknown) => void): void {
  let index = 0;
  const next: NextFunction = (error?: unknown) => {
    if (error) return done(error);
    const handler = handlers[index++];
    if (!handler) return done();
    try {
      const result: unknown = handler(req, res, next);
      if (result instanceof Promise) result.catch((reason: unknown) => next(reason || new Error('Rejected promise')));
    } catch (thrown) {
      next(thrown);
    }
  };
  next();
}

/** The error handler answers every error itself and never calls next. */
function unexpectedNext(): void {}
