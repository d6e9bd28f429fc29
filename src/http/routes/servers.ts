import { Router } from 'express';
import type { ConnectionSupervisor } from '../../connection/types';
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

/** POST /admin/servers (join and heartbeat of storage servers) and GET /admin/servers. */
export function createServersRouter(registry: ServerDirectory, supervisor: ConnectionSupervisor): Router {
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

  router.get('/', (_req, res) => {
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
      })),
    });
  });

  return router;
}

function optionalCount(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new HttpError(400, `${name} must be a non-negative whole number`);
  }
  return value;
}
