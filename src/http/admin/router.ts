import { Router } from 'express';
import type { MachineDescription } from '../../../machines/describe';
import type { ConnectionSnapshot, ConnectionSupervisor } from '../../connection/types';
import { createLogger, type Logger } from '../../util/logger';
import { loadDashboardPage } from './dashboard-page';
import { eventStream } from './event-stream';
import { loadServerViews, type ServerInfoSource } from './server-views';

export interface AdminRouterOptions {
  supervisor: ConnectionSupervisor;
  /** Every machine of the connection layer, described (machines/describe.ts). */
  machines: Record<'supervisor' | 'server' | 'connection' | 'breaker', MachineDescription>;
  /** Disk figures from the servers' last health checks, shown as a bar on each tile. */
  serverInfo?: ServerInfoSource;
  /** How often /events sends a heartbeat comment (default 15 s). */
  heartbeatMs?: number;
  log?: Logger;
}

export type AdminRouter = Router & {
  /** Ends every open /events stream; call before closing the HTTP server. */
  closeStreams(): void;
};

/**
 * The operator's view of the connection layer, mounted by the gateway at /admin:
 * GET /            live dashboard page
 * GET /connections JSON snapshot of every storage server connection
 * GET /events      Server-Sent Events: `snapshot` first, then every `transition`
 * GET /machines    the supervisor, server, connection and breaker machine descriptions (the page draws the last two)
 * GET /actors      the live actor tree: supervisor -> server -> connection and breaker
 */
export function createAdminRouter({
  supervisor,
  machines,
  serverInfo,
  heartbeatMs = 15_000,
  log = createLogger('admin'),
}: AdminRouterOptions): AdminRouter {
  const dashboardPage = loadDashboardPage();
  const router = Router();

  router.get('/', (req, res) => {
    res.type('html').set('Cache-Control', 'no-cache').send(dashboardPage(req.baseUrl));
  });

  router.get('/connections', async (_req, res) => {
    res.json({ servers: await loadServerViews(supervisor, serverInfo, log) });
  });

  const events = eventStream({ supervisor, serverInfo, heartbeatMs, log });
  router.get('/events', events.handler);

  router.get('/machines', (_req, res) => {
    res.json(machines);
  });

  router.get('/actors', (_req, res) => {
    res.json(actorTree(supervisor.snapshot()));
  });

  return Object.assign(router, { closeStreams: events.closeAll });
}

/** How the connection layer's actors nest, with each leaf's current state. */
function actorTree(servers: ConnectionSnapshot[]) {
  return {
    actor: 'supervisor',
    children: servers.map((server) => ({
      actor: 'server',
      id: server.serverId,
      address: server.address,
      children: [
        { actor: 'connection', state: server.state },
        { actor: 'breaker', state: server.breaker },
      ],
    })),
  };
}
