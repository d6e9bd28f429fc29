/**
 * `npm run bench -- supervisor [sizes...]`: the connection supervisor with 1,000 / 5,000 / 10,000
 * simulated servers on fake channels: time to spawn all, cost of one server changing (through
 * update() with the full list, and through add/remove), one shared tick, memory per connection.
 */
import { DEFAULT_CONNECTION_CONFIG } from '../../src/connection/config';
import { SupervisorHandle } from '../../src/connection/supervisor';
import { v8Gc, type V8Gc } from '../../src/wire/scavenge-pacer';
import { FakeClient, FakeClock, FakeDialer, READY, silentLogger } from '../connection/fakes';
import type { Figure } from './figures';

const gc = fullGc();

/** Memory is read after a full GC, so the figure is what the connections hold. */
function fullGc(): V8Gc {
  const gc = v8Gc();
  if (!gc) throw new Error('the supervisor bench reads memory after a full GC, and this V8 gives no gc()');
  return gc;
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
  const figures: Figure[] = [];
  for (const size of sizes.length ? sizes : [10, 1_000, 5_000, 10_000]) {
    const figure = (metric: string, value: number, unit: string) => figures.push({ bench: 'supervisor', metric: `${metric} (${size} servers)`, value, unit });
    const clock = new FakeClock();
    const dialer = new FakeDialer();
    const supervisor = new SupervisorHandle<FakeClient>({ config: DEFAULT_CONNECTION_CONFIG, dial: dialer.dial, clock, logger: silentLogger });
    const servers = Array.from({ length: size }, (_, i) => ({ id: `s${i}`, address: `10.0.${i >> 8}.${i & 255}:50051` }));

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    figure('spawn all', timeMs(() => supervisor.update(servers)), 'ms');
    for (const channel of dialer.dialled) channel.setState(READY);
    gc();
    figure('memory per connection', (process.memoryUsage().heapUsed - heapBefore) / size / 1024, 'KiB');

    // One server moves to a new address: the full-list update the ring refresh does...
    figure('one-server change via update(all)', medianMs(21, (run) => {
      const list = servers.slice();
      list[0] = { id: 's0', address: `moved-${run}:50051` };
      supervisor.update(list);
    }), 'ms');
    // ...and the single-server calls (join / leave).
    figure('one-server add+remove', medianMs(21, (run) => {
      supervisor.add({ id: `extra-${run}`, address: `extra-${run}:50051` });
      supervisor.remove(`extra-${run}`);
    }), 'ms');
    figure('one tick (event-loop time)', medianMs(5, () => supervisor.tick()), 'ms');
    figure('readyServerIds()', medianMs(11, () => supervisor.readyServerIds()), 'ms');
    await supervisor.close();
  }
  return figures;
}
