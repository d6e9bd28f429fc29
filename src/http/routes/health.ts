import type { RequestHandler } from 'express';
import { errorMessage } from '../../util/error-message';
import type { Logger } from '../../util/logger';

/** What /health reports on, gathered by the composition root from the layers that know. */
export interface HealthSource {
  /** 'postgres' or 'pglite'. */
  metadataBackend: string;
  /** Throws when the metadata database cannot be reached. */
  pingMetadata(): Promise<void>;
  /** Storage servers taking traffic (connection Ready, breaker admitting). */
  readyServers(): number;
  /** Storage servers in the ring. */
  knownServers(): number;
  /** Copies each chunk gets: the replication factor, capped by the servers in the ring. */
  replicationFactor(): number;
  startedAt: number;
}

/** GET /health: 200 healthy or degraded while the metadata database answers, 503 when it does not. */
export function healthRoute(source: HealthSource, log: Logger): RequestHandler {
  return async (_req, res) => {
    const ready = source.readyServers();
    const known = source.knownServers();
    let database = 'connected';
    try {
      await source.pingMetadata();
    } catch (error) {
      database = 'unavailable';
      log.warn(`Health: metadata database unavailable: ${errorMessage(error)}`);
    }
    const healthy = database === 'connected' && ready > 0 && ready === known;
    res.status(database === 'connected' ? 200 : 503).json({
      status: healthy ? 'healthy' : database === 'connected' ? 'degraded' : 'unhealthy',
      database,
      metadata_backend: source.metadataBackend,
      storage_servers: ready,
      storage_servers_known: known,
      replication_factor: source.replicationFactor(),
      uptime_seconds: Math.round((Date.now() - source.startedAt) / 1000),
    });
  };
}
