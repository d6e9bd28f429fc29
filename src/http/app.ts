import type { RequestListener } from 'node:http';
import express from 'express';
import type { Logger } from '../util/logger';
import { expressShapedClasses, type RequestClasses } from './express-shaped';
import { errorHandler, HttpError } from './http-error';
import { hotRouteDispatcher } from './hot-routes';
import { healthRoute, type HealthSource } from './routes/health';
import { jsonBody } from './json-body';
import type { FilesRoutes } from './routes/files';

/** Routers mounted by the gateway; each part brings its own. */
export interface GatewayRoutes {
  files: FilesRoutes;
  servers: express.Router;
  jobs: express.Router;
  /** Dashboard, connections, events (observability). */
  admin?: express.Router;
  metrics?: express.RequestHandler;
  /** Runs around every request (request metrics, auth...). */
  middleware?: express.RequestHandler[];
  /** Guards /metrics and /admin (ADMIN_TOKEN). /files guards each of its routes itself. */
  adminAuth?: express.RequestHandler;
  /** The files page for browsers (GET /files-page). */
  filesPage?: express.Router;
}

export interface AppDeps {
  health: HealthSource;
  log: Logger;
  routes: GatewayRoutes;
}

export interface GatewayApp {
  /** The request listener: the Express app, with a file's upload and download taken ahead of its router. */
  listener: RequestListener;
  /** For the server's options: requests and responses made with Express's prototypes (express-shaped.ts). */
  requestClasses: RequestClasses;
}

/** The gateway's HTTP app, and the request classes its server should make its objects with. */
export function createGatewayApp(deps: AppDeps): GatewayApp {
  const { routes } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const middleware = routes.middleware ?? [];
  for (const handler of middleware) app.use(handler);

  app.get('/health', healthRoute(deps.health, deps.log));

  const adminAuth = routes.adminAuth ? [routes.adminAuth] : [];
  if (routes.metrics) app.get('/metrics', ...adminAuth, routes.metrics);
  app.use('/files', routes.files.router);
  if (routes.filesPage) app.use('/files-page', routes.filesPage);
  const json = jsonBody('64kb');
  app.use('/admin/servers', ...adminAuth, json, routes.servers);
  app.use('/admin/jobs', ...adminAuth, json, routes.jobs);
  if (routes.admin) app.use('/admin', ...adminAuth, routes.admin);

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  const lastHandler = errorHandler(deps.log);
  app.use(lastHandler);
  const requestClasses = expressShapedClasses(app);
  const hot = hotRouteDispatcher({ app, middleware, mountPath: '/files', routes: routes.files.hot, errorHandler: lastHandler, madeWith: requestClasses });
  return {
    listener: (req, res) => {
      if (!hot(req, res)) app(req, res);
    },
    requestClasses,
  };
}
