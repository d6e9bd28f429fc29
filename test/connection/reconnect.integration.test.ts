import { createConnectionSupervisor } from '../../src/connection';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/connection/config';
import type { StorageServerInfo } from '../../src/connection/types';
import { RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { recordingLogger } from './fakes';
import { StorageProcess } from './storage-process';

/** Short intervals so the bounds below are seconds, not minutes. */
const config: ConnectionConfig = {
  ...DEFAULT_CONNECTION_CONFIG,
  healthCheckIntervalMs: 500,
  connectTimeoutMs: 1_000,
  probeTimeoutMs: 500,
  readyWaitMs: 1_000,
  keepaliveTimeMs: 1_000,
  keepaliveTimeoutMs: 1_000,
  initialReconnectBackoffMs: 100,
  maxReconnectBackoffMs: 1_000,
};
/** A state change must show within the keepalive + connect timeout + a tick, with slack for CI. */
const DETECT_MS = 10_000;

const lines: string[] = [];
const logger = recordingLogger(lines);
const info = (server: StorageProcess, id: string): StorageServerInfo => ({ id, address: server.address });

afterAll(async () => {
  await RingstoreProcess.killAll();
  StorageProcess.removeDataDirs();
});

describe('connection supervisor against real storage servers', () => {
  it('a server killed with -9 and restarted on the same port is Ready again by itself', async () => {
    const server = new StorageProcess(await freePort());
    await server.start();
    const supervisor = createConnectionSupervisor({ config, logger });
    try {
      supervisor.update([info(server, 'a')]);
      await waitFor(() => supervisor.isAvailable('a'), { what: 'a Ready', timeoutMs: DETECT_MS });

      await server.kill();
      await waitFor(() => !supervisor.isAvailable('a'), { what: 'a to leave Ready', timeoutMs: DETECT_MS });
      await server.start();
      // No request: the actor reconnects on its own.
      await waitFor(() => supervisor.isAvailable('a'), { what: 'a Ready after restart', timeoutMs: DETECT_MS });
      const health = await (await supervisor.getClient('a')).healthCheck({ deadlineMs: 2_000 });
      expect(health.status).toBe('healthy');
      expect(supervisor.snapshot()[0]).toMatchObject({ state: 'Ready', reconnects: 1 });
      expect(lines).toContain(`Reconnected to storage server: a at ${server.address}`);
      expect(lines).toContainEqual(expect.stringMatching(/^Connection to server a is in state (Idle|TransientFailure), attempting reconnect$/));
    } finally {
      await supervisor.close();
    }
  });

  it('a hung server (SIGSTOP) leaves Ready, is skipped without hanging callers, and returns on SIGCONT', async () => {
    const [hung, healthy] = [new StorageProcess(await freePort()), new StorageProcess(await freePort())];
    await Promise.all([hung.start(), healthy.start()]);
    const supervisor = createConnectionSupervisor({ config, logger });
    try {
      supervisor.update([info(hung, 'hung'), info(healthy, 'healthy')]);
      await waitFor(() => supervisor.readyServerIds().length === 2, { what: 'both Ready', timeoutMs: DETECT_MS });

      hung.signal('SIGSTOP');
      await waitFor(() => !supervisor.isAvailable('hung'), { what: 'hung server to leave Ready', timeoutMs: DETECT_MS });
      expect(supervisor.readyServerIds()).toEqual(['healthy']);
      const client = await supervisor.getClient('healthy');
      await expect(client.healthCheck({ deadlineMs: 2_000 })).resolves.toMatchObject({ status: 'healthy' });
      // A caller asking for the hung server gets a clear refusal after the bounded wait.
      await expect(supervisor.getClient('hung', 300)).rejects.toThrow(/Storage server hung .* is not available/);

      hung.signal('SIGCONT');
      await waitFor(() => supervisor.isAvailable('hung'), { what: 'hung server Ready after SIGCONT', timeoutMs: DETECT_MS });
      await expect((await supervisor.getClient('hung')).healthCheck({ deadlineMs: 2_000 })).resolves.toMatchObject({ status: 'healthy' });
    } finally {
      await supervisor.close();
    }
  });

  it('a server down at start, for longer than grpc-js backoff would forgive, joins within a tick of coming up', async () => {
    const late = new StorageProcess(await freePort());
    const supervisor = createConnectionSupervisor({ config, logger });
    try {
      supervisor.update([info(late, 'late')]);
      // Let the outage span many reconnect attempts (grpc-js defaults would now back off ~4 s+).
      await waitFor(() => supervisor.snapshot()[0].since < Date.now() - 4_000 && supervisor.snapshot()[0].state !== 'Ready', {
        what: 'a long outage',
        timeoutMs: 10_000,
        intervalMs: 200,
      });
      expect(supervisor.isAvailable('late')).toBe(false);
      await late.start();
      // Bound: one tick + grpc's capped reconnect backoff (+ jitter), with slack for a busy CI.
      await waitFor(() => supervisor.isAvailable('late'), {
        what: 'late server Ready',
        timeoutMs: config.healthCheckIntervalMs + config.maxReconnectBackoffMs * 1.2 + 1_500,
      });
    } finally {
      await supervisor.close();
    }
  });
});
