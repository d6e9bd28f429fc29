import express, { type Express } from 'express';
import type { ConnectionSupervisor } from '../connection/types';
import type { Logger } from '../util/logger';
import type { MetadataStore } from '../metadata/types';
import { errorHandler, HttpError } from './http-error';
import type { Placement } from '../replicas/placement';

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
  /** Guards /metrics and /admin (ADMIN_TOKEN). */
  adminAuth?: express.RequestHandler;
  /** Guards /files (API_TOKENS). */
  filesAuth?: express.RequestHandler;
}

export interface AppDeps {
  store: MetadataStore;
  supervisor: ConnectionSupervisor;
  placement: Placement;
  log: Logger;
  routes: GatewayRoutes;
  startedAt: number;
}

export function createGatewayApp(deps: AppDeps): Express {
  const { routes } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const middleware of routes.middleware ?? []) app.use(middleware);

  app.get('/health', async (_req, res) => {
    const ready = deps.supervisor.readyServerIds().length;
    const known = deps.supervisor.snapshot().length;
    let database = 'connected';
    try {
      await deps.store.ping();
    } catch (error) {
      database = 'unavailable';
      deps.log.warn(`Health: metadata database unavailable: ${(error as Error).message}`);
    }
    const healthy = database === 'connected' && ready > 0 && ready === known;
    res.status(database === 'connected' ? 200 : 503).json({
      status: healthy ? 'healthy' : database === 'connected' ? 'degraded' : 'unhealthy',
      database,
      metadata_backend: deps.store.kind,
      storage_servers: ready,
      storage_servers_known: known,
      replication_factor: deps.placement.wantedReplicas(),
      uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
    });
  });

  const adminAuth = routes.adminAuth ? [routes.adminAuth] : [];
  if (routes.metrics) app.get('/metrics', ...adminAuth, routes.metrics);
  app.use('/files', ...(routes.filesAuth ? [routes.filesAuth] : []), routes.files);
  const json = express.json({ limit: '64kb' });
  app.use('/admin/servers', ...adminAuth, json, routes.servers);
  app.use('/admin/jobs', ...adminAuth, json, routes.jobs);
  if (routes.admin) app.use('/admin', ...adminAuth, routes.admin);

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
