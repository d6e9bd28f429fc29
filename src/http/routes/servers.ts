import { Router } from 'express';
import type { ConnectionSupervisor } from '../../connection/types';
import type { ClusterAdmin, MoveRunView, ServerHolding } from '../../jobs/cluster-changes';
import type { ServerRecord } from '../../metadata/types';
import { HttpError } from '../http-error';

/** The cluster's storage servers as the routes see them (the replica layer's registry). */
export interface ServerDirectory {
  /** A join or heartbeat. */
  join(request: { id: string; address: string; availableSpace?: number; totalSpace?: number }): Promise<void>;
  /** Every known server and whether it counts as live (recent heartbeat). */
  list(): Array<ServerRecord & { live: boolean }>;
  /** The servers new chunks are placed on. */
  ringServerIds(): ReadonlySet<string>;
}

const SERVER_ID = /^[A-Za-z0-9._-]{1,128}$/;
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/**
 * /admin/servers: joins and heartbeats of storage servers (POST /), the list with what each
 * holds (GET /), and an operator's cluster changes: POST /:server/drain, POST /:server/undrain,
 * DELETE /:server (?force=true), POST /rebalance. :server is a server id or its address.
 */
export function createServersRouter(registry: ServerDirectory, supervisor: ConnectionSupervisor, cluster: ClusterAdmin): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const id = body.server_id;
    const address = body.address;
    if (typeof id !== 'string' || !SERVER_ID.test(id)) {
      throw new HttpError(400, 'server_id must be 1-128 characters of letters, digits, ".", "_" or "-"');
    }
    const port = typeof address === 'string' ? ADDRESS.exec(address)?.[2] : undefined;
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      throw new HttpError(400, 'address must be host:port with a port between 1 and 65535');
    }
    await registry.join({
      id,
      address: address as string,
      availableSpace: optionalCount(body.available_space, 'available_space'),
      totalSpace: optionalCount(body.total_space, 'total_space'),
    });
    res.json({ status: 'ok', server_id: id, ring_size: registry.ringServerIds().size });
  });

  router.get('/', async (_req, res) => {
    const holdings = await cluster.holdings();
    const states = new Map(supervisor.snapshot().map((s) => [s.serverId, s]));
    res.json({
      servers: registry.list().map((server) => ({
        server_id: server.id,
        address: server.address,
        live: server.live,
        in_ring: registry.ringServerIds().has(server.id),
        state: states.get(server.id)?.state ?? null,
        breaker: states.get(server.id)?.breaker ?? null,
        joined_at: server.joinedAt.toISOString(),
        last_heartbeat_at: server.lastHeartbeatAt.toISOString(),
        available_space: server.availableSpace,
        total_space: server.totalSpace,
        ...membershipJson(server),
        ...holdingJson(holdings.servers.get(server.id)),
      })),
      balance: {
        band_percent: holdings.balance.bandPercent,
        balanced: holdings.balance.balanced,
        servers_outside_band: holdings.balance.serversOutsideBand,
        bytes_to_move: holdings.balance.bytesToMove,
      },
      drain: runJson(holdings.runs.drain),
      rebalance: runJson(holdings.runs.rebalance),
    });
  });

  router.post('/rebalance', async (_req, res) => {
    const start = await cluster.rebalance();
    if (start.state === 'busy') {
      throw new HttpError(409, 'a drain or another rebalance is moving chunks (on this gateway or another); try again once it ends');
    }
    if (start.state === 'started') res.status(202).json({ rebalance: 'started' });
    else res.json({ rebalance: 'finished', report: start.report });
  });

  router.post('/:server/drain', async (req, res) => {
    res.json(membershipJson(await cluster.drain(serverParam(req.params.server))));
  });

  router.post('/:server/undrain', async (req, res) => {
    res.json(membershipJson(await cluster.undrain(serverParam(req.params.server))));
  });

  router.delete('/:server', async (req, res) => {
    const force = req.query.force === 'true' || req.query.force === '1';
    const removal = await cluster.remove(serverParam(req.params.server), force);
    res.json({
      server_id: removal.serverId,
      membership: 'removed',
      chunks: removal.chunks,
      replicas_dropped: removal.replicasDropped,
      chunks_only_there: removal.chunksOnlyThere,
      pending_deletes_dropped: removal.pendingDeletesDropped,
    });
  });

  return router;
}

function serverParam(value: string | undefined): string {
  if (value !== undefined && (SERVER_ID.test(value) || ADDRESS.test(value))) return value;
  throw new HttpError(400, 'name the server by its id or its address (host:port)');
}

function membershipJson(server: ServerRecord): Record<string, unknown> {
  return {
    server_id: server.id,
    address: server.address,
    membership: server.membership,
    membership_changed_at: server.membershipChangedAt?.toISOString() ?? null,
  };
}

function holdingJson(holding: ServerHolding | undefined): Record<string, unknown> {
  const drain = holding?.drain;
  return {
    chunks: holding?.chunks ?? 0,
    bytes: holding?.bytes ?? 0,
    copies_to_delete: holding?.copiesToDelete ?? 0,
    target_bytes: holding?.targetBytes ?? null,
    deviation_percent: holding?.deviationPercent ?? null,
    drain: drain
      ? {
          started_at: drain.startedAt?.toISOString() ?? null,
          chunks_total: drain.chunksTotal,
          bytes_total: drain.bytesTotal,
          chunks_left: drain.chunksLeft,
          bytes_left: drain.bytesLeft,
          percent_done: drain.percentDone,
        }
      : null,
  };
}

function runJson(run: MoveRunView | null): Record<string, unknown> | null {
  if (!run) return null;
  return {
    running: run.running,
    gateway_id: run.gatewayId,
    started_at: run.startedAt.toISOString(),
    updated_at: run.updatedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    outcome: run.outcome,
    report: run.report,
  };
}

function optionalCount(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new HttpError(400, `${name} must be a non-negative whole number`);
  }
  return value;
}
