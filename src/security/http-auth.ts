import type { Request, RequestHandler } from 'express';
import type { Logger } from '../log/logger';
import type { SecurityConfig } from './security-config';
import { createBearerVerifier } from './tokens';

export interface HttpAuthOptions {
  /** Refusals are logged here (method, path, client, verdict; never a token). */
  logger?: Logger;
}

/**
 * Lets a request through when its `Authorization: Bearer <token>` matches one of the tokens:
 * 401 (with WWW-Authenticate) without a token, 403 with a wrong one, JSON `{error}` either way.
 * With no tokens at all the route is open and every request passes.
 */
export function requireAnyToken(tokens: readonly string[], realm: string, options: HttpAuthOptions = {}): RequestHandler {
  if (tokens.length === 0) return (_req, _res, next) => next();
  const verify = createBearerVerifier(tokens);
  return (req, res, next) => {
    const verdict = verify(req.headers.authorization);
    if (verdict === 'ok') {
      next();
      return;
    }
    options.logger?.warn(`Refused ${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip}: ${verdict} ${realm} token`, {
      event: 'http_unauthenticated', realm, verdict, method: req.method, ip: req.ip,
    });
    if (verdict === 'missing') {
      res.status(401)
        .set('WWW-Authenticate', `Bearer realm="${realm}"`)
        .json({ error: `authentication required: send "Authorization: Bearer <token>" (${realm})` });
    } else {
      res.status(403)
        .set('WWW-Authenticate', `Bearer realm="${realm}", error="invalid_token"`)
        .json({ error: `the token sent is not accepted for ${realm}` });
    }
  };
}

/** /files: any of API_TOKENS; open when none is configured. */
export function requireApiToken(tokens: readonly string[], options: HttpAuthOptions = {}): RequestHandler {
  return requireAnyToken(tokens, 'ringstore files', options);
}

/** One token (ADMIN_TOKEN, CLUSTER_TOKEN); open when it is undefined. */
export function requireToken(token: string | undefined, realm: string, options: HttpAuthOptions = {}): RequestHandler {
  return requireAnyToken(token === undefined ? [] : [token], realm, options);
}

export interface GatewayAuth {
  /** For GatewayRoutes.filesAuth. */
  filesAuth: RequestHandler;
  /**
   * For GatewayRoutes.adminAuth: ADMIN_TOKEN everywhere, except that joins and heartbeats
   * (POST /admin/servers) take CLUSTER_TOKEN, which storage servers send (ADMIN_TOKEN works too).
   */
  adminAuth: RequestHandler;
}

/** The gateway's two guards from one SecurityConfig. */
export function createGatewayAuth(config: SecurityConfig, options: HttpAuthOptions = {}): GatewayAuth {
  const admin = requireToken(config.adminToken, 'ringstore admin', options);
  const joinTokens = [config.clusterToken, config.adminToken].filter((t): t is string => t !== undefined);
  const join = requireAnyToken(joinTokens, 'ringstore cluster', options);
  return {
    filesAuth: requireApiToken(config.apiTokens, options),
    adminAuth: (req, res, next) => (isJoin(req) ? join(req, res, next) : admin(req, res, next)),
  };
}

/** Judged on the full path, so it holds wherever the guard is mounted. */
function isJoin(req: Request): boolean {
  const path = req.originalUrl.split('?')[0].replace(/\/+$/, '');
  return req.method === 'POST' && path === '/admin/servers';
}
