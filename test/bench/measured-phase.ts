import { cpuMs } from './bench-cluster';
import type { Figure } from './figures';
import type { LoadResult } from './load';

/**
 * What a bench reports of each closed-loop load phase: `measured(what, pids, phase)` runs the
 * phase and adds its requests per second, p50 and p99 latency, failures and the CPU time the
 * server processes (`pids`, read from /proc) spent per request to `figures`.
 */
export function phaseMeasurer(bench: string, clients: number, figures: Figure[]) {
  const add = (metric: string, value: number, unit: string) => figures.push({ bench, metric, value, unit });
  return async (what: string, pids: () => number[], phase: () => Promise<LoadResult>): Promise<LoadResult> => {
    const before = cpuMs(pids());
    const result = await phase();
    if (result.errors.length > 0) process.stderr.write(`${what}: ${result.failed} failed, e.g. ${result.errors.join(' | ')}\n`);
    add(`${what}/s (${clients} clients)`, result.perSecond, 'req/s');
    add(`${what} p50`, result.p50, 'ms');
    add(`${what} p99`, result.p99, 'ms');
    add(`${what} failed`, result.failed, 'requests');
    add(`${what} server CPU per request`, (cpuMs(pids()) - before) / Math.max(1, result.requests), 'ms');
    return result;
  };
}
