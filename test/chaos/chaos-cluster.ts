import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FAST_CLUSTER_ENV, startCluster, StorageNode, type Cluster } from '../helpers/cluster';
import { RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);

export const STORAGE_SERVERS = 6;
export const REPLICATION_FACTOR = 2;

/** The cluster's settings: fast reconnects, R=2, repair running during the run, scrub on demand. */
export const CHAOS_ENV: Record<string, string> = {
  ...FAST_CLUSTER_ENV,
  // The production keepalive timeout (5 s), not the helpers' 1 s: on an overloaded machine a
  // 1 s timeout drops every healthy connection at once when a restarting server hogs the CPU,
  // which tests the machine's load rather than ringstore.
  GRPC_KEEPALIVE_TIME_MS: '5000',
  GRPC_KEEPALIVE_TIMEOUT_MS: '5000',
  REPLICATION_FACTOR: String(REPLICATION_FACTOR),
  REPAIR_INTERVAL_MS: '5000',
  SCRUB_INTERVAL_MS: '0',
  SCRUB_RATE: '0',
  SCRUB_CHUNKS_PER_RUN: '1000000',
  CLEANUP_INTERVAL_MS: '10000',
  // The drain fault: a drain that takes seconds (another server is killed meanwhile), picked up
  // within a second, its moved copies deleted after 6 s (longer than the file cache's 5 s).
  DRAIN_INTERVAL_MS: '1000',
  MOVE_BANDWIDTH: '4MiB',
  MOVE_DELETE_DELAY_MS: '6000',
};

/** A filesystem small enough to fill: the diskfull fault's target server keeps its data here. */
export interface SmallDisk {
  mountPoint: string;
  node: StorageNode;
}

/**
 * The chaos cluster: gateway + 6 storage servers as real processes (startCluster), plus what
 * faults need: restarting the gateway on its port and data, and one server on a small tmpfs.
 */
export class ChaosCluster {
  /** Processes that exited without a fault stopping them: crashes (must be none). */
  readonly unexpectedExits: string[] = [];
  private readonly expectedExits = new WeakSet<RingstoreProcess>();
  private stopping = false;

  private constructor(
    readonly cluster: Cluster,
    readonly smallDisk: SmallDisk | undefined,
    /** Why there is no small disk (diskfull is skipped), when there is none. */
    readonly smallDiskUnavailable: string | undefined,
  ) {
    this.watch(cluster.gateway.proc, 'gateway');
    for (const node of cluster.storage) this.watch(node.proc, `storage server ${node.serverId}`);
  }

  /** Records the process's exit as a crash unless a fault (or the end of the run) stopped it. */
  private watch(proc: RingstoreProcess, label: string): void {
    void proc.exited().then(({ code, signal }) => {
      if (this.stopping || this.expectedExits.has(proc)) return;
      const lastError = [...proc.lines].reverse().find((l) => l.level === 'error' || /Error\b/.test(l.message));
      this.unexpectedExits.push(`${label} (pid ${proc.pid}) exited with ${signal ?? `code ${code}`}${lastError ? `; last words: ${lastError.message.slice(0, 200)}` : ''}`);
    });
  }

  /** Stops a storage server on purpose (a fault). */
  async stopNode(node: StorageNode, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    this.expectedExits.add(node.proc);
    await stopProcess(node.proc, signal);
  }

  /** Starts a storage server again on its port and data. */
  async startNode(node: StorageNode): Promise<void> {
    await node.start(node.port);
    this.watch(node.proc, `storage server ${node.serverId}`);
  }

  static async start(options: { postgresUrl?: string; wantSmallDisk: boolean; smallDiskBytes: number }): Promise<ChaosCluster> {
    const normalServers = options.wantSmallDisk ? STORAGE_SERVERS - 1 : STORAGE_SERVERS;
    const cluster = await startCluster({ storageServers: normalServers, postgresUrl: options.postgresUrl, env: CHAOS_ENV });
    if (!options.wantSmallDisk) return new ChaosCluster(cluster, undefined, 'not asked for');
    const mountPoint = await mkdtemp(path.join(os.tmpdir(), 'ringstore-chaos-disk-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${options.smallDiskBytes}`, 'ringstore-chaos', mountPoint]);
    } catch (error) {
      // No root or no mount(8): run with a normal sixth server and say why diskfull is skipped.
      await rm(mountPoint, { recursive: true, force: true });
      await cluster.addStorage();
      await cluster.waitForReady(STORAGE_SERVERS);
      return new ChaosCluster(cluster, undefined, `cannot mount a tmpfs: ${(error as Error).message.split('\n')[0]}`);
    }
    const node = new StorageNode(path.join(mountPoint, 'data'), cluster.gateway.url, cluster.env);
    await node.start(0);
    cluster.storage.push(node);
    await cluster.waitForReady(STORAGE_SERVERS);
    return new ChaosCluster(cluster, { mountPoint, node }, undefined);
  }

  get gatewayUrl(): string {
    return this.cluster.gateway.url;
  }

  get storage(): StorageNode[] {
    return this.cluster.storage;
  }

  nodeOf(serverId: string): StorageNode | undefined {
    return this.cluster.storage.find((s) => s.serverId === serverId);
  }

  /**
   * Waits until the gateway's connection to every storage server is Ready (generous: the machine
   * may be loaded). The breaker is not waited for: it is the gateway's policy, and requests it
   * still refuses after the window count as failures with no fault active.
   */
  async waitForAllReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        const res = await fetch(`${this.gatewayUrl}/admin/connections`, { signal: AbortSignal.timeout(5_000) });
        const body = (await res.json()) as { servers: Array<{ server_id: string; state: string }> };
        const ready = new Set(body.servers.filter((s) => s.state === 'Ready').map((s) => s.server_id));
        return this.cluster.storage.every((node) => ready.has(node.serverId));
      },
      { timeoutMs, intervalMs: 200, what: `the gateway's connections to all ${STORAGE_SERVERS} storage servers Ready` },
    );
  }

  /** Stops the gateway (SIGKILL: mid-request; SIGTERM: clean) and starts it again on the same port and data. */
  async restartGateway(signal: 'SIGKILL' | 'SIGTERM', extraEnv: Record<string, string> = {}): Promise<void> {
    const gateway = this.cluster.gateway;
    this.expectedExits.add(gateway.proc);
    await stopProcess(gateway.proc, signal);
    const args = ['gateway', '--host', '127.0.0.1', '--port', String(gateway.port), '--data', path.join(this.cluster.root, 'gateway-1')];
    gateway.proc = new RingstoreProcess(args, { ...this.cluster.env, ...extraEnv });
    this.watch(gateway.proc, 'gateway');
    await gateway.proc.waitForLine((l) => l.event === 'listening', 60_000, 'restarted gateway listening');
  }

  /** Brings every process back after the faults: continues stopped servers, starts dead ones. */
  async restoreAll(): Promise<void> {
    for (const node of this.cluster.storage) {
      if (isRunning(node.proc)) node.proc.signal('SIGCONT');
      else await this.startNode(node);
    }
    if (!isRunning(this.cluster.gateway.proc)) await this.restartGateway('SIGKILL');
    await this.waitForAllReady();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.cluster.stop().catch(() => undefined);
    await RingstoreProcess.killAll();
    if (this.smallDisk) {
      await run('umount', [this.smallDisk.mountPoint]).catch(() => undefined);
      await rm(this.smallDisk.mountPoint, { recursive: true, force: true });
    }
  }
}

export function isRunning(proc: RingstoreProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** SIGTERM with a SIGKILL fallback, so a stop never hangs the run. */
export async function stopProcess(proc: RingstoreProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  if (!isRunning(proc)) return;
  if (signal === 'SIGKILL') return proc.kill('SIGKILL');
  proc.signal('SIGCONT');
  const fallback = setTimeout(() => proc.signal('SIGKILL'), 15_000);
  await proc.kill('SIGTERM');
  clearTimeout(fallback);
}
