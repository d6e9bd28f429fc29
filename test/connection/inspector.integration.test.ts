import type { AnyActorRef, InspectionEvent } from 'xstate';
import { createConnectionSupervisor } from '../../src/connection';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/connection/config';
import { RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { StorageProcess } from './storage-process';

const config: ConnectionConfig = {
  ...DEFAULT_CONNECTION_CONFIG,
  healthCheckIntervalMs: 500,
  connectTimeoutMs: 1_000,
  probeTimeoutMs: 500,
  keepaliveTimeMs: 1_000,
  keepaliveTimeoutMs: 1_000,
  initialReconnectBackoffMs: 100,
  maxReconnectBackoffMs: 1_000,
};
const DETECT_MS = 15_000;
const silent = { info: () => undefined, warn: () => undefined } as never;

afterAll(async () => {
  await RingstoreProcess.killAll();
  StorageProcess.removeDataDirs();
});

describe('XState inspection of the real supervisor', () => {
  it('shows supervisor -> server -> connection and breaker, and a killed server going Ready -> ... -> Ready', async () => {
    const [victim, other] = [new StorageProcess(await freePort()), new StorageProcess(await freePort())];
    await Promise.all([victim.start(), other.start()]);
    const stream: InspectionEvent[] = [];
    const supervisor = createConnectionSupervisor({ config, logger: silent, inspect: (event) => void stream.push(event) });
    try {
      supervisor.update([{ id: 'victim', address: victim.address }, { id: 'other', address: other.address }]);
      await waitFor(() => supervisor.readyServerIds().length === 2, { what: 'both servers Ready', timeoutMs: DETECT_MS });

      await victim.kill();
      // A call to it fails, as the gateway's would: the victim's first failure spawns its breaker.
      supervisor.recordFailure('victim', new Error('UNAVAILABLE: connection refused'));
      await waitFor(() => !supervisor.isAvailable('victim'), { what: 'the victim to leave Ready', timeoutMs: DETECT_MS });
      await victim.start();
      await waitFor(() => supervisor.isAvailable('victim'), { what: 'the victim Ready again', timeoutMs: DETECT_MS });

      // The tree, as the inspection stream announces each actor with its parent.
      const actors = stream.filter((e) => e.type === '@xstate.actor').map((e) => e.actorRef as AnyActorRef);
      const root = actors.find((actor) => actor._parent === undefined);
      expect(root).toBe(supervisor.actor);
      const server = actors.find((actor) => actor.id === 'victim');
      expect(server?._parent).toBe(root);
      const children = actors.filter((actor) => actor._parent === server).map((actor) => actor.id).sort();
      expect(children).toEqual(['breaker', 'connection']);

      // The victim's connection, snapshot by snapshot: Ready, out of Ready, and Ready again.
      const connection = actors.find((actor) => actor.id === 'connection' && actor._parent === server)!;
      const states = stream
        .filter((e) => e.type === '@xstate.snapshot' && e.actorRef === connection)
        .map((e) => (e as unknown as { snapshot: { value: string } }).snapshot.value)
        .filter((state, i, all) => state !== all[i - 1]);
      const firstReady = states.indexOf('Ready');
      const lastReady = states.lastIndexOf('Ready');
      expect(firstReady).toBeGreaterThanOrEqual(0);
      expect(lastReady).toBeGreaterThan(firstReady + 1);
      expect(states.slice(firstReady + 1, lastReady).every((state) => state !== 'Ready')).toBe(true);
      expect(states.slice(firstReady + 1, lastReady).length).toBeGreaterThan(0);
      // The channel's reports reach the connection as events, the connection's reach its server.
      expect(stream.some((e) => e.type === '@xstate.event' && e.actorRef === server && e.sourceRef === connection && e.event.type === 'CONNECTION_ENTERED')).toBe(true);
    } finally {
      await supervisor.close();
    }
  }, 60_000);
});
