import type { RequestListener } from 'node:http';
import express from 'express';
import type { Logger } from '../util/logger';
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

/** The gateway's request listener: the Express app, with a file's upload and download taken ahead of its router. */
export function createGatewayApp(deps: AppDeps): RequestListener {
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
  const hot = hotRouteDispatcher({ app, middleware, mountPath: '/files', routes: routes.files.hot, errorHandler: lastHandler });
  return (req, res) => {
    if (!hot(req, res)) app(req, res);
  };
}
