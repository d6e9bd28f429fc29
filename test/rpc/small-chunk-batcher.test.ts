import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SmallChunkBatcher, type SendSmallChunks } from '../../src/rpc/small-chunk-batcher';
import { clientCallError, encodePutData } from '../../src/rpc/storage-client';
import { storageServiceDefinition, type PutSmallChunksRequest, type PutSmallChunksResponse } from '../../src/wire/storage-service';

const KiB = 1024;
const decode = (bytes: Buffer) => storageServiceDefinition.PutSmallChunks.requestDeserialize(bytes) as PutSmallChunksRequest;

/** A fake PutSmallChunks: records each call's decoded request and answers with `answer`. */
function recordingSend(answer: (request: PutSmallChunksRequest) => Promise<PutSmallChunksResponse>): { send: SendSmallChunks; calls: PutSmallChunksRequest[] } {
  const calls: PutSmallChunksRequest[] = [];
  return {
    calls,
    send: async (request) => {
      const decoded = decode(request.bytes);
      calls.push(decoded);
      return answer(decoded);
    },
  };
}

const allStored = async (request: PutSmallChunksRequest): Promise<PutSmallChunksResponse> => ({
  results: request.chunks.map((chunk) => ({ chunk_id: chunk.chunk_id, success: true, error_message: '', code: 0 })),
});

describe('SmallChunkBatcher', () => {
  it('sends the puts of one turn of the event loop as one call, each chunk encoded whole with its CRC-32', async () => {
    const { send, calls } = recordingSend(allStored);
    const batcher = new SmallChunkBatcher(send, clientCallError);
    const chunks = ['a', 'b', 'c'].map((id) => ({ id, message: encodePutData([randomBytes(4 * KiB)]) }));
    const results = await Promise.all(chunks.map(({ id, message }) => batcher.put(id, message, 1000)));
    expect(calls).toHaveLength(1);
    expect(calls[0].chunks.map((chunk) => [chunk.chunk_id, chunk.data.length, chunk.data_crc32])).toEqual(chunks.map(({ id, message }) => [id, 4 * KiB, message.dataCrc32]));
    expect(results.map((result) => [result.chunk_id, result.success, result.crc32])).toEqual(chunks.map(({ id, message }) => [id, true, message.dataCrc32]));

    await batcher.put('d', encodePutData([randomBytes(10)]), 1000);
    expect(calls.map((call) => call.chunks.length)).toEqual([3, 1]);
  });

  it('sends a batch at once when it reaches 1 MiB, and the rest on the next turn', async () => {
    const { send, calls } = recordingSend(allStored);
    const batcher = new SmallChunkBatcher(send, clientCallError);
    const puts = Array.from({ length: 5 }, (_, n) => batcher.put(`c${n}`, encodePutData([Buffer.alloc(256 * KiB)]), 1000));
    expect(calls.map((call) => call.chunks.length)).toEqual([4]);
    await Promise.all(puts);
    expect(calls.map((call) => call.chunks.length)).toEqual([4, 1]);
  });

  it("fails a chunk the server refused with that chunk's status, and every put of a failed call with the call's error", async () => {
    const { send } = recordingSend(async (request) => ({
      results: request.chunks.map((chunk, n) => (n === 1
        ? { chunk_id: chunk.chunk_id, success: false, error_message: 'CRC-32 mismatch', code: grpc.status.DATA_LOSS }
        : { chunk_id: chunk.chunk_id, success: true, error_message: '', code: 0 })),
    }));
    const batcher = new SmallChunkBatcher(send, clientCallError);
    const [first, second] = await Promise.allSettled(['a', 'b'].map((id) => batcher.put(id, encodePutData([randomBytes(100)]), 1000)));
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: { code: grpc.status.DATA_LOSS, details: 'CRC-32 mismatch' } });

    const unavailable = clientCallError(grpc.status.UNAVAILABLE, 'connection refused');
    const failing = new SmallChunkBatcher(async () => Promise.reject(unavailable), clientCallError);
    const outcomes = await Promise.allSettled(['a', 'b'].map((id) => failing.put(id, encodePutData([randomBytes(100)]), 1000)));
    expect(outcomes).toEqual([{ status: 'rejected', reason: unavailable }, { status: 'rejected', reason: unavailable }]);
  });
});
