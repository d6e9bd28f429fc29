import * as grpc from '@grpc/grpc-js';
import { SmallReadBatcher, type SmallReadsCall } from '../../src/rpc/small-read-batcher';
import { clientCallError } from '../../src/rpc/storage-client';
import type { GetChunkRequest } from '../../src/wire/storage-service';

/** A fake ReadSmallChunks: records each call, which the test answers and ends by hand. */
function recordingSend() {
  const calls: Array<{ ids: string[]; deadline: number; call: SmallReadsCall }> = [];
  const send = (reads: GetChunkRequest[], deadline: number, call: SmallReadsCall) => calls.push({ ids: reads.map((read) => read.chunk_id), deadline, call });
  return { calls, batcher: new SmallReadBatcher(send, clientCallError) };
}
const request = (id: string): GetChunkRequest => ({ chunk_id: id, offset: 0, length: 1 });
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('SmallReadBatcher', () => {
  it('answers each read as its answer comes, in any order, and fails only the reads a failed call left unanswered', async () => {
    const { calls, batcher } = recordingSend();
    const reads = ['a', 'b', 'c'].map((id) => batcher.read(request(id), 1000));
    await turn();
    expect(calls.map((c) => c.ids)).toEqual([['a', 'b', 'c']]);
    calls[0].call.onAnswer({ index: 2, data: Buffer.from('C'), code: 0, error_message: '' });
    calls[0].call.onAnswer({ index: 0, data: Buffer.alloc(0), code: grpc.status.NOT_FOUND, error_message: 'chunk a not found' });
    await expect(reads[2]).resolves.toEqual(Buffer.from('C'));
    await expect(reads[0]).rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: 'chunk a not found' });
    calls[0].call.onEnd(clientCallError(grpc.status.UNAVAILABLE, 'connection lost'));
    await expect(reads[1]).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('fails a read the server never answered in a call that ended well (INTERNAL)', async () => {
    const { calls, batcher } = recordingSend();
    const read = batcher.read(request('a'), 1000);
    await turn();
    calls[0].call.onEnd();
    await expect(read).rejects.toMatchObject({ code: grpc.status.INTERNAL });
  });

  it('keeps reads with another deadline apart, each batch with the deadline of its first read', async () => {
    const { calls, batcher } = recordingSend();
    const before = Date.now();
    batcher.read(request('lone'), 1000).catch(() => undefined);
    await turn();
    for (const [id, ms] of [['s1', 750], ['i1', 30_000], ['s2', 750]] as const) batcher.read(request(id), ms).catch(() => undefined);
    calls[0].call.onEnd();
    // One call at a time: the 30 s batch waits for the 750 ms one.
    expect(calls.map((c) => c.ids)).toEqual([['lone'], ['s1', 's2']]);
    expect(calls[1].deadline).toBeGreaterThanOrEqual(before + 750);
    expect(calls[1].deadline).toBeLessThan(before + 30_000);
    calls[1].call.onEnd();
    expect(calls.map((c) => c.ids)).toEqual([['lone'], ['s1', 's2'], ['i1']]);
    expect(calls[2].deadline).toBeGreaterThanOrEqual(before + 30_000);
  });
});
