import express, { type Express } from 'express';
import type { Logger } from '../util/logger';
import { errorHandler, HttpError } from './http-error';
import { healthRoute, type HealthSource } from './routes/health';
import { jsonBody } from './json-body';

/** Routers mounted by the gateway; each part brings its own. */
export interface GatewayRoutes {
  files: express.Router;
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

export function createGatewayApp(deps: AppDeps): Express {
  const { routes } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const middleware of routes.middleware ?? []) app.use(middleware);

  app.get('/health', healthRoute(deps.health, deps.log));

  const adminAuth = routes.adminAuth ? [routes.adminAuth] : [];
  if (routes.metrics) app.get('/metrics', ...adminAuth, routes.metrics);
  app.use('/files', routes.files);
  if (routes.filesPage) app.use('/files-page', routes.filesPage);
  const json = jsonBody('64kb');
  app.use('/admin/servers', ...adminAuth, json, routes.servers);
  app.use('/admin/jobs', ...adminAuth, json, routes.jobs);
  if (routes.admin) app.use('/admin', ...adminAuth, routes.admin);

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
