import { cpuMs } from './bench-cluster';
import type { Figure } from './figures';
import type { LoadResult } from './load';

/** Server processes by role (e.g. gateway, storage servers), each role's CPU reported on its own. */
export type ProcessGroups = Record<string, number[]>;

/**
 * What a bench reports of each closed-loop load phase: `measured(what, pids, phase)` runs the
 * phase and adds its requests per second, p50 and p99 latency, failures and the CPU time the
 * server processes (`pids`, read from /proc) spent per request to `figures`; with pids by role,
 * each role's share too; and the bench process's own CPU per request (the client, which shares
 * the cores), unless it is among the servers.
 */
export function phaseMeasurer(bench: string, clients: number, figures: Figure[]) {
  const add = (metric: string, value: number, unit: string) => figures.push({ bench, metric, value, unit });
  return async (what: string, pids: () => number[] | ProcessGroups, phase: () => Promise<LoadResult>): Promise<LoadResult> => {
    const listed = pids();
    const groups = Array.isArray(listed) ? { all: listed } : listed;
    const before = Object.values(groups).map(cpuMs);
    const client = process.cpuUsage();
    const result = await phase();
    const { user, system } = process.cpuUsage(client);
    if (result.errors.length > 0) process.stderr.write(`${what}: ${result.failed} failed, e.g. ${result.errors.join(' | ')}\n`);
    add(`${what}/s (${clients} clients)`, result.perSecond, 'req/s');
    add(`${what} p50`, result.p50, 'ms');
    add(`${what} p99`, result.p99, 'ms');
    add(`${what} failed`, result.failed, 'requests');
    const spent = Object.values(groups).map((group, index) => (cpuMs(group) - before[index]) / Math.max(1, result.requests));
    add(`${what} server CPU per request`, spent.reduce((sum, ms) => sum + ms, 0), 'ms');
    if (!Array.isArray(listed)) Object.keys(groups).forEach((role, index) => add(`${what} CPU per request: ${role}`, spent[index], 'ms'));
    if (!Object.values(groups).flat().includes(process.pid)) add(`${what} bench client CPU per request`, (user + system) / 1000 / Math.max(1, result.requests), 'ms');
    return result;
  };
}
