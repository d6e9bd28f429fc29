import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createConnectionSupervisor, describeConnectionLayer } from '../connection';
import type { ConnectionConfig } from '../connection';
import { runCleanup, type CleanupReport } from '../jobs/cleanup';
import { createClusterChanges } from '../jobs/cluster-changes';
import { loadJobsConfig, type JobsConfig } from '../jobs/config';
import { PeriodicJob } from '../jobs/periodic';
import { createSelfHealing } from '../jobs/self-healing';
import { createLogger } from '../util/logger';
import { openMetadataStore } from '../metadata';
import type { MetadataStore } from '../metadata/types';
import { createInspector } from '../observability/inspector';
import { httpMetrics } from '../http/request-metrics';
import { bindConnectionMetrics, createMetrics, type Metrics } from '../observability/metrics';
import { receiveFramesIntoPool } from '../wire/frame-pool';
import { clusterCallMetadata, grpcChannelCredentials } from '../connection/channel-credentials';
import { createGatewayAuth } from '../http/auth';
import { createGatewayServer } from '../http/https-server';
import type { SecurityConfig } from '../security';
import { createAdminRouter } from '../http/admin/router';
import { trafficView } from '../observability/traffic';
import { createGatewayApp } from '../http/app';
import type { GatewayConfig } from './config';
import { GATEWAY_PORT_HINT, listenerUrl, S3_PORT_HINT } from './listeners';
import { serverOptions, socketIdleTimeoutMs } from '../http/server-limits';
import { accessLog } from '../http/access-log';
import { createClientErrorHandler } from '../http/client-error';
import { FileService } from '../files/file-service';
import { Placement } from '../replicas/placement';
import { Replicas } from '../replicas/replicas';
import { ServerRegistry } from '../replicas/registry';
import { createFilesRouter } from '../http/routes/files';
import { createFilesPageRouter } from '../http/files-page/router';
import { atMostEvery } from '../util/at-most-every';
import { isAddressInUse, PortInUseError } from '../util/port-in-use';
import { errorMessage } from '../util/error-message';

/**
 * ringstore_files_total is counted from the metadata (so every gateway reports the cluster's
 * figure) at most this often, however often Prometheus scrapes.
 */
const FILES_COUNT_MAX_AGE_MS = 15_000;
import { createJobsRouter } from '../http/routes/jobs';
import { MultipartUploads } from '../objects/multipart';
import { loadS3Credentials } from '../s3/credentials';
import { MIN_PART_SIZE } from '../s3/multipart-operations';
import { createS3Handler } from '../s3/server';
import { UploadSlots } from '../http/upload/upload-slots';
import { SigV4Verifier } from '../s3/sigv4-verifier';
import { createServersRouter } from '../http/routes/servers';

export interface RunningGateway {
  url: string;
  port: number;
  /** The S3 endpoint. */
  s3Url: string;
  s3Port: number;
  store: MetadataStore;
  metrics: Metrics;
  /** Storage servers taking traffic now, as /health counts them. */
  readyServers(): number;
  /**
   * Stops talking to storage servers (ring refresh, every connection), deliberately and
   * quietly: for a shutdown that stops those servers next (`ringstore up`), which would
   * otherwise log a failed reconnect for each of them.
   */
  closeConnections(): Promise<void>;
  close(): Promise<void>;
}

/** S3 answers EntityTooLarge to a single PUT over 5 GiB: larger objects go multipart. */
const S3_MAX_PUT_SIZE = 5 * 1024 ** 3;

export interface GatewayOptions {
  config: GatewayConfig;
  connection: ConnectionConfig;
  /** Tokens and TLS (all optional: without them everything is open and plaintext). */
  security: SecurityConfig;
  /** RINGSTORE_INSPECT: WebSocket URL of an XState inspector to send every actor's events to. */
  inspectUrl?: string;
  /** Repair and scrub settings (default: read from the environment). */
  jobsConfig?: JobsConfig;
  /**
   * Whether to give the servers known from the metadata READY_WAIT_MS to connect before
   * listening (default true). `ringstore up` says no: it waits for every server to be Ready
   * itself, and a server it restarted on another port can join only once the gateway listens.
   */
  awaitKnownServers?: boolean;
  /** The metadata store, already being opened (`up` opens it first, as its longest step). */
  store?: Promise<MetadataStore>;
}

/**
 * Opens metadata, the connection supervisor and the HTTP server; resolves once listening. Its
 * callers (`ringstore gateway`, `ringstore up`) have checked the ports with
 * ensureGatewayPortsFree first, before the database is opened (or, on a first start, built).
 */
export async function startGateway({ config, connection, security, inspectUrl, jobsConfig = loadJobsConfig(), awaitKnownServers = true, store: opening }: GatewayOptions): Promise<RunningGateway> {
  const log = createLogger('gateway');
  const gatewayId = randomUUID();
  const startedAt = Date.now();
  receiveFramesIntoPool(log);
  const s3Credentials = await loadS3Credentials(process.env, config.dataDir);
  // The one time a generated secret is shown: to the terminal, never to the log.
  const notice = s3Credentials.firstStartNotice();
  if (notice) process.stdout.write(`${notice}\n`);
  const store = await (opening ?? openMetadataStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  log.info(`Metadata: ${store.kind === 'postgres' ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}/metadata`}`);

  const metrics = createMetrics();
  const inspector = createInspector(inspectUrl, createLogger('inspector'));
  const supervisor = createConnectionSupervisor({
    config: connection,
    channelCredentials: grpcChannelCredentials(security),
    callMetadata: clusterCallMetadata(security),
    inspect: inspector?.inspect,
  });
  const unbindMetrics = bindConnectionMetrics(metrics, supervisor);
  const registry = new ServerRegistry(store, supervisor, config, createLogger('registry'));
  const placement = new Placement(() => registry.currentRing(), supervisor, config.replicationFactor);
  const replicas = new Replicas({
    supervisor,
    placement,
    store,
    log: createLogger('replicas'),
    writeQuorum: config.writeQuorum,
    clusterSize: () => registry.activeMemberCount(),
    streamIdleTimeoutMs: config.streamIdleTimeoutMs,
    callTimeoutMs: config.callTimeoutMs,
    events: {
      replicaWrite: (outcome) => metrics.chunkOperations.inc({ op: 'put', outcome }),
      readRetry: () => metrics.chunkRetries.inc({ op: 'get' }),
      chunkDelete: (outcome) => metrics.chunkOperations.inc({ op: 'delete', outcome }),
    },
  });
  const files = new FileService({ store, replicas, config, log });
  const objects = new MultipartUploads({ store, files, grantsOf: (accessKeyId) => s3Credentials.grantsOf(accessKeyId) }, { minPartSize: MIN_PART_SIZE, log: createLogger('s3') });

  const cleanup = new PeriodicJob<CleanupReport>(
    'cleanup',
    config.cleanupIntervalMs,
    async () => {
      const report = await runCleanup({
        store,
        replicas,
        log: createLogger('cleanup'),
        orphanGraceMs: config.orphanGraceMs,
      });
      metrics.jobRuns.inc({ job: 'cleanup', outcome: report ? 'ran' : 'skipped' });
      const abandonedUploads = await objects.abortAbandoned(config.s3.multipartMaxAgeMs);
      metrics.jobItems.inc({ job: 'cleanup', action: 'multipart_abort' }, abandonedUploads);
      if (report) {
        metrics.jobItems.inc({ job: 'cleanup', action: 'expired_session' }, report.expiredSessions);
        metrics.jobItems.inc({ job: 'cleanup', action: 'pending_delete' }, report.pendingDeleted);
        metrics.jobItems.inc({ job: 'cleanup', action: 'orphan_delete' }, report.orphansDeleted);
      }
      return report;
    },
    log,
  );
  const selfHealing = createSelfHealing({
    store,
    replicas,
    replicationFactor: config.replicationFactor,
    streamIdleTimeoutMs: config.streamIdleTimeoutMs,
    config: jobsConfig,
    metrics,
  });
  const clusterChanges = createClusterChanges({ store, replicas, registry, config: jobsConfig.moves, gatewayId, metrics });
  const jobs = [cleanup, ...selfHealing.jobs, ...clusterChanges.jobs] as Array<PeriodicJob<unknown>>;

  const adminRouter = createAdminRouter({
    supervisor,
    machines: describeConnectionLayer(),
    serverInfo: async () => {
      const held = (await clusterChanges.admin.holdings()).servers;
      return registry.list().map((s) => ({
        serverId: s.id,
        availableSpace: s.availableSpace ?? undefined,
        totalSpace: s.totalSpace ?? undefined,
        bytesHeld: held.get(s.id)?.bytes,
      }));
    },
  });
  // Repair, scrub, drain and rebalance progress and counts on this gateway.
  adminRouter.get('/repair', (_req, res) => {
    res.json({ ...selfHealing.status(), ...clusterChanges.status() });
  });
  // What clients asked of this gateway, per API and operation (the dashboard's traffic card).
  adminRouter.get('/traffic', async (_req, res) => {
    res.json(await trafficView(metrics));
  });

  const countFiles = atMostEvery(FILES_COUNT_MAX_AGE_MS, () => store.countFiles());
  const auth = createGatewayAuth(security, { logger: createLogger('auth') });
  const app = createGatewayApp({
    health: {
      metadataBackend: store.kind,
      pingMetadata: () => store.ping(),
      readyServers: () => supervisor.readyServerIds().length,
      knownServers: () => supervisor.snapshot().length,
      replicationFactor: () => replicas.wantedCopies(),
      startedAt,
    },
    log,
    routes: {
      adminAuth: auth.adminAuth,
      middleware: [accessLog(createLogger('http')), httpMetrics(metrics)],
      files: createFilesRouter({
        files,
        auth: auth.filesAuth,
        log,
        maxFileSize: config.maxFileSize,
        maxConcurrentUploads: config.maxConcurrentUploads,
        bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
        addressOf: (id) => registry.addressOf(id),
        onBytesDownloaded: (bytes) => metrics.bytesDownloaded.inc(bytes),
        onBytesUploaded: (bytes) => metrics.bytesUploaded.inc(bytes),
      }),
      filesPage: createFilesPageRouter(auth.filesAuth),
      servers: createServersRouter(registry, supervisor, clusterChanges.admin),
      jobs: createJobsRouter(jobs),
      admin: adminRouter,
      metrics: async (_req, res) => {
        try {
          metrics.filesTotal.set(await countFiles());
        } catch (error) {
          // The scrape still answers (with the last count); /health reports the database.
          log.debug(`Counting files for ringstore_files_total failed: ${errorMessage(error)}`);
        }
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    },
  });

  // The ring first: a gateway that listened before it knew any server would answer its
  // first uploads with 503.
  await registry.start().catch((error) => log.warn(`Initial ring load failed: ${(error as Error).message}`));
  // Give the known servers a moment (READY_WAIT_MS at most) to connect.
  if (awaitKnownServers) await Promise.allSettled([...registry.currentRing().serverIds].map((id) => supervisor.getClient(id)));
  const server = createGatewayServer(security, app.listener, { ...serverOptions(config), ...app.requestClasses });
  // Backstop for connections that go quiet outside an upload body (a stalled download
  // reader); upload bodies have their own, tighter idle timeout (bodyIdleTimeoutMs).
  server.setTimeout(socketIdleTimeoutMs(config));
  server.on('clientError', createClientErrorHandler(log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(isAddressInUse(error) ? new PortInUseError(config.host, config.port, GATEWAY_PORT_HINT) : error));
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const s3Server = createGatewayServer(
    security,
    createS3Handler({
      objects,
      log: createLogger('s3'),
      accessLog: createLogger('s3'),
      metrics,
      verifier: new SigV4Verifier({ keys: s3Credentials }),
      region: config.s3.region,
      domain: config.s3.domain,
      maxPutSize: Math.min(S3_MAX_PUT_SIZE, config.maxFileSize),
      bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
      uploadSlots: new UploadSlots(config.maxConcurrentUploads, createLogger('s3')),
    }),
    serverOptions(config),
  );
  s3Server.setTimeout(socketIdleTimeoutMs(config));
  s3Server.on('clientError', createClientErrorHandler(log));
  await new Promise<void>((resolve, reject) => {
    s3Server.once('error', (error) => reject(isAddressInUse(error) ? new PortInUseError(config.host, config.s3.port, S3_PORT_HINT) : error));
    s3Server.listen(config.s3.port, config.host, () => resolve());
  });
  const s3Port = (s3Server.address() as AddressInfo).port;
  const url = listenerUrl(security, config.host, port);

  cleanup.start();
  selfHealing.start();
  clusterChanges.start();
  const s3Url = listenerUrl(security, config.host, s3Port);
  log.info(`Gateway listening on ${url}, S3 endpoint on ${s3Url}`, { event: 'listening', port, s3Port, host: config.host, gatewayId });

  let closing: Promise<void> | null = null;
  let closingConnections: Promise<void> | null = null;
  const closeConnections = () =>
    (closingConnections ??= (async () => {
      registry.stop();
      unbindMetrics();
      await supervisor.close();
    })());
  return {
    url,
    port,
    s3Url,
    s3Port,
    store,
    metrics,
    readyServers: () => supervisor.readyServerIds().length,
    closeConnections,
    close: () =>
      (closing ??= (async () => {
        registry.stop();
        await Promise.all(jobs.map((job) => job.stop()));
        // Open /admin/events streams would hold the server open forever.
        adminRouter.closeStreams();
        await Promise.all(
          [server, s3Server].map(
            (listening) =>
              new Promise<void>((resolve) => {
                listening.close(() => resolve());
                listening.closeIdleConnections();
              }),
          ),
        );
        await closeConnections();
        inspector?.stop();
        await store.close();
      })()),
  };
}
