import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BREAKER_STATES } from '../../machines/breaker';
import { CONNECTION_STATES } from '../../machines/connection';
import type { ConnectionSnapshot, ConnectionSupervisor } from '../connection/types';

/**
 * Every Prometheus instrument ringstore exposes, on a registry of its own (never the global one,
 * so several gateways in one test process do not collide). Labels are bounded: server ids,
 * states, routes, outcomes — never file or chunk ids.
 */

/** Buckets for reconnects: a restart takes about a second, a backoff can take minutes. */
const RECONNECT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
/** Buckets for one health probe or one HTTP request. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the state gauges read at scrape time. */
export type ConnectionSource = Pick<ConnectionSupervisor, 'snapshot' | 'readyServerIds'>;

/** Chunks drain and rebalance have left to move, read at scrape time. */
export type MovesSource = () => Promise<{ drain: number; rebalance: number }>;

/** One storage server's figures for the per-server gauges. */
export interface ServerFigures {
  serverId: string;
  address: string;
  membership: string;
  /** Chunk replicas ringstore recorded on it, and their bytes: its own disk use, not the host's. */
  chunksHeld: number;
  bytesHeld: number;
  /** The host filesystem's figures from its last heartbeat, when it sent them. */
  availableSpace?: number;
  totalSpace?: number;
}

/** The per-server figures, read at scrape time. */
export type ServersSource = () => Promise<ServerFigures[]>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ringstore_' });

  // State gauges are read from the supervisor at scrape time, so they are always exact and servers
  // retired from the ring disappear instead of leaving stale series behind.
  let connectionSource: ConnectionSource | undefined;
  const connections = () => connectionSource?.snapshot() ?? [];
  let movesSource: MovesSource | undefined;
  let serversSource: ServersSource | undefined;
  // Every per-server gauge reads the same figures: one read per scrape, shared by all of them.
  let serversRead: { at: number; figures: Promise<ServerFigures[] | undefined> } | undefined;
  const serverFigures = (): Promise<ServerFigures[] | undefined> => {
    const now = Date.now();
    if (!serversRead || now - serversRead.at > 1000) {
      serversRead = { at: now, figures: serversSource?.().catch(() => undefined) ?? Promise.resolve(undefined) };
    }
    return serversRead.figures;
  };
  /** A per-server gauge: cleared and refilled at scrape time, so servers that left disappear. */
  const perServer = (name: string, help: string, value: (server: ServerFigures) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['server_id'] as const,
      registers,
      async collect() {
        const figures = await serverFigures();
        if (!figures) return; // a metadata outage keeps the last figures rather than failing the scrape
        this.reset();
        for (const server of figures) {
          const v = value(server);
          if (v !== undefined) this.set({ server_id: server.serverId }, v);
        }
      },
    });

  /** A state gauge per storage server: 1 for the state `stateOf` reads, 0 for the others. */
  const perServerState = <S extends string>(name: string, help: string, states: readonly S[], stateOf: (server: ConnectionSnapshot) => S) =>
    new Gauge({
      name,
      help,
      labelNames: ['server_id', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const server of connections()) {
          for (const state of states) this.set({ server_id: server.serverId, state }, stateOf(server) === state ? 1 : 0);
        }
      },
    });

  const registers = [registry];
  const metrics = {
    registry,

    connectionState: perServerState(
      'ringstore_connection_state',
      'Connection state per storage server: 1 for the current state, 0 for the others',
      CONNECTION_STATES,
      (server) => server.state,
    ),
    connectionTransitions: new Counter({
      name: 'ringstore_connection_transitions_total',
      help: 'Connection state transitions per storage server',
      labelNames: ['server_id', 'from', 'to'] as const,
      registers,
    }),
    reconnectAttempts: new Counter({
      name: 'ringstore_reconnect_attempts_total',
      help: 'Connection attempts seen as state changes: entering Connecting (a server\'s first dial starts there and is not counted), or TransientFailure -> Ready; grpc-js retries inside TransientFailure are not seen, and a connect timeout that rebuilds a channel still Connecting is not counted',
      labelNames: ['server_id'] as const,
      registers,
    }),
    reconnectFailures: new Counter({
      name: 'ringstore_reconnect_failures_total',
      help: 'Connection attempts that ended in TransientFailure',
      labelNames: ['server_id'] as const,
      registers,
    }),
    reconnectDuration: new Histogram({
      name: 'ringstore_reconnect_duration_seconds',
      help: 'Time from a connection leaving Ready until it is Ready again',
      labelNames: ['server_id'] as const,
      buckets: RECONNECT_BUCKETS,
      registers,
    }),
    breakerState: perServerState(
      'ringstore_breaker_state',
      'Circuit breaker state per storage server: 1 for the current state, 0 for the others',
      BREAKER_STATES,
      (server) => server.breaker,
    ),
    breakerOpens: new Counter({
      name: 'ringstore_breaker_opens_total',
      help: 'Times the circuit breaker of a storage server opened',
      labelNames: ['server_id'] as const,
      registers,
    }),
    healthProbeDuration: new Histogram({
      name: 'ringstore_health_probe_duration_seconds',
      help: 'Duration of one health probe of a storage server; outcome answered or failed (a timeout lasts PROBE_TIMEOUT_MS)',
      labelNames: ['server_id', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storageServersReady: new Gauge({
      name: 'ringstore_storage_servers_ready',
      help: 'Storage servers that take traffic: connection Ready and breaker admitting (as /health counts)',
      registers,
      collect() {
        this.set(connectionSource?.readyServerIds().length ?? 0);
      },
    }),

    httpRequests: new Counter({
      name: 'ringstore_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: 'ringstore_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    s3Requests: new Counter({
      name: 'ringstore_s3_requests_total',
      help: 'S3 API requests by operation (ListObjectsV2, PutObject...) and status',
      labelNames: ['operation', 'status'] as const,
      registers,
    }),
    s3RequestDuration: new Histogram({
      name: 'ringstore_s3_request_duration_seconds',
      help: 'S3 API request duration by operation',
      labelNames: ['operation'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    bytesUploaded: new Counter({
      name: 'ringstore_bytes_uploaded_total',
      help: 'File bytes received from clients',
      registers,
    }),
    bytesDownloaded: new Counter({
      name: 'ringstore_bytes_downloaded_total',
      help: 'File bytes sent to clients',
      registers,
    }),
    chunkOperations: new Counter({
      name: 'ringstore_chunk_operations_total',
      help: 'Chunk operations against storage servers by operation (put, get, delete) and outcome',
      labelNames: ['op', 'outcome'] as const,
      registers,
    }),
    chunkRetries: new Counter({
      name: 'ringstore_chunk_retries_total',
      help: 'Chunk operations retried on another replica or after a reconnect',
      labelNames: ['op'] as const,
      registers,
    }),
    jobRuns: new Counter({
      name: 'ringstore_job_runs_total',
      help: 'Background job runs (cleanup, repair, scrub) by outcome',
      labelNames: ['job', 'outcome'] as const,
      registers,
    }),
    jobItems: new Counter({
      name: 'ringstore_job_items_total',
      help: 'Items background jobs acted on, by action (deleted, repaired, ...)',
      labelNames: ['job', 'action'] as const,
      registers,
    }),
    chunksUnderReplicated: new Gauge({
      name: 'ringstore_chunks_under_replicated',
      help: 'Chunks below the wanted healthy replicas as of the end of the last repair run',
      registers,
    }),
    repairBytesCopied: new Counter({
      name: 'ringstore_repair_bytes_copied_total',
      help: 'Chunk bytes repair copied from a healthy replica to another storage server',
      registers,
    }),
    filesTotal: new Gauge({
      name: 'ringstore_files_total',
      help: 'Files stored, as last counted by the gateway',
      registers,
    }),

    // Cluster changes: drain and rebalance (src/jobs/cluster-changes.ts).
    movedBytes: new Counter({
      name: 'ringstore_moved_bytes_total',
      help: 'Chunk bytes drain and rebalance copied to another storage server',
      labelNames: ['job'] as const,
      registers,
    }),
    movedChunks: new Counter({
      name: 'ringstore_moved_chunks_total',
      help: 'Replicas drain and rebalance moved to another server (moved) or could not move in a run (failed)',
      labelNames: ['job', 'outcome'] as const,
      registers,
    }),
    chunksToMove: new Gauge({
      name: 'ringstore_chunks_to_move',
      help: 'Chunks left to move: replicas on draining servers (drain); an estimate from the bytes outside the band, over the mean chunk size (rebalance)',
      labelNames: ['job'] as const,
      registers,
      async collect() {
        // Read at scrape time; a metadata outage keeps the last figures rather than failing the scrape.
        const left = await movesSource?.().catch(() => undefined);
        if (!left) return;
        this.set({ job: 'drain' }, left.drain);
        this.set({ job: 'rebalance' }, left.rebalance);
      },
    }),

    // Per storage server. Only the info gauge carries the address (the Prometheus "info" pattern:
    // join on server_id), so an address change does not split every other series.
    storageServerInfo: new Gauge({
      name: 'ringstore_storage_server_info',
      help: 'Always 1, per storage server: its address and membership (active, draining, drained, removed)',
      labelNames: ['server_id', 'address', 'membership'] as const,
      registers,
      async collect() {
        const figures = await serverFigures();
        if (!figures) return;
        this.reset();
        for (const server of figures) {
          this.set({ server_id: server.serverId, address: server.address, membership: server.membership }, 1);
        }
      },
    }),
    storageServerBytesHeld: perServer('ringstore_storage_server_bytes_held', 'Bytes of the chunk replicas ringstore recorded on each storage server (its own disk use)', (s) => s.bytesHeld),
    storageServerChunksHeld: perServer('ringstore_storage_server_chunks_held', 'Chunk replicas ringstore recorded on each storage server', (s) => s.chunksHeld),
    storageServerAvailableBytes: perServer('ringstore_storage_server_available_bytes', 'Free bytes on the filesystem of each storage server, from its last heartbeat', (s) => s.availableSpace),
    storageServerCapacityBytes: perServer('ringstore_storage_server_capacity_bytes', 'Size of the filesystem of each storage server, from its last heartbeat', (s) => s.totalSpace),
    /** Where the per-server gauges read from at scrape time (the cluster changes set it). */
    setServersSource(source: ServersSource | undefined): void {
      serversSource = source;
      serversRead = undefined;
    },

    /** Where ringstore_chunks_to_move reads from at scrape time (the cluster changes set it). */
    setMovesSource(source: MovesSource | undefined): void {
      movesSource = source;
    },

    /** Where the state gauges read the supervisor from at scrape time (bindConnectionMetrics sets it). */
    setConnectionSource(source: ConnectionSource | undefined): void {
      connectionSource = source;
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

export { bindConnectionMetrics } from './connection-metrics';
