import http from 'node:http';
import { errorMessage } from '../../src/util/error-message';
import { percentile } from './figures';

export interface Reply {
  status: number;
  body: Buffer;
}

export interface LoadResult {
  requests: number;
  failed: number;
  perSecond: number;
  latenciesMs: number[];
  p50: number;
  p99: number;
  /** The first few failures, for the log. */
  errors: string[];
}

/**
 * One HTTP/1.1 request on a keep-alive agent; resolves with the whole body.
 */
export function request(agent: http.Agent, url: string, options: { method?: string; body?: Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: options.method ?? 'GET', headers: options.headers, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(pieces) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function keepAliveAgent(clients: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: clients });
}

/**
 * Closed-loop load: `clients` workers each run `once` back to back until `durationMs` has
 * passed, `maxRequests` ran or `stop()` says so. `once` throws on a wrong answer: that counts
 * as failed.
 */
export async function closedLoop(
  clients: number,
  durationMs: number,
  once: (worker: number, n: number) => Promise<void>,
  { maxRequests = Number.MAX_SAFE_INTEGER, stop = () => false }: { maxRequests?: number; stop?: () => boolean } = {},
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  let started = 0;
  const begin = performance.now();
  const deadline = begin + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, worker) => {
      while (performance.now() < deadline && started < maxRequests && !stop()) {
        const n = started++;
        const t0 = performance.now();
        try {
          await once(worker, n);
          latenciesMs.push(performance.now() - t0);
        } catch (error) {
          failed++;
          if (errors.length < 5) errors.push(errorMessage(error));
        }
      }
    }),
  );
  const elapsed = (performance.now() - begin) / 1000;
  return {
    requests: latenciesMs.length + failed,
    failed,
    perSecond: latenciesMs.length / elapsed,
    latenciesMs,
    p50: percentile(latenciesMs, 50),
    p99: percentile(latenciesMs, 99),
    errors,
  };
}
