/**
 * Which bucket and key a request names, and its query: path-style (`/bucket/key`), or
 * virtual-hosted style (`bucket.<S3_DOMAIN>/key`) when a domain is configured. Keys come from
 * the decoded path; `+` in a path is a literal plus.
 */
import { S3Error } from './errors';

export interface RequestTarget {
  /** undefined: the service itself (ListBuckets). */
  bucket?: string;
  /** undefined: the bucket itself. */
  key?: string;
  /** Decoded query parameters; a name without `=` has the value ''. */
  query: Map<string, string>;
  /** The path as received (for error Resource elements). */
  path: string;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidURI', `Couldn't parse the specified URI: the ${what} is not valid percent-encoding.`);
  }
}

export function parseQuery(search: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decode(at < 0 ? pair : pair.slice(0, at), 'query');
    query.set(name, at < 0 ? '' : decode(pair.slice(at + 1), 'query'));
  }
  return query;
}

/** `url` is Node's req.url; `host` the Host header; `domain` S3_DOMAIN (virtual-hosted style) if set. */
export function parseRequestTarget(url: string, host: string | undefined, domain: string | undefined): RequestTarget {
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  const query = parseQuery(at < 0 ? '' : url.slice(at + 1));
  if (!path.startsWith('/')) throw new S3Error('InvalidURI');
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (domain && hostname.endsWith(`.${domain}`)) {
    const bucket = hostname.slice(0, -domain.length - 1);
    const key = path.length > 1 ? decode(path.slice(1), 'path') : undefined;
    return { bucket, key, query, path };
  }
  const rest = path.slice(1);
  if (rest === '') return { query, path };
  const slash = rest.indexOf('/');
  const bucket = decode(slash < 0 ? rest : rest.slice(0, slash), 'path');
  const keyText = slash < 0 ? '' : rest.slice(slash + 1);
  return { bucket, key: keyText === '' ? undefined : decode(keyText, 'path'), query, path };
}
