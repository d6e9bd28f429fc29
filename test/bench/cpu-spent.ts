import { cpuMs, type UpCluster } from './bench-cluster';

/**
 * CPU time (user + system, from /proc) the gateway and the storage servers spent on ringstore's
 * transfers, averaged over the rounds: where the work per byte goes, which the MB/s alone hide.
 */
export class CpuSpent {
  private readonly samples: Array<{ gateway: number; storage: number }> = [];

  async during<T>(cluster: UpCluster, transfer: () => Promise<T>): Promise<T> {
    const storagePids = cluster.storagePorts.map((port) => cluster.storagePid(port));
    const before = { gateway: cpuMs([cluster.proc.pid]), storage: cpuMs(storagePids) };
    const result = await transfer();
    this.samples.push({ gateway: cpuMs([cluster.proc.pid]) - before.gateway, storage: cpuMs(storagePids) - before.storage });
    return result;
  }

  /** Mean ms per transfer. */
  mean(side: 'gateway' | 'storage'): number {
    return this.samples.reduce((sum, sample) => sum + sample[side], 0) / Math.max(1, this.samples.length);
  }
}
