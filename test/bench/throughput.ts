/**
 * `npm run bench -- throughput [--size MiB] [--rounds N]`: one large file (1 GiB) uploaded and
 * downloaded through `ringstore up` at R=1 and R=2, and the same transfers against the
 * reference server (nginx PUT / static GET) in the same run, interleaved so load drifts hit
 * both alike. Figures are the best of the rounds; ratios are ringstore / reference. The CPU the
 * gateway and the storage servers spend per GiB (mean of the rounds) shows where the work goes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startUp } from './bench-cluster';
import { CpuSpent } from './cpu-spent';
import type { Figure } from './figures';
import { startReference } from './reference-server';
import { downloadToNull, expectOk, hashFile, mbPerSecond, MiB, sizeArg, upload, writeTestFile } from './transfer';

const TIMEOUT_MS = 600_000;

export async function run(args: string[]): Promise<Figure[]> {
  const size = sizeArg(args, 1024);
  const rounds = Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 1);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-throughput-'));
  const reference = await startReference(work);
  const figures: Figure[] = [];
  const label = `${Math.round(size / MiB)} MiB`;
  const add = (metric: string, value: number, unit = 'MB/s') => figures.push({ bench: 'throughput', metric, value, unit });
  try {
    const source = path.join(work, 'source.bin');
    await writeTestFile(source, size);
    const checksum = await hashFile(source, 'sha256');
    const best = { refPut: 0, refGet: 0 };
    const results: Array<{ replication: number; put: number; get: number; putCpu: CpuSpent; getCpu: CpuSpent }> = [];
    for (const replication of [1, 2]) {
      const cluster = await startUp({ replication });
      const mine = { replication, put: 0, get: 0, putCpu: new CpuSpent(), getCpu: new CpuSpent() };
      try {
        for (let round = 0; round < rounds; round++) {
          const refPut = expectOk(await upload(`${reference.url}/source-copy.bin`, source, 'PUT', TIMEOUT_MS), size, 'reference PUT');
          best.refPut = Math.max(best.refPut, mbPerSecond(size, refPut.ms));
          const put = expectOk(await mine.putCpu.during(cluster, () => upload(`${cluster.url}/files?filename=bench.bin`, source, 'POST', TIMEOUT_MS)), size, 'ringstore upload');
          const stored = JSON.parse(put.body) as { file_id: string; checksum: string };
          if (stored.checksum !== checksum) throw new Error(`ringstore stored checksum ${stored.checksum}, the file has ${checksum}`);
          mine.put = Math.max(mine.put, mbPerSecond(size, put.ms));
          const refGet = expectOk(await downloadToNull(`${reference.url}/source-copy.bin`, TIMEOUT_MS), size, 'reference GET');
          best.refGet = Math.max(best.refGet, mbPerSecond(size, refGet.ms));
          const get = expectOk(await mine.getCpu.during(cluster, () => downloadToNull(`${cluster.url}/files/${stored.file_id}`, TIMEOUT_MS)), size, 'ringstore download');
          mine.get = Math.max(mine.get, mbPerSecond(size, get.ms));
          await fetch(`${cluster.url}/files/${stored.file_id}`, { method: 'DELETE' });
          process.stderr.write('.');
        }
      } finally {
        await cluster.stop();
      }
      results.push(mine);
    }
    process.stderr.write('\n');
    const perGiB = (ms: number) => Math.round((ms / 1000 / (size / 1024 / MiB)) * 100) / 100;
    for (const { replication, put, get, putCpu, getCpu } of results) {
      add(`upload ${label}, R=${replication}`, put);
      add(`download ${label}, R=${replication}`, get);
      add(`upload R=${replication} / ${reference.kind} PUT`, put / best.refPut, 'x');
      add(`download R=${replication} / ${reference.kind} GET`, get / best.refGet, 'x');
      for (const [what, spent] of [['upload', putCpu], ['download', getCpu]] as const) {
        add(`${what} R=${replication}: gateway CPU per GiB`, perGiB(spent.mean('gateway')), 's');
        add(`${what} R=${replication}: storage servers' CPU per GiB`, perGiB(spent.mean('storage')), 's');
      }
    }
    add(`${reference.kind} PUT ${label} (reference)`, best.refPut);
    add(`${reference.kind} static GET ${label} (reference)`, best.refGet);
  } finally {
    await reference.stop();
    await rm(work, { recursive: true, force: true });
  }
  return figures;
}
