import http from 'node:http';
import https from 'node:https';

export interface PostAnswer {
  status: number;
  statusText: string;
}

/**
 * POSTs `body` as JSON to `url` (http: or https:) and resolves with the answer's status once its
 * body has been read; rejects on a network error or when `signal` aborts.
 *
 * node:http, not fetch: a process's first fetch loads undici and compiles its WebAssembly HTTP
 * parser, which left a storage server (whose heartbeat is its only HTTP client) holding 6-9 MB
 * more for good: ~3 MB of JavaScript heap and a malloc heap fragmented by the ~30 MB the
 * compilation briefly took (measured 2026-12-07, docs/performance.md, start-up section).
 * One connection per call (no keep-alive): a call every few seconds needs none, and a kept
 * socket the other side has closed would fail the next call.
 */
export function postJson(url: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<PostAnswer> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? https.request : http.request;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const outgoing = request(target, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
      agent: false,
      signal,
    }, (response) => {
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, statusText: response.statusMessage ?? '' }));
      response.resume();
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}
