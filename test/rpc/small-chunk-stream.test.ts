import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { clientCallError, encodePutData } from '../../src/rpc/storage-client';
import { SmallChunkStream, type SmallChunkOpsCall } from '../../src/rpc/small-chunk-stream';
import type { EncodedMessage } from '../../src/wire/bytes-message';
import { storageServiceDefinition, type SmallChunkOp, type SmallChunkOpBatch, type SmallChunkOpResult } from '../../src/wire/storage-service';
import { codeOf } from '../helpers/storage-server';

/** A SmallChunkOps call driven by hand: records the messages written (decoded as the server would), answers when told. */
class FakeCall extends EventEmitter {
  readonly messages: SmallChunkOp[][] = [];
  ended = false;
  cancelled = false;

  get ops(): SmallChunkOp[] {
    return this.messages.flat();
  }

  write(message: EncodedMessage): boolean {
    this.messages.push((storageServiceDefinition.SmallChunkOps.requestDeserialize(message.bytes) as SmallChunkOpBatch).ops);
    return true;
  }

  end(): void {
    this.ended = true;
  }

  cancel(): void {
    this.cancelled = true;
  }

  answer(tag: number, code = grpc.status.OK, data = Buffer.alloc(0), message = ''): void {
    const result: SmallChunkOpResult = { tag, code, error_message: message, data };
    this.emit('data', { results: [result] });
  }
}

/** Past the turn of the event loop the ops were asked in, when they are sent. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SmallChunkStream: small puts and reads as ops of one stream', () => {
  let calls: FakeCall[];
  let stream: SmallChunkStream;
  const idleEndMs = 100;

  beforeEach(() => {
    calls = [];
    stream = new SmallChunkStream(() => {
      const call = new FakeCall();
      calls.push(call);
      return call as unknown as SmallChunkOpsCall;
    }, clientCallError, idleEndMs);
  });

  afterEach(() => stream.close());

  it('sends the ops of one turn in one message of one call, each with its own tag, and settles each by its own answer in any order', async () => {
    const data = Buffer.from('hello small chunk');
    const put = stream.put('0123abcd', encodePutData([data]), 10_000);
    const reads = [stream.read({ chunk_id: 'a1', offset: 0, length: 5 }, 10_000), stream.read({ chunk_id: 'b2', offset: 3, length: 7 }, 10_000)];
    await nextTurn();
    const later = stream.put('4567ef', encodePutData([Buffer.from('later')]), 10_000);
    await nextTurn();
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call.messages.map((ops) => ops.length)).toEqual([3, 1]);
    const [readA, readB, putOp] = call.messages[0]; // a message holds its reads, then its puts
    expect(call.messages[1][0].put).toMatchObject({ chunk_id: '4567ef', data: Buffer.from('later') });
    call.answer(call.messages[1][0].tag);
    await later;
    expect(new Set([putOp.tag, readA.tag, readB.tag]).size).toBe(3);
    expect(putOp.put).toMatchObject({ chunk_id: '0123abcd', data });
    expect(readB.read).toMatchObject({ chunk_id: 'b2', offset: 3, length: 7 });

    call.answer(readB.tag, grpc.status.OK, Buffer.from('bbbbbbb'));
    call.answer(readA.tag, grpc.status.NOT_FOUND, Buffer.alloc(0), 'chunk a1 not found');
    call.answer(putOp.tag);
    await expect(put).resolves.toBeUndefined();
    expect((await reads[1]).toString()).toBe('bbbbbbb');
    const missing = await reads[0].catch((error: grpc.ServiceError) => error);
    expect(missing).toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('chunk a1 not found') });
  });

  it('fails an op alone at its deadline, and ignores its late answer', async () => {
    const slow = stream.read({ chunk_id: 'slow', offset: 0, length: 1 }, 50);
    const patient = stream.read({ chunk_id: 'patient', offset: 0, length: 1 }, 10_000);
    await nextTurn();
    expect(await codeOf(slow)).toBe(grpc.status.DEADLINE_EXCEEDED);
    const [call] = calls;
    call.answer(call.ops[0].tag, grpc.status.OK, Buffer.from('x')); // too late: nothing to settle
    call.answer(call.ops[1].tag, grpc.status.OK, Buffer.from('y'));
    expect((await patient).toString()).toBe('y');
    expect(calls).toHaveLength(1);
  });

  it('fails every op out on a call that fails with its status, and opens a new call for the next op', async () => {
    const ops = [stream.read({ chunk_id: 'a', offset: 0, length: 1 }, 10_000), stream.put('b', encodePutData([Buffer.from('b')]), 10_000)];
    await nextTurn();
    calls[0].emit('error', clientCallError(grpc.status.UNIMPLEMENTED, 'unknown method SmallChunkOps'));
    expect(await Promise.all(ops.map(codeOf))).toEqual([grpc.status.UNIMPLEMENTED, grpc.status.UNIMPLEMENTED]);
    const next = stream.read({ chunk_id: 'c', offset: 0, length: 1 }, 10_000);
    await nextTurn();
    expect(calls).toHaveLength(2);
    calls[1].answer(calls[1].ops[0].tag, grpc.status.OK, Buffer.from('c'));
    expect((await next).toString()).toBe('c');
  });

  it('fails with UNAVAILABLE the ops a server ends the stream without answering (it is shutting down)', async () => {
    const answered = stream.read({ chunk_id: 'a', offset: 0, length: 1 }, 10_000);
    const unanswered = stream.read({ chunk_id: 'b', offset: 0, length: 1 }, 10_000);
    await nextTurn();
    const [call] = calls;
    call.answer(call.ops[0].tag, grpc.status.OK, Buffer.from('a'));
    call.emit('status', { code: grpc.status.OK, details: '', metadata: new grpc.Metadata() });
    expect((await answered).toString()).toBe('a');
    expect(await codeOf(unanswered)).toBe(grpc.status.UNAVAILABLE);
  });

  it('ends its side of a stream left idle for idleEndMs, and not one with an op out', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const first = stream.read({ chunk_id: 'a', offset: 0, length: 1 }, 10_000);
      await nextTurn();
      jest.advanceTimersByTime(idleEndMs * 3); // with the op out: the stream stays
      expect(calls[0].ended).toBe(false);
      calls[0].answer(calls[0].ops[0].tag, grpc.status.OK, Buffer.from('a'));
      expect((await first).toString()).toBe('a');
      jest.advanceTimersByTime(idleEndMs - 1);
      expect(calls[0].ended).toBe(false);
      jest.advanceTimersByTime(1);
      expect(calls[0].ended).toBe(true);

      const second = stream.read({ chunk_id: 'b', offset: 0, length: 1 }, 10_000);
      await nextTurn();
      expect(calls).toHaveLength(2);
      calls[1].answer(calls[1].ops[0].tag, grpc.status.OK, Buffer.from('b'));
      expect((await second).toString()).toBe('b');
    } finally {
      jest.useRealTimers();
    }
  });

  it('cancels the call on close(), failing what is out with CANCELLED', async () => {
    const out = stream.read({ chunk_id: 'a', offset: 0, length: 1 }, 10_000);
    await nextTurn();
    stream.close();
    expect(await codeOf(out)).toBe(grpc.status.CANCELLED);
    expect(calls[0].cancelled).toBe(true);
  });
});
