/**
 * `npm run bench -- reconnect [restarts]`: a real storage server is killed (-9) and restarted on
 * the same port, over and over, with the connection layer on its default settings. Measured from
 * the moment the restarted server logs `listening`:
 * - to its actor being Ready again by itself (no request made);
 * - to the first successful request, when a caller asks right away (the on-demand reconnect path).
 * The two are measured on alternate restarts so the request never helps the passive figure.
 * Outages last a random 0-1.5 s on top of the restart, to sample every phase of grpc's backoff.
 */
import { createConnectionSupervisor, loadConnectionConfig } from '../../src/connection';
import { RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { StorageProcess } from '../connection/storage-process';
import { percentile, type Figure } from './figures';

const silent = { info: () => undefined, warn: () => undefined } as never;

export async function run(args: string[]): Promise<Figure[]> {
  const restarts = Number(args[0]) > 0 ? Number(args[0]) : 20;
  const server = new StorageProcess(await freePort());
  const supervisor = createConnectionSupervisor({ config: loadConnectionConfig(process.env), logger: silent });
  let readyAt = 0;
  supervisor.onTransition((event) => {
    if (event.machine === 'connection' && event.to === 'Ready') readyAt = event.at;
  });
  const toReady: number[] = [];
  const toRequest: number[] = [];
  try {
    await server.start();
    supervisor.update([{ id: 'bench', address: server.address }]);
    await waitFor(() => supervisor.isAvailable('bench'), { what: 'first Ready', timeoutMs: 15_000 });
    for (let i = 0; i < restarts * 2; i++) {
      await server.kill();
      await waitFor(() => !supervisor.isAvailable('bench'), { what: 'actor to leave Ready', timeoutMs: 15_000 });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1_500));
      const listening = await server.start();
      if (i % 2 === 0) {
        await waitFor(() => supervisor.isAvailable('bench'), { what: 'Ready after restart', timeoutMs: 60_000, intervalMs: 2 });
        toReady.push(readyAt - listening);
      } else {
        await waitFor(async () => {
          const client = await supervisor.getClient('bench', 5_000);
          return (await client.healthCheck({ deadlineMs: 2_000 })).status === 'healthy';
        }, { what: 'first successful request', timeoutMs: 60_000, intervalMs: 2 });
        toRequest.push(Date.now() - listening);
      }
      process.stderr.write('.');
    }
    process.stderr.write('\n');
  } finally {
    await supervisor.close();
    await RingstoreProcess.killAll();
    StorageProcess.removeDataDirs();
  }
  const figure = (metric: string, value: number): Figure => ({ bench: 'reconnect', metric, value, unit: 'ms' });
  return [
    figure(`listening -> actor Ready, p50 (${toReady.length} restarts)`, percentile(toReady, 50)),
    figure(`listening -> actor Ready, p99 (${toReady.length} restarts)`, percentile(toReady, 99)),
    figure(`listening -> actor Ready, max`, Math.max(...toReady)),
    figure(`listening -> first successful request, p50 (${toRequest.length} restarts)`, percentile(toRequest, 50)),
    figure(`listening -> first successful request, p99 (${toRequest.length} restarts)`, percentile(toRequest, 99)),
  ];
}
