import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { ChunkRecord } from '../../src/metadata/types';
import { CallOutcomes } from '../../src/replicas/call-outcome';
import { readChunk, type ChunkReadDeps } from '../../src/replicas/chunk-read';
import type { StorageClient } from '../../src/rpc/storage-client';
import { createLogger } from '../../src/util/logger';
import type { ChunkRange } from '../../src/wire/chunk-range';

/**
 * readChunk against fake storage clients (one unit: which calls it makes, and what it does
 * with their outcomes); the servers' side of ReadChunk and GetChunk is tested on real processes
 * in test/storage/storage-server.test.ts.
 */
const MiB = 1024 * 1024;
const failure = (code: grpc.status) => Object.assign(new Error(`${code} ${grpc.status[code]}`), { code });

interface FakeServer {
  /** What ReadChunk answers: the bytes, a failure, or never (undefined). */
  readChunk?: (range: Required<ChunkRange>) => Promise<Buffer>;
  /** The frames GetChunk sends for a range, then optionally a failure. */
  getChunk?: (range: Required<ChunkRange>) => { frames: Buffer[]; error?: Error };
}

function setUp(servers: Record<string, FakeServer>) {
  const calls: string[] = [];
  const bad: string[] = [];
  const breakerFailures: string[] = [];
  const client = (id: string): StorageClient => {
    const server = servers[id];
    return {
      // As grpc-js does: the call fails with DEADLINE_EXCEEDED once its deadline passes.
      readChunk: (_chunkId: string, range: Required<ChunkRange>, options: { deadlineMs: number }) => {
        calls.push(`${id} ReadChunk ${range.offset}+${range.length} within ${options.deadlineMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(failure(grpc.status.DEADLINE_EXCEEDED)), options.deadlineMs);
        });
        return Promise.race([server.readChunk!(range), deadline]).finally(() => clearTimeout(timer));
      },
      getChunk: (_chunkId: string, range: Required<ChunkRange>) => {
        calls.push(`${id} GetChunk ${range.offset}+${range.length}`);
        const { frames, error } = server.getChunk!(range);
        return Readable.from((async function* () {
          yield* frames;
          if (error) throw error;
        })(), { objectMode: true });
      },
    } as unknown as StorageClient;
  };
  const deps: ChunkReadDeps = {
    supervisor: { getClient: async (id) => client(id), isAvailable: () => true },
    outcomes: new CallOutcomes({ recordSuccess: () => undefined, recordFailure: (id) => breakerFailures.push(id) }),
    log: createLogger('test'),
    streamIdleTimeoutMs: 30_000,
    onBadReplica: (_chunkId, serverId, problem) => bad.push(`${serverId} ${problem}`),
  };
  const chunk = (size: number): ChunkRecord => ({
    chunkId: '6f1c1b7e-6f43-4f8e-9a51-2f7c1c3f0a11',
    chunkNumber: 0,
    offset: 0,
    size,
    checksum: '',
    replicas: Object.keys(servers).map((serverId) => ({ serverId, status: 'stored' })),
  } as ChunkRecord);
  const read = async (size: number, offset: number, length: number) => {
    const pieces: Buffer[] = [];
    for await (const piece of readChunk(chunk(size), offset, length, deps)) pieces.push(piece);
    return Buffer.concat(pieces);
  };
  return { read, calls, bad, breakerFailures };
}

const bytes = (length: number) => randomBytes(length);

describe('readChunk', () => {
  it('reads a range that fits one reply with ReadChunk, and a corrupt replica sends it to the next one', async () => {
    const data = bytes(4096);
    const { read, calls, bad } = setUp({
      a: { readChunk: async () => Promise.reject(failure(grpc.status.DATA_LOSS)) },
      b: { readChunk: async (range) => data.subarray(range.offset, range.offset + range.length) },
    });
    expect((await read(4096, 100, 3000)).equals(data.subarray(100, 3100))).toBe(true);
    expect(calls).toEqual(['a ReadChunk 100+3000 within 750 ms', 'b ReadChunk 100+3000 within 30000 ms']);
    expect(bad).toEqual(['a corrupt']);
  });

  it('leaves a replica that does not answer ReadChunk within the stall limit for another', async () => {
    const data = bytes(1000);
    const { read, calls, breakerFailures } = setUp({
      hung: { readChunk: () => new Promise<Buffer>(() => undefined) },
      b: { readChunk: async () => data },
    });
    expect((await read(1000, 0, 1000)).equals(data)).toBe(true);
    // The stall limit is the call's deadline while another replica could answer; the last one gets the idle limit.
    expect(calls).toEqual(['hung ReadChunk 0+1000 within 750 ms', 'b ReadChunk 0+1000 within 30000 ms']);
    // A stall is not a failure of the server (under load healthy servers stall too).
    expect(breakerFailures).toEqual([]);
  });

  it('streams a range longer than 64 KiB, resuming on another replica at the exact byte a failed one reached', async () => {
    const size = 3 * MiB;
    const data = bytes(size);
    const { read, calls } = setUp({
      a: { getChunk: () => ({ frames: [data.subarray(0, MiB), data.subarray(MiB, MiB + 10)], error: failure(grpc.status.UNAVAILABLE) }) },
      b: { getChunk: (range) => ({ frames: [data.subarray(range.offset, range.offset + range.length)] }) },
    });
    expect((await read(size, 0, 2 * MiB)).equals(data.subarray(0, 2 * MiB))).toBe(true);
    expect(calls).toEqual([`a GetChunk 0+${2 * MiB}`, `b GetChunk ${MiB + 10}+${MiB - 10}`]);
  });
});
