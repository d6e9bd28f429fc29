/**
 * `npm run bench -- hung [--seconds S]`: downloads of 1 MiB files (6 chunks each, R=2) by 16
 * clients through `ringstore up` with default settings; one storage server is frozen with
 * SIGSTOP for S seconds (default 15), then resumed. Figures: p99 and max request latency of
 * requests overlapping the hang, failed requests, and the time from SIGSTOP until the last
 * request slowed by the frozen server finished (after it, no request waits on that server).
 */
import { randomBytes } from 'node:crypto';
import { startUp, killQuietly } from './bench-cluster';
import { percentile, type Figure } from './figures';
import { closedLoop, keepAliveAgent, request } from './load';

const FILES = 24;
const FILE_BYTES = 1024 * 1024;
const CLIENTS = 16;
const BASELINE_MS = 4_000;

interface Sample { start: number; end: number; ok: boolean }

export async function run(args: string[]): Promise<Figure[]> {
  const hangMs = (Number(args[args.indexOf('--seconds') + 1]) || 15) * 1000;
  const cluster = await startUp({ replication: 2 });
  const agent = keepAliveAgent(CLIENTS);
  const samples: Sample[] = [];
  let stoppedPid = 0;
  try {
    const files: Array<{ id: string; data: Buffer }> = [];
    for (let i = 0; i < FILES; i++) {
      const data = randomBytes(FILE_BYTES);
      const reply = await request(agent, `${cluster.url}/files?filename=hung-${i}.bin`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
      files.push({ id: (JSON.parse(reply.body.toString()) as { file_id: string }).file_id, data });
    }
    let stopAt = 0;
    let resumeAt = 0;
    const load = closedLoop(CLIENTS, BASELINE_MS + hangMs + BASELINE_MS, async (_, n) => {
      const file = files[n % files.length];
      const start = performance.now();
      let ok = false;
      try {
        const reply = await request(agent, `${cluster.url}/files/${file.id}`, { timeoutMs: 60_000 });
        ok = reply.status === 200 && reply.body.equals(file.data);
        if (!ok) throw new Error(`download of ${file.id} answered ${reply.status} with ${reply.body.length} bytes, not the uploaded ones`);
      } finally {
        samples.push({ start, end: performance.now(), ok });
      }
    });
    await delay(BASELINE_MS);
    stoppedPid = cluster.storagePid(cluster.storagePorts[0]);
    process.kill(stoppedPid, 'SIGSTOP');
    stopAt = performance.now();
    await delay(hangMs);
    process.kill(stoppedPid, 'SIGCONT');
    resumeAt = performance.now();
    const result = await load;
    if (result.errors.length > 0) process.stderr.write(`hung: ${result.failed} failed, e.g. ${result.errors.join(' | ')}\n`);
    const before = samples.filter((s) => s.end < stopAt).map((s) => s.end - s.start);
    const during = samples.filter((s) => s.end > stopAt && s.start < resumeAt);
    const latencies = during.map((s) => s.end - s.start);
    // "Slowed by the frozen server": slower than 99% of the requests before the hang.
    const slow = Math.max(250, percentile(before, 99));
    const lastSlowEnd = Math.max(stopAt, ...during.filter((s) => s.end - s.start > slow).map((s) => s.end));
    const figure = (metric: string, value: number, unit = 'ms'): Figure => ({ bench: 'hung', metric, value, unit });
    return [
      figure(`request p99 before the hang (${CLIENTS} clients, 1 MiB files)`, percentile(before, 99)),
      figure(`request p99 during a ${hangMs / 1000} s SIGSTOP of 1 of 6 servers`, percentile(latencies, 99)),
      figure('request max during the hang', Math.max(...latencies)),
      figure(`SIGSTOP -> last request slowed by it done (> ${Math.round(slow)} ms)`, lastSlowEnd - stopAt),
      figure('requests during the hang', during.length, 'requests'),
      figure('failed or wrong requests', samples.filter((s) => !s.ok).length, 'requests'),
    ];
  } finally {
    if (stoppedPid) killQuietly(stoppedPid, 'SIGCONT');
    agent.destroy();
    await cluster.stop();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
