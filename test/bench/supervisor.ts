/**
 * `npm run bench -- supervisor [sizes...]`: the connection supervisor with 1,000 / 5,000 / 10,000
 * simulated servers on fake channels: time to spawn all, cost of one server changing (through
 * update() with the full list, and through add/remove), the shared tick over one interval with
 * every quiet Ready server probed and its probe answered, memory per connection.
 */
import os from 'node:os';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/connection/config';
import type * as SupervisorModule from '../../src/connection/supervisor';
import { v8Gc, type V8Gc } from '../../src/wire/scavenge-pacer';
import { FakeClient, FakeClock, FakeDialer, READY, silentLogger } from '../connection/fakes';
import type { Figure } from './figures';

/**
 * The compiled supervisor (`npm run bench` builds dist/ first), as the gateway runs it: through
 * tsx, every closure would also pay for tsx's function naming.
 */
const { SupervisorHandle } = require('../../dist/src/connection/supervisor') as typeof SupervisorModule;

const gc = fullGc();

/** Memory is read after a full GC, so the figure is what the connections hold. */
function fullGc(): V8Gc {
  const gc = v8Gc();
  if (!gc) throw new Error('the supervisor bench reads memory after a full GC, and this V8 gives no gc()');
  return gc;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function timeMs(action: () => void): number {
  const started = process.hrtime.bigint();
  action();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Median of `runs` timings: one change is too fast to time once. */
function medianMs(runs: number, action: (run: number) => void): number {
  const times = Array.from({ length: runs }, (_, run) => timeMs(() => action(run))).sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

export async function run(args: string[]): Promise<Figure[]> {
  const sizes = args.map(Number).filter((n) => n > 0);
  const figures: Figure[] = [{ bench: 'supervisor', metric: 'load average at start (1 min)', value: os.loadavg()[0], unit: '' }];
  for (const size of sizes.length ? sizes : [10, 1_000, 5_000, 10_000]) {
    const figure = (metric: string, value: number, unit: string) => figures.push({ bench: 'supervisor', metric: `${metric} (${size} servers)`, value, unit });
    const clock = new FakeClock();
    const dialer = new FakeDialer();
    // Every probe started, to be answered as soon as the bench lets time pass.
    const unanswered: Array<() => void> = [];
    const dial = (address: string) => {
      const dialled = dialer.dial(address);
      dialled.client.healthCheck = () => new Promise((resolve) => unanswered.push(() => resolve(undefined)));
      return dialled;
    };
    const supervisor = new SupervisorHandle<FakeClient>({ config: DEFAULT_CONNECTION_CONFIG, dial, clock, logger: silentLogger });
    const servers = Array.from({ length: size }, (_, i) => ({ id: `s${i}`, address: `10.0.${i >> 8}.${i & 255}:50051` }));

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const spawnCpu = cpuMs();
    figure('spawn all', timeMs(() => supervisor.update(servers)), 'ms');
    figure('spawn all, CPU', cpuMs() - spawnCpu, 'ms');
    for (const channel of dialer.dialled) channel.setState(READY);
    gc();
    figure('memory per connection', (process.memoryUsage().heapUsed - heapBefore) / size / 1024, 'KiB');

    // One server moves to a new address: the full-list update the ring refresh does...
    const changeCpu = cpuMs();
    figure('one-server change via update(all)', medianMs(21, (run) => {
      const list = servers.slice();
      list[0] = { id: 's0', address: `moved-${run}:50051` };
      supervisor.update(list);
    }), 'ms');
    figure('one-server change via update(all), mean CPU', (cpuMs() - changeCpu) / 21, 'ms');
    // ...and the single-server calls (join / leave).
    figure('one-server add+remove', medianMs(21, (run) => {
      supervisor.add({ id: `extra-${run}`, address: `extra-${run}:50051` });
      supervisor.remove(`extra-${run}`);
    }), 'ms');
    // The shared tick as its timer runs it, over one interval (after one to settle): time passes
    // in 50 ms steps, each step's timer firings are timed, and the probes they start are answered
    // right after. The longest step is the longest the tick holds the event loop.
    const interval = DEFAULT_CONNECTION_CONFIG.healthCheckIntervalMs;
    const STEP_MS = 50;
    let longestMs = 0, longestCpuMs = 0, answerMs = 0, probes = 0, tickCpu = 0;
    for (let round = 0; round < 2; round++) {
      [longestMs, longestCpuMs, answerMs, probes] = [0, 0, 0, 0];
      const roundCpu = cpuMs();
      for (let elapsed = 0; elapsed < interval; elapsed += STEP_MS) {
        const stepCpu = cpuMs();
        longestMs = Math.max(longestMs, timeMs(() => clock.advance(STEP_MS)));
        longestCpuMs = Math.max(longestCpuMs, cpuMs() - stepCpu);
        if (unanswered.length === 0) continue;
        probes += unanswered.length;
        const answering = process.hrtime.bigint();
        for (const answer of unanswered.splice(0)) answer();
        await new Promise((resolve) => setImmediate(resolve));
        answerMs += Number(process.hrtime.bigint() - answering) / 1e6;
      }
      tickCpu = cpuMs() - roundCpu;
    }
    figure('one tick (event-loop time): longest firing in an interval', longestMs, 'ms');
    figure('one tick: longest firing in an interval, CPU', longestCpuMs, 'ms');
    figure('probes started in one interval', probes, '');
    figure('probe answers in one interval (event-loop time)', answerMs, 'ms');
    figure('tick and probe answers, CPU per interval', tickCpu, 'ms');
    figure('readyServerIds()', medianMs(11, () => supervisor.readyServerIds()), 'ms');
    await supervisor.close();
  }
  figures.push({ bench: 'supervisor', metric: 'load average at end (1 min)', value: os.loadavg()[0], unit: '' });
  return figures;
}
