import path from 'node:path';
import { parseArgs } from 'node:util';
import { openMetadataStore } from '../metadata';
import { loadSecurityConfig } from '../security';
import { envInt } from '../util/env';
import { ensurePortFree, EXIT_PORT_IN_USE } from '../util/port-in-use';
import type { RunningGateway } from './start';
import { loadGatewayConfig } from './config';
import { createLogger } from '../util/logger';
import { MALLOC_ENV } from '../util/malloc-env';
import { ringstoreNodeArgs } from '../cli/launch';
import { UP_STORAGE_NODE_FLAGS } from '../cli/node-flags';
import { ensureGatewayPortsFree, listenerUrl } from './listeners';
import { SupervisedProcess } from './supervised-process';

const READY_POLL_MS = 100;

/**
 * `ringstore up` (npm start): the whole system on one machine. The gateway runs in this
 * process; the storage servers are supervised child processes that are restarted if they die.
 *
 * Everything starts at once, the longest step first: the metadata database (PGlite's process),
 * then the storage servers, while this process loads the gateway's code. The servers' joins retry
 * within a second until the gateway listens, and the gateway dials the servers it knows from the
 * database as soon as it has read them. Only a gateway on PORT=0, whose port is not known before
 * it listens, starts its storage servers once it listens.
 */
export async function runUp(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, port: { type: 'string' } } });
  const env = { ...process.env };
  if (values.data !== undefined) env.DATA_DIR = values.data;
  if (values.port !== undefined) env.PORT = values.port;
  const log = createLogger('up');
  const config = loadGatewayConfig(env);
  const serverCount = envInt(env, 'STORAGE_SERVERS', 6, { min: 1, max: 64 });
  const basePort = envInt(env, 'STORAGE_BASE_PORT', 50051, { min: 1, max: 65535 - serverCount });
  const readyTimeoutMs = envInt(env, 'UP_READY_TIMEOUT_MS', 60_000, { min: 1000 });
  const storageHost = env.GRPC_HOST ?? '127.0.0.1';
  const ports = Array.from({ length: serverCount }, (_, i) => basePort + i);
  const portRange = `${storageHost}:${basePort}-${basePort + serverCount - 1}`;
  const storagePortHint = (port: number) =>
    `the ${serverCount} storage servers use ports ${basePort}-${basePort + serverCount - 1}: stop what holds ${port}, or move them with STORAGE_BASE_PORT=N`;

  // Every port first, before any database is built or any process started.
  for (const port of ports) await ensurePortFree(storageHost, port, storagePortHint(port));
  await ensureGatewayPortsFree(config);

  const storeOpening = openMetadataStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  storeOpening.catch(() => undefined); // a failure is startGateway's to report, once it gets there
  const security = loadSecurityConfig(env);
  // On a wildcard bind, the servers join through this machine's loopback.
  const joinUrlOf = (port: number) => listenerUrl(security, config.host, port).replace('0.0.0.0', '127.0.0.1');
  let gateway: RunningGateway | undefined;
  let stopping = false;
  const stop = async (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping storage servers and the gateway`);
    // The gateway lets go of its connections first, so stopping the servers is no failure to it.
    await gateway?.closeConnections();
    await Promise.all(servers.map((server) => server.stop()));
    await gateway?.close();
    log.info(exitCode === 0 ? 'ringstore stopped cleanly' : 'ringstore stopped');
    process.exit(exitCode);
  };

  const servers: SupervisedProcess[] = [];
  const startServers = (joinUrl: string) => ports.forEach((port, i) => {
    const dataDir = path.join(config.dataDir, `storage-${i + 1}`);
    const childArgs = ringstoreNodeArgs(['storage', '--port', String(port), '--host', storageHost, '--data', dataDir, '--join', joinUrl], UP_STORAGE_NODE_FLAGS);
    // The children read their settings from flags: the gateway's PORT/DATA_DIR must not leak in.
    const childEnv = { ...MALLOC_ENV, ...env, PORT: undefined, DATA_DIR: undefined, GRPC_PORT: undefined };
    const server = new SupervisedProcess(`storage-${i + 1}`, process.execPath, childArgs, childEnv, log, {
      // Another program took the port since we checked it: restarting cannot help.
      exitCodes: [EXIT_PORT_IN_USE],
      onFatal: () => {
        log.error(`storage-${i + 1} cannot listen: port ${port} on ${storageHost} is already in use; ${storagePortHint(port)}`);
        void stop('A storage port is taken', EXIT_PORT_IN_USE);
      },
    });
    servers.push(server);
    server.start();
  });
  if (config.port !== 0) startServers(joinUrlOf(config.port));
  process.on('SIGINT', () => void stop('SIGINT received', 0));
  process.on('SIGTERM', () => void stop('SIGTERM received', 0));

  // Loaded now, not with this module: the storage servers start meanwhile.
  const { startGateway } = require('./start') as typeof import('./start');
  const { loadConnectionConfig } = require('../connection') as typeof import('../connection');
  try {
    gateway = await startGateway({
      config,
      connection: loadConnectionConfig(env),
      security,
      inspectUrl: env.RINGSTORE_INSPECT,
      awaitKnownServers: false, // "up" below waits for them, and they join only once it listens
      store: storeOpening,
    });
  } catch (error) {
    stopping = true; // the servers' exits are no reason to restart them
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  }
  if (servers.length === 0) startServers(joinUrlOf(gateway.port));

  // "Up" means usable: every storage server listening and Ready at the gateway.
  const deadline = Date.now() + readyTimeoutMs;
  while (!stopping && gateway.readyServers() < serverCount && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  if (stopping) return;
  const ready = gateway.readyServers();
  const where = `gateway ${gateway.url}, S3 endpoint ${gateway.s3Url}, data in ${config.dataDir}, metadata ${config.databaseUrl ? 'PostgreSQL' : 'embedded'}. Ctrl-C stops everything.`;
  if (ready < serverCount) {
    log.warn(
      `ringstore is up but degraded: only ${ready} of ${serverCount} storage servers on ${portRange} were ready after ` +
        `${readyTimeoutMs / 1000} s (UP_READY_TIMEOUT_MS); see the [storage-N] lines above. ${where}`,
      { event: 'up', ready, servers: serverCount },
    );
  } else {
    log.info(`ringstore is up: ${serverCount} storage servers on ${portRange}, ${where}`, { event: 'up', ready, servers: serverCount });
  }
}
