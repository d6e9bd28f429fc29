import type { SecurityConfig } from '../security';
import { ensurePortFree } from '../util/port-in-use';
import type { GatewayConfig } from './config';

/** What to say when the gateway's port is taken. */
export const GATEWAY_PORT_HINT = 'stop it, or choose another port with PORT=N (or --port N)';
export const S3_PORT_HINT = 'stop it, or choose another port for the S3 endpoint with S3_PORT=N';

/** The URL of a gateway listener (the file API's or the S3 endpoint's) on host:port. */
export function listenerUrl(security: SecurityConfig, host: string, port: number): string {
  return `${security.gatewayCert ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Throws PortInUseError, one line, when the file API's or the S3 endpoint's port is taken. */
export async function ensureGatewayPortsFree(config: GatewayConfig): Promise<void> {
  await ensurePortFree(config.host, config.port, GATEWAY_PORT_HINT);
  await ensurePortFree(config.host, config.s3.port, S3_PORT_HINT);
}
