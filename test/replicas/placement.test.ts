import * as grpc from '@grpc/grpc-js';
import type { ConnectionSupervisor } from '../../src/connection/types';
import { FULL_SERVER_PAUSE_MS, Placement } from '../../src/replicas/placement';
import { CallOutcomes } from '../../src/replicas/call-outcome';
import { HashRing } from '../../src/replicas/hash-ring';
import { clientCallError } from '../../src/rpc/storage-client';
import { busyTrailer } from '../../src/wire/busy-refusal';

describe('Placement', () => {
  const ring = new HashRing(['s1', 's2', 's3', 's4']);
  const unavailable = new Set<string>();
  const supervisor = { isAvailable: (id: string) => !unavailable.has(id) } as unknown as ConnectionSupervisor;

  it('walks the ring to available servers, and leaves a full one out of new chunks for a while', () => {
    let now = 1_000;
    const placement = new Placement(() => ring, supervisor, 2, () => now);
    const outcomes = new CallOutcomes({ recordSuccess: () => undefined, recordFailure: () => undefined }, (id) => placement.pauseFull(id));
    const chunkId = '3f0c6d1e-2b7a-4c5d-8e9f-0a1b2c3d4e5f';
    const [first, second] = placement.targets(chunkId);
    expect(new Set([first, second]).size).toBe(2);

    outcomes.failed(second, Object.assign(new Error('deadline exceeded'), { code: grpc.status.DEADLINE_EXCEEDED }));
    expect(placement.targets(chunkId)).toEqual([first, second]); // only a full disk pauses a server

    outcomes.failed(first, Object.assign(new Error('disk full'), { code: grpc.status.RESOURCE_EXHAUSTED }));
    const whileFull = placement.targets(chunkId);
    expect(whileFull).not.toContain(first);
    expect(whileFull).toHaveLength(2);
    expect(whileFull[0]).toBe(second); // the rest of the ring order is kept

    now += FULL_SERVER_PAUSE_MS;
    expect(placement.targets(chunkId)).toEqual([first, second]);
  });

  it('keeps a busy server in new chunks: busy passes in moments, unlike a full disk', () => {
    const placement = new Placement(() => ring, supervisor, 2);
    const outcomes = new CallOutcomes({ recordSuccess: () => undefined, recordFailure: () => undefined }, (id) => placement.pauseFull(id));
    const chunkId = '5b1e7c2a-9d4f-4a3b-8c6d-2e1f0a9b8c7d';
    const before = placement.targets(chunkId);
    for (const id of before) outcomes.failed(id, clientCallError(grpc.status.RESOURCE_EXHAUSTED, 'too many puts in progress (1); retry later', busyTrailer()));
    expect(placement.targets(chunkId)).toEqual(before);
  });

  it('skips servers the supervisor does not offer, and excluded ones', () => {
    const placement = new Placement(() => ring, supervisor, 2);
    const chunkId = 'a8e2b1c4-7d6f-4e3a-9b8c-1d2e3f4a5b6c';
    const [first] = placement.targets(chunkId);
    unavailable.add(first);
    try {
      expect(placement.targets(chunkId)).not.toContain(first);
      const [next] = placement.targets(chunkId);
      expect(placement.targets(chunkId, new Set([next]))).not.toContain(next);
    } finally {
      unavailable.clear();
    }
  });
});
