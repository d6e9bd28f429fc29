import type { Request, RequestHandler } from 'express';
import type { Logger } from '../util/logger';
import type { SecurityConfig } from '../security/security-config';
import { createTokenVerifier, parseBasicPassword, parseBearerToken } from '../security/tokens';

export interface HttpAuthOptions {
  /** Refusals are logged here (method, path, client, verdict; never a token). */
  logger?: Logger;
}

export interface GuardOptions extends HttpAuthOptions {
  /**
   * Also take the token as the password of HTTP Basic auth (any username): a browser cannot
   * set a Bearer header on a page load or an EventSource, but it sends Basic credentials it
   * prompted for on every request to the site.
   */
  basic?: boolean;
}

/**
 * A page load, an EventSource, or a script on a page (browsers mark every request they make
 * with Sec-Fetch-Site; Node's fetch sends Sec-Fetch-Mode but not that one), as opposed to an API
 * client: worth a Basic challenge, which a browser answers with the credentials it already
 * asked the user for.
 */
function fromBrowser(req: Request): boolean {
  return /text\/html|text\/event-stream/i.test(req.headers.accept ?? '') || req.headers['sec-fetch-site'] !== undefined;
}

/**
 * Lets a request through when its `Authorization: Bearer <token>` matches one of the tokens:
 * 401 (with WWW-Authenticate) without a token, 403 with a wrong one, JSON `{error}` either way.
 * With `basic`, a browser gets a Basic challenge instead, also after a wrong password, so it
 * asks the user again. With no tokens at all the route is open and every request passes.
 */
export function requireAnyToken(tokens: readonly string[], realm: string, options: GuardOptions = {}): RequestHandler {
  if (tokens.length === 0) return (_req, _res, next) => next();
  const verify = createTokenVerifier(
    tokens,
    options.basic ? (header) => parseBearerToken(header) ?? parseBasicPassword(header) : parseBearerToken,
  );
  return (req, res, next) => {
    const verdict = verify(req.headers.authorization);
    if (verdict === 'ok') {
      next();
      return;
    }
    options.logger?.warn(`Refused ${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip}: ${verdict} ${realm} token`, {
      event: 'http_unauthenticated', realm, verdict, method: req.method, ip: req.ip,
    });
    if (options.basic && fromBrowser(req)) {
      res.status(401)
        .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
        .json({ error: `authentication required: sign in with the ${realm} token as the password (any username)` });
    } else if (verdict === 'missing') {
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
export function requireApiToken(tokens: readonly string[], options: GuardOptions = {}): RequestHandler {
  return requireAnyToken(tokens, 'ringstore files', options);
}

/** One token (ADMIN_TOKEN, CLUSTER_TOKEN); open when it is undefined. */
export function requireToken(token: string | undefined, realm: string, options: GuardOptions = {}): RequestHandler {
  return requireAnyToken(token === undefined ? [] : [token], realm, options);
}

export interface GatewayAuth {
  /**
   * The file API and the files page: any of API_TOKENS, as Bearer, or (browsers) as the Basic
   * password with any username.
   */
  filesAuth: RequestHandler;
  /**
   * For GatewayRoutes.adminAuth: ADMIN_TOKEN everywhere (Bearer, or Basic password for the
   * dashboard in a browser), except that joins and heartbeats
   * (POST /admin/servers) take CLUSTER_TOKEN, which storage servers send (ADMIN_TOKEN works too).
   */
  adminAuth: RequestHandler;
}

/** The gateway's two guards from one SecurityConfig. */
export function createGatewayAuth(config: SecurityConfig, options: HttpAuthOptions = {}): GatewayAuth {
  const admin = requireToken(config.adminToken, 'ringstore admin', { ...options, basic: true });
  const joinTokens = [config.clusterToken, config.adminToken].filter((t): t is string => t !== undefined);
  const join = requireAnyToken(joinTokens, 'ringstore cluster', options);
  return {
    filesAuth: requireApiToken(config.apiTokens, { ...options, basic: true }),
    adminAuth: (req, res, next) => (isJoin(req) ? join(req, res, next) : admin(req, res, next)),
  };
}

/** Judged on the full path, so it holds wherever the guard is mounted. */
function isJoin(req: Request): boolean {
  const path = req.originalUrl.split('?')[0].replace(/\/+$/, '');
  return req.method === 'POST' && path === '/admin/servers';
}
