import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DIST, RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { childPids, cmdline } from './proc-stats';

export { childPids } from './proc-stats';

export interface UpCluster {
  url: string;
  /** The `ringstore up` process: it hosts the gateway. */
  proc: RingstoreProcess;
  dataDir: string;
  storagePorts: number[];
  /** Pid of the storage server child listening on `port` (it changes when it is restarted). */
  storagePid(port: number): number;
  readyCount(): Promise<number>;
  stop(): Promise<void>;
}

export interface UpOptions {
  servers?: number;
  replication: number;
  env?: Record<string, string>;
}

/**
 * A `ringstore up` on loopback with default settings, as a user would run it: the gateway in
 * the up process and its storage servers as supervised children.
 */
export async function startUp(options: UpOptions): Promise<UpCluster> {
  const servers = options.servers ?? 6;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-bench-'));
  const port = await freePort();
  const basePort = await freePortRun(servers);
  const proc = new RingstoreProcess(['up'], {
    PORT: String(port),
    DATA_DIR: dataDir,
    STORAGE_SERVERS: String(servers),
    STORAGE_BASE_PORT: String(basePort),
    REPLICATION_FACTOR: String(options.replication),
    LOG_LEVEL: 'warn',
    ...options.env,
  }, { build: DIST });
  const url = `http://127.0.0.1:${port}`;
  const cluster: UpCluster = {
    url,
    proc,
    dataDir,
    storagePorts: Array.from({ length: servers }, (_, i) => basePort + i),
    storagePid: (storagePort) => {
      const pid = childPids(proc.pid).find((child) => cmdline(child).includes(`--port\0${storagePort}\0`));
      if (!pid) throw new Error(`no storage server process on port ${storagePort}`);
      return pid;
    },
    readyCount: async () => {
      const res = await fetch(`${url}/health`);
      return ((await res.json()) as { storage_servers: number }).storage_servers;
    },
    stop: async () => {
      const children = childPids(proc.pid);
      await proc.kill('SIGKILL');
      for (const pid of children) killQuietly(pid);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => (await cluster.readyCount()) >= servers, { timeoutMs: 180_000, intervalMs: 200, what: `${servers} ready storage servers` });
  } catch (error) {
    await cluster.stop();
    const tail = proc.lines.slice(-8).map((line) => JSON.stringify(line)).join('\n');
    throw new Error(`ringstore up did not come up: ${(error as Error).message}; its last log lines:\n${tail}`);
  }
  return cluster;
}

/** `count` consecutive free loopback ports (up wants STORAGE_BASE_PORT..+count-1). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`found no run of ${count} free ports`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    if (signal === 'SIGKILL') process.kill(pid, 'SIGCONT');
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** CPU time (user + system) the processes used so far, in ms. */
/** ringstore's processes by role: the up process (the gateway), its storage servers, and the metadata store's child. */
export function pidsByRole(cluster: UpCluster): Record<string, number[]> {
  const storage = cluster.storagePorts.map((port) => cluster.storagePid(port));
  return {
    gateway: [cluster.proc.pid],
    'storage servers': storage,
    metadata: childPids(cluster.proc.pid).filter((pid) => !storage.includes(pid)),
  };
}

export function cpuMs(pids: number[]): number {
  // utime, stime (fields 14 and 15)
  return pids.reduce((sum, pid) => sum + statTicks(pid, 11), 0) * 10; // USER_HZ is 100 on Linux
}

/** CPU time (user + system, ms) of this process's children that ended and were waited for, e.g. a curl. */
export function endedChildrenCpuMs(): number {
  return statTicks(process.pid, 13) * 10; // cutime, cstime (fields 16 and 17)
}

/** Two adjacent tick counts of /proc/<pid>/stat added, `at` counted after the command name; 0 once gone. */
function statTicks(pid: number, at: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[at]) + Number(fields[at + 1]);
  } catch {
    return 0; // gone
  }
}
