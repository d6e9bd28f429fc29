import { createHash, timingSafeEqual } from 'node:crypto';

/** What a presented credential amounts to: none at all, a wrong one, or an accepted one. */
export type TokenVerdict = 'missing' | 'wrong' | 'ok';

/**
 * Tokens are compared as SHA-256 digests: both sides then have the same length, so
 * timingSafeEqual leaks neither the content nor the length of an accepted token.
 */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750),
 * or undefined for an absent header, another scheme or an empty token.
 */
export function parseBearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization ?? '');
  return match ? match[1] : undefined;
}

/**
 * The password of an `Authorization: Basic base64(user:password)` header, whatever the user
 * (RFC 7617): how a browser sends a token it prompted for. Undefined for anything else.
 */
export function parseBasicPassword(authorization: string | undefined): string | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password === '' ? undefined : password;
}

/** Pulls the presented token out of an `Authorization` header value. */
export type TokenExtractor = (authorization: string | undefined) => string | undefined;

/**
 * A checker for `Authorization` header values against a set of accepted tokens. Every accepted
 * token is compared (no early exit), so timing does not reveal which one matched. The tokens
 * live only in this closure and are never logged.
 */
export function createTokenVerifier(
  acceptedTokens: readonly string[],
  extract: TokenExtractor,
): (authorization: string | undefined) => TokenVerdict {
  const accepted = acceptedTokens.map(digest);
  return (authorization) => {
    const token = extract(authorization);
    if (token === undefined) return 'missing';
    const presented = digest(token);
    let matched = false;
    for (const candidate of accepted) matched = timingSafeEqual(presented, candidate) || matched;
    return matched ? 'ok' : 'wrong';
  };
}

/** createTokenVerifier for `Authorization: Bearer <token>` only. */
export function createBearerVerifier(acceptedTokens: readonly string[]): (authorization: string | undefined) => TokenVerdict {
  return createTokenVerifier(acceptedTokens, parseBearerToken);
}
