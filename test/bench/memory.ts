/**
 * `npm run bench -- memory [--size MiB] [--replication R]`: peak resident memory of the gateway
 * (the `ringstore up` process), of the storage servers and of the embedded metadata database
 * (PGlite, a child process of its own) while one file is uploaded and then downloaded, at
 * 100 MiB and at the large size (5 GiB), each on a fresh cluster. RSS is sampled from
 * /proc/<pid>/status every 100 ms; the goal is a flat figure whatever the file size.
 */
import { statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startUp } from './bench-cluster';
import { childPids, cmdline, rssKb } from './proc-stats';
import type { Figure } from './figures';
import { downloadToNull, MiB, sizeArg, upload, writeTestFile } from './transfer';

const TIMEOUT_MS = 1_800_000;
const SAMPLE_MS = 100;

export async function run(args: string[]): Promise<Figure[]> {
  const large = sizeArg(args, 5 * 1024);
  const replication = Number(args[args.indexOf('--replication') + 1]) || 1;
  const sizes = [Math.min(100 * MiB, large), large].filter((size, i, all) => all.indexOf(size) === i);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-memory-'));
  const needed = large * (1 + replication) * 1.1;
  const { bavail, bsize } = statfsSync(work);
  if (bavail * bsize < needed) throw new Error(`memory bench needs ${Math.ceil(needed / 2 ** 30)} GiB free in ${os.tmpdir()}, has ${Math.floor((bavail * bsize) / 2 ** 30)}`);
  const figures: Figure[] = [];
  const add = (metric: string, kb: number) => figures.push({ bench: 'memory', metric, value: Math.round(kb / 1024), unit: 'MB' });
  try {
    for (const size of sizes) {
      const label = size >= 1024 * MiB ? `${+(size / 1024 / MiB).toFixed(1)} GiB` : `${Math.round(size / MiB)} MiB`;
      const source = path.join(work, 'source.bin');
      await writeTestFile(source, size);
      const cluster = await startUp({ replication });
      try {
        const idle = rssKb(cluster.proc.pid);
        const sampler = new PeakSampler(cluster.proc.pid);
        const put = await upload(`${cluster.url}/files?filename=big.bin`, source, 'POST', TIMEOUT_MS);
        if (put.status !== 201) throw new Error(`upload answered ${put.status}: ${put.body.slice(0, 300)}`);
        const afterUpload = sampler.take();
        const { file_id: fileId } = JSON.parse(put.body) as { file_id: string };
        const get = await downloadToNull(`${cluster.url}/files/${fileId}`, TIMEOUT_MS);
        if (get.status !== 200 || get.bytes !== size) throw new Error(`download answered ${get.status} with ${get.bytes} of ${size} bytes`);
        const afterDownload = sampler.take();
        sampler.stop();
        add(`gateway RSS idle before ${label}`, idle);
        add(`gateway peak RSS, upload ${label} (R=${replication})`, afterUpload.gateway);
        add(`gateway peak RSS, download ${label}`, afterDownload.gateway);
        add(`gateway peak RSS above idle, ${label}`, Math.max(afterUpload.gateway, afterDownload.gateway) - idle);
        add(`storage server peak RSS, upload ${label}`, afterUpload.storage);
        add(`storage server peak RSS, download ${label}`, afterDownload.storage);
        add(`metadata process (PGlite) peak RSS, upload ${label}`, afterUpload.metadata);
        add(`metadata process (PGlite) peak RSS, download ${label}`, afterDownload.metadata);
        process.stderr.write('.');
      } finally {
        await cluster.stop();
        await rm(source, { force: true });
      }
    }
    process.stderr.write('\n');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return figures;
}

/**
 * Peak VmRSS of the gateway, of the largest storage server and of the embedded metadata
 * database's process, per phase (take() resets). The up process's children are told apart by
 * their command lines (it has others, such as tsx's esbuild service).
 */
class PeakSampler {
  private gateway = 0;
  private storage = 0;
  private metadata = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly gatewayPid: number) {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  take(): { gateway: number; storage: number; metadata: number } {
    this.sample();
    const peaks = { gateway: this.gateway, storage: this.storage, metadata: this.metadata };
    this.gateway = this.storage = this.metadata = 0;
    return peaks;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    this.gateway = Math.max(this.gateway, rssKb(this.gatewayPid));
    for (const pid of childPids(this.gatewayPid)) {
      const command = cmdline(pid);
      if (command.includes('pglite-child.cjs')) this.metadata = Math.max(this.metadata, rssKb(pid));
      else if (command.includes('\0storage\0')) this.storage = Math.max(this.storage, rssKb(pid));
    }
  }
}
