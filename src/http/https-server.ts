import http from 'node:http';
import https from 'node:https';
import type { SecurityConfig } from '../security/security-config';

/**
 * The gateway's listening server: HTTPS with GATEWAY_TLS_CERT/KEY, plain HTTP without.
 * Not listening yet; the caller sets timeouts and calls listen(). `options` are Node's
 * HTTP server options (header size, timeouts), applied either way.
 */
export function createGatewayServer(
  config: SecurityConfig,
  handler: http.RequestListener,
  options: http.ServerOptions = {},
): http.Server | https.Server {
  if (!config.gatewayCert) return http.createServer(options, handler);
  return https.createServer({ ...options, cert: config.gatewayCert.cert, key: config.gatewayCert.key, minVersion: 'TLSv1.2' }, handler);
}
