import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestSchema, type TestSchema } from './metadata';
import { RingstoreProcess, type LogLine } from './process';
import { waitFor } from './wait';

/**
 * Short intervals so tests see reconnects and ring changes within seconds. Keepalive stays at
 * seconds: a 1 s ping timeout drops every connection when a loaded machine stalls the loop.
 */
export const FAST_CLUSTER_ENV: Record<string, string> = {
  HEALTH_CHECK_INTERVAL_MS: '500',
  CONNECT_TIMEOUT_MS: '2000',
  RING_REFRESH_INTERVAL_MS: '1000',
  HEARTBEAT_INTERVAL_MS: '500',
  SERVER_HEARTBEAT_TIMEOUT_MS: '10000',
  GRPC_KEEPALIVE_TIME_MS: '5000',
  GRPC_KEEPALIVE_TIMEOUT_MS: '5000',
  SHUTDOWN_GRACE_MS: '2000',
};

export class StorageNode {
  proc!: RingstoreProcess;
  port = 0;
  serverId = '';

  constructor(
    readonly dataDir: string,
    private readonly joinUrl: string,
    private readonly env: Record<string, string>,
    /** The address it binds to and advertises: its "host". */
    readonly host = '127.0.0.1',
  ) {}

  async start(port = this.port): Promise<void> {
    this.proc = new RingstoreProcess(['storage', '--host', this.host, '--port', String(port), '--data', this.dataDir, '--join', this.joinUrl], this.env);
    const line = await this.proc.waitForLine((l) => l.event === 'listening', 60_000, 'storage server listening');
    this.port = Number(line.port);
    this.serverId = String(line.serverId);
  }

  /** Kill -9 and start again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.proc.kill('SIGKILL');
    await this.start(this.port);
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }
}

export interface GatewayNode {
  proc: RingstoreProcess;
  url: string;
  port: number;
  /** Its S3 endpoint (S3_PORT: any free port, kept across restarts). */
  s3Url: string;
  s3Port: number;
  host: string;
  /** Its DATA_DIR (the embedded metadata lives there). */
  dataDir: string;
}

export interface Cluster {
  root: string;
  gateway: GatewayNode;
  gateways: GatewayNode[];
  storage: StorageNode[];
  env: Record<string, string>;
  databaseUrl?: string;
  /** Starts another gateway on the same metadata database. */
  addGateway(): Promise<GatewayNode>;
  /** Kill -9 a gateway (default: the first) and start it again on its port and data directory. */
  restartGateway(node?: GatewayNode): Promise<void>;
  addStorage(): Promise<StorageNode>;
  /** Wait until the gateway reports `count` Ready storage servers. */
  waitForReady(count?: number, gateway?: GatewayNode): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  storageServers?: number;
  /** PostgreSQL URL (a fresh schema is made in it); embedded PGlite when absent. */
  postgresUrl?: string;
  env?: Record<string, string>;
  /** Address gateway n (from 1) binds to, as if each ran on its own host; default 127.0.0.1. */
  gatewayHost?: (n: number) => string;
  /** Address storage server n (from 1) binds to; default 127.0.0.1. */
  storageHost?: (n: number) => string;
  /** One gRPC port for every storage server, as on separate hosts; default a free port each. */
  storagePort?: number;
}

/** A real cluster on loopback: a gateway process and storage-server processes joining it. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ringstore-cluster-'));
  let schema: TestSchema | undefined;
  if (options.postgresUrl) schema = await createTestSchema(options.postgresUrl);
  const env: Record<string, string> = { ...FAST_CLUSTER_ENV, ...options.env };
  if (schema) env.DATABASE_URL = schema.databaseUrl;
  const gateways: GatewayNode[] = [];
  const storage: StorageNode[] = [];
  let storageCount = 0;

  const runGateway = async (host: string, port: number, s3Port: number, dataDir: string): Promise<{ proc: RingstoreProcess; port: number; s3Port: number }> => {
    const proc = new RingstoreProcess(['gateway', '--host', host, '--port', String(port), '--data', dataDir], { S3_PORT: String(s3Port), ...env });
    const line: LogLine = await proc.waitForLine((l) => l.event === 'listening', 90_000, 'gateway listening');
    return { proc, port: Number(line.port), s3Port: Number(line.s3Port) };
  };
  const startGatewayNode = async (index: number): Promise<GatewayNode> => {
    const host = options.gatewayHost?.(index) ?? '127.0.0.1';
    const dataDir = path.join(root, `gateway-${index}`);
    const { proc, port, s3Port } = await runGateway(host, 0, 0, dataDir);
    const node = { proc, port, url: `http://${host}:${port}`, s3Port, s3Url: `http://${host}:${s3Port}`, host, dataDir };
    gateways.push(node);
    return node;
  };

  let gateway: GatewayNode;
  try {
    gateway = await startGatewayNode(1);
  } catch (error) {
    await Promise.all(gateways.map((g) => g.proc.kill('SIGKILL')));
    await schema?.drop().catch(() => undefined);
    await removeClusterFiles(root);
    throw error;
  }
  const cluster: Cluster = {
    root,
    gateway,
    gateways,
    storage,
    env,
    databaseUrl: schema?.databaseUrl,
    addGateway: () => startGatewayNode(gateways.length + 1),
    async restartGateway(node = gateway) {
      await node.proc.kill('SIGKILL');
      node.proc = (await runGateway(node.host, node.port, node.s3Port, node.dataDir)).proc;
    },
    async addStorage() {
      const index = ++storageCount;
      const node = new StorageNode(path.join(root, `storage-${index}`), gateway.url, env, options.storageHost?.(index));
      await node.start(options.storagePort ?? 0);
      storage.push(node);
      return node;
    },
    async waitForReady(count = storage.length, node = gateway) {
      await waitFor(
        async () => {
          const res = await fetch(`${node.url}/health`);
          const body = (await res.json()) as { storage_servers: number };
          return body.storage_servers >= count;
        },
        { timeoutMs: 45_000, what: `${count} ready storage servers at ${node.url}` },
      );
    },
    async stop() {
      await Promise.all([...storage.map((s) => s.proc.kill('SIGKILL')), ...gateways.map((g) => g.proc.kill('SIGKILL'))]);
      await schema?.drop().catch(() => undefined);
      await removeClusterFiles(root);
    },
  };
  try {
    await Promise.all(Array.from({ length: options.storageServers ?? 6 }, () => cluster.addStorage()));
    await cluster.waitForReady();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * A gateway killed with -9 leaves its embedded database's process closing the database for a
 * moment, still writing under root: removing the tree then fails with ENOTEMPTY, so retry.
 */
function removeClusterFiles(root: string): Promise<void> {
  return rm(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}

/**
 * The metadata backends a cluster test runs on, as [name, PostgreSQL URL]: embedded PGlite
 * always, PostgreSQL too when TEST_DATABASE_URL is set (CI).
 */
export const METADATA_BACKENDS: Array<[string, string | undefined]> = [['embedded PGlite', undefined]];
if (process.env.TEST_DATABASE_URL) METADATA_BACKENDS.push(['PostgreSQL', process.env.TEST_DATABASE_URL]);

/**
 * One cluster for the tests of the describe block this is called in: started before them (the
 * start may take `startTimeoutMs`), stopped after them, with every ringstore process they
 * started. The returned function reads it, in tests and hooks.
 */
export function clusterForTests(options: ClusterOptions, startTimeoutMs = 180_000): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options);
  }, startTimeoutMs);
  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
  });
  return () => {
    if (!cluster) throw new Error('the cluster has not started: read it in a test or a hook, not while the tests are collected');
    return cluster;
  };
}
