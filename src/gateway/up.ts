import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConnectionConfig } from '../connection';
import { loadSecurityConfig } from '../security';
import { envInt } from '../util/env';
import { startGateway } from './start';
import { loadGatewayConfig } from './config';
import { createLogger } from '../util/logger';
import { NODE_FLAGS } from '../cli/node-flags';
import { SupervisedProcess } from './supervised-process';

const CLI = path.join(__dirname, '../cli/ringstore.cjs');

/**
 * `ringstore up` (npm start): the whole system on one machine. The gateway runs in this
 * process; the storage servers are supervised child processes that are restarted if they die.
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
  const storageHost = env.GRPC_HOST ?? '127.0.0.1';

  const gateway = await startGateway({
    config,
    connection: loadConnectionConfig(env),
    security: loadSecurityConfig(env),
    inspectUrl: env.RINGSTORE_INSPECT,
  });
  const joinUrl = gateway.url.replace('0.0.0.0', '127.0.0.1');
  const servers = Array.from({ length: serverCount }, (_, i) => {
    const port = basePort + i;
    const dataDir = path.join(config.dataDir, `storage-${i + 1}`);
    const childArgs = [...NODE_FLAGS, CLI, 'storage', '--port', String(port), '--host', storageHost, '--data', dataDir, '--join', joinUrl];
    // The children read their settings from flags: the gateway's PORT/DATA_DIR must not leak in.
    const childEnv = { ...env, PORT: undefined, DATA_DIR: undefined, GRPC_PORT: undefined };
    return new SupervisedProcess(`storage-${i + 1}`, process.execPath, childArgs, childEnv, log);
  });
  servers.forEach((server) => server.start());

  log.info(
    `ringstore is up: gateway ${gateway.url}, ${serverCount} storage servers on ${storageHost}:${basePort}-${basePort + serverCount - 1}, ` +
      `data in ${config.dataDir}, metadata ${config.databaseUrl ? 'PostgreSQL' : 'embedded'}. Ctrl-C stops everything.`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received: stopping storage servers and the gateway`);
    await Promise.all(servers.map((server) => server.stop()));
    await gateway.close();
    log.info('ringstore stopped cleanly');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
