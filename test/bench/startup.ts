/**
 * `npm run bench -- startup [--rounds N] [--idle-seconds S]`: how fast `ringstore up` (6 storage
 * servers, embedded PGlite) becomes usable and how much memory it holds once idle.
 * - cold: a first start on an empty data directory (the metadata database is created);
 * - warm: a start on the directory a clean stop left behind;
 * each timed from the spawn of `ringstore up` to a `/health` that answers healthy with every
 * storage server Ready, with the CPU time its processes spent until then (which a busy machine
 * does not stretch as it does the wall time). Medians of N rounds (default 3), with the extremes.
 * - idle memory: S seconds (default 5) after the last warm start, the RSS of each process of
 *   the tree (gateway, PGlite, each storage server, anything else) and in total, read from
 *   /proc; and the total PSS, which splits the pages processes share (node's code) among them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DIST, RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { cpuMs, freePortRun } from './bench-cluster';
import { percentile, type Figure } from './figures';
import { cmdline, processTree, pssKb, rssKb } from './proc-stats';

const SERVERS = 6;
const START_TIMEOUT_MS = 120_000;
const POLL_MS = 10;

interface Health {
  status: string;
  storage_servers: number;
}

export async function run(args: string[]): Promise<Figure[]> {
  const rounds = numberArg(args, '--rounds', 3);
  const idleSeconds = numberArg(args, '--idle-seconds', 5);
  const figures: Figure[] = [];
  const figure = (metric: string, value: number, unit: string) => figures.push({ bench: 'startup', metric, value, unit });
  figure('load average (1 min) when the bench began', os.loadavg()[0], '');

  const cold: number[] = [];
  const warm: number[] = [];
  const coldCpu: number[] = [];
  const warmCpu: number[] = [];
  let idle: Array<{ role: string; rssKb: number; pssKb: number }> = [];
  for (let round = 1; round <= rounds; round++) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-startup-'));
    try {
      const first = await startTimed(dataDir);
      cold.push(first.ms);
      coldCpu.push(first.cpuMs);
      await first.up.stopCleanly();
      const again = await startTimed(dataDir);
      warm.push(again.ms);
      warmCpu.push(again.cpuMs);
      if (round === rounds) {
        await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000)); // the figure is "idle after S s"
        idle = measureTree(again.up.pid);
      }
      await again.up.stopCleanly();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    process.stderr.write(`round ${round}: cold ${Math.round(cold.at(-1)!)} ms, warm ${Math.round(warm.at(-1)!)} ms\n`);
  }

  const spread = (values: number[]) => `median of ${values.length} (${Math.round(Math.min(...values))}-${Math.round(Math.max(...values))} ms)`;
  figure(`cold start (empty data dir) to healthy with ${SERVERS} servers Ready, ${spread(cold)}`, Math.round(percentile(cold, 50)), 'ms');
  figure(`warm start (existing data dir) to healthy with ${SERVERS} servers Ready, ${spread(warm)}`, Math.round(percentile(warm, 50)), 'ms');
  figure(`CPU time of every process until healthy, cold, ${spread(coldCpu)}`, Math.round(percentile(coldCpu, 50)), 'ms');
  figure(`CPU time of every process until healthy, warm, ${spread(warmCpu)}`, Math.round(percentile(warmCpu, 50)), 'ms');
  const mb = (kb: number) => Math.round(kb / 1024);
  for (const role of [...new Set(idle.map((p) => p.role))]) {
    const all = idle.filter((p) => p.role === role);
    const label = all.length > 1 ? `${role} (each of ${all.length}, max)` : role;
    figure(`idle RSS after ${idleSeconds} s: ${label}`, mb(Math.max(...all.map((p) => p.rssKb))), 'MB');
  }
  figure(`idle RSS after ${idleSeconds} s: total of ${idle.length} processes`, mb(idle.reduce((sum, p) => sum + p.rssKb, 0)), 'MB');
  figure(`idle PSS after ${idleSeconds} s: total (shared pages counted once)`, mb(idle.reduce((sum, p) => sum + p.pssKb, 0)), 'MB');
  figure('load average (1 min) when the bench ended', os.loadavg()[0], '');
  return figures;
}

/** Spawns `ringstore up` on dataDir and waits for a healthy /health with every server Ready. */
async function startTimed(dataDir: string): Promise<{ ms: number; cpuMs: number; up: StartedUp }> {
  const port = await freePort();
  const basePort = await freePortRun(SERVERS);
  const url = `http://127.0.0.1:${port}/health`;
  const t0 = performance.now();
  const proc = new RingstoreProcess(['up'], {
    PORT: String(port),
    DATA_DIR: dataDir,
    STORAGE_SERVERS: String(SERVERS),
    STORAGE_BASE_PORT: String(basePort),
    LOG_LEVEL: 'warn',
  }, { build: DIST });
  const up = new StartedUp(proc);
  try {
    await waitFor(async () => {
      const health = (await (await fetch(url)).json()) as Health;
      return health.status === 'healthy' && health.storage_servers === SERVERS;
    }, { timeoutMs: START_TIMEOUT_MS, intervalMs: POLL_MS, what: `a healthy /health with ${SERVERS} servers Ready` });
  } catch (error) {
    await proc.kill('SIGKILL');
    const tail = proc.lines.slice(-8).map((line) => JSON.stringify(line)).join('\n');
    throw new Error(`ringstore up did not become healthy: ${(error as Error).message}; its last log lines:\n${tail}`);
  }
  return { ms: performance.now() - t0, cpuMs: cpuMs(processTree(proc.pid)), up };
}

class StartedUp {
  constructor(private readonly proc: RingstoreProcess) {}

  get pid(): number {
    return this.proc.pid;
  }

  /** SIGTERM, as an operator stops it; the data directory is then whole for a warm start. */
  async stopCleanly(): Promise<void> {
    this.proc.signal('SIGTERM');
    const { code } = await this.proc.exited();
    if (code !== 0) throw new Error(`ringstore up exited with code ${code} after SIGTERM`);
  }
}

/** Every process of the tree under `root`, named by its role. */
function measureTree(root: number): Array<{ role: string; rssKb: number; pssKb: number }> {
  return processTree(root).map((pid) => ({ role: roleOf(pid, root), rssKb: rssKb(pid), pssKb: pssKb(pid) }));
}

function roleOf(pid: number, root: number): string {
  if (pid === root) return 'gateway (ringstore up)';
  const command = cmdline(pid);
  if (command.includes('pglite-child')) return 'metadata (PGlite)';
  if (command.includes('\0storage\0')) return 'storage server';
  return `other: ${command.split('\0')[0]}`;
}

function numberArg(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} wants a positive number, not "${args[index + 1]}"`);
  return value;
}
