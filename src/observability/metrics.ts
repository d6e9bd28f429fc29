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
  // The instruments without a scrape-time reading: only what tells them apart is spelt out.
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });

  const metrics = {
    registry,

    connectionState: perServerState(
      'ringstore_connection_state',
      'Connection state per storage server: 1 for the current state, 0 for the others',
      CONNECTION_STATES,
      (server) => server.state,
    ),
    connectionTransitions: counter(
      'ringstore_connection_transitions_total',
      'Connection state transitions per storage server',
      ['server_id', 'from', 'to'],
    ),
    reconnectAttempts: counter(
      'ringstore_reconnect_attempts_total',
      'Connection attempts seen as state changes: entering Connecting (a server\'s first dial starts there and is not counted), or TransientFailure -> Ready; grpc-js retries inside TransientFailure are not seen, and a connect timeout that rebuilds a channel still Connecting is not counted',
      ['server_id'],
    ),
    reconnectFailures: counter('ringstore_reconnect_failures_total', 'Connection attempts that ended in TransientFailure', ['server_id']),
    reconnectDuration: histogram(
      'ringstore_reconnect_duration_seconds',
      'Time from a connection leaving Ready until it is Ready again',
      ['server_id'],
      RECONNECT_BUCKETS,
    ),
    breakerState: perServerState(
      'ringstore_breaker_state',
      'Circuit breaker state per storage server: 1 for the current state, 0 for the others',
      BREAKER_STATES,
      (server) => server.breaker,
    ),
    breakerOpens: counter('ringstore_breaker_opens_total', 'Times the circuit breaker of a storage server opened', ['server_id']),
    healthProbeDuration: histogram(
      'ringstore_health_probe_duration_seconds',
      'Duration of one health probe of a storage server; outcome answered or failed (a timeout lasts PROBE_TIMEOUT_MS)',
      ['server_id', 'outcome'],
      LATENCY_BUCKETS,
    ),
    storageServersReady: new Gauge({
      name: 'ringstore_storage_servers_ready',
      help: 'Storage servers that take traffic: connection Ready and breaker admitting (as /health counts)',
      registers,
      collect() {
        this.set(connectionSource?.readyServerIds().length ?? 0);
      },
    }),

    httpRequests: counter('ringstore_http_requests_total', 'HTTP requests by method, route pattern and status', ['method', 'route', 'status']),
    httpRequestDuration: histogram(
      'ringstore_http_request_duration_seconds',
      'HTTP request duration by method and route pattern',
      ['method', 'route'],
      LATENCY_BUCKETS,
    ),
    s3Requests: counter(
      'ringstore_s3_requests_total',
      'S3 API requests by operation (ListObjectsV2, PutObject...) and status',
      ['operation', 'status'],
    ),
    s3RequestDuration: histogram('ringstore_s3_request_duration_seconds', 'S3 API request duration by operation', ['operation'], LATENCY_BUCKETS),
    bytesUploaded: counter('ringstore_bytes_uploaded_total', 'File bytes received from clients'),
    bytesDownloaded: counter('ringstore_bytes_downloaded_total', 'File bytes sent to clients'),
    chunkOperations: counter(
      'ringstore_chunk_operations_total',
      'Chunk operations against storage servers by operation (put, get, delete) and outcome',
      ['op', 'outcome'],
    ),
    chunkRetries: counter('ringstore_chunk_retries_total', 'Chunk operations retried on another replica or after a reconnect', ['op']),
    jobRuns: counter('ringstore_job_runs_total', 'Background job runs (cleanup, repair, scrub) by outcome', ['job', 'outcome']),
    jobItems: counter('ringstore_job_items_total', 'Items background jobs acted on, by action (deleted, repaired, ...)', ['job', 'action']),
    chunksUnderReplicated: gauge('ringstore_chunks_under_replicated', 'Chunks below the wanted healthy replicas as of the end of the last repair run'),
    repairBytesCopied: counter('ringstore_repair_bytes_copied_total', 'Chunk bytes repair copied from a healthy replica to another storage server'),
    filesTotal: gauge('ringstore_files_total', 'Files stored, as last counted by the gateway'),

    // Cluster changes: drain and rebalance (src/jobs/cluster-changes.ts).
    movedBytes: counter('ringstore_moved_bytes_total', 'Chunk bytes drain and rebalance copied to another storage server', ['job']),
    movedChunks: counter(
      'ringstore_moved_chunks_total',
      'Replicas drain and rebalance moved to another server (moved) or could not move in a run (failed)',
      ['job', 'outcome'],
    ),
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
