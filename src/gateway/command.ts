import { parseArgs } from 'node:util';
import { loadConnectionConfig } from '../connection';
import { loadSecurityConfig } from '../security';
import { createLogger } from '../util/logger';
import { loadGatewayConfig } from './config';
import { ensureGatewayPortsFree } from './listeners';
import { startGateway } from './start';

/** `ringstore gateway [--port N] [--host H] [--data DIR]`: the HTTP gateway alone. */
export async function runGateway(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' } },
  });
  const env = { ...process.env };
  if (values.port !== undefined) env.PORT = values.port;
  if (values.host !== undefined) env.HOST = values.host;
  if (values.data !== undefined) env.DATA_DIR = values.data;
  const config = loadGatewayConfig(env);
  // Before the database is opened (or, on a first start, built): a taken port is one line.
  await ensureGatewayPortsFree(config);
  const gateway = await startGateway({
    config,
    connection: loadConnectionConfig(env),
    security: loadSecurityConfig(env),
    inspectUrl: env.RINGSTORE_INSPECT,
  });
  const log = createLogger('gateway');
  const stop = (signal: string) => {
    log.info(`${signal} received: shutting down`);
    gateway.close().then(
      () => process.exit(0),
      (error) => {
        log.error(`Shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
