import http from 'node:http';
import https from 'node:https';
import type { SecurityConfig } from './security-config';

/**
 * The gateway's listening server: HTTPS with GATEWAY_TLS_CERT/KEY, plain HTTP without.
 * Not listening yet; the caller sets timeouts and calls listen().
 */
export function createGatewayServer(config: SecurityConfig, handler: http.RequestListener): http.Server | https.Server {
  if (!config.gatewayCert) return http.createServer(handler);
  return https.createServer({ cert: config.gatewayCert.cert, key: config.gatewayCert.key, minVersion: 'TLSv1.2' }, handler);
}
