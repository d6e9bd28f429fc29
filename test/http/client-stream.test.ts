import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { clientStream } from '../../src/http/upload/client-stream';
import { HttpError } from '../../src/http/http-error';
import { v8Gc } from '../../src/wire/scavenge-pacer';

const PIECE = 64 * 1024;
const IDLE_MS = 30_000;

/** A request whose body is `body` and whose socket the test half-closes with endSocket(). */
function fakeRequest(body: PassThrough): { req: IncomingMessage; endSocket(): void } {
  const socket = Object.assign(new EventEmitter(), { readableEnded: false });
  const req = Object.assign(body, { socket, complete: false, headers: { 'content-length': '1000000000' } }) as unknown as IncomingMessage;
  return {
    req,
    endSocket: () => {
      socket.readableEnded = true;
      socket.emit('end');
    },
  };
}

/** Lets the current job end, so WeakRefs made in it no longer hold their targets. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('clientStream', () => {
  test('pieces already read are not kept: memory stays flat however long the body is', async () => {
    const gc = v8Gc();
    expect(gc).not.toBeNull();
    const body = new PassThrough();
    const { req } = fakeRequest(body);
    const reader = clientStream(body, IDLE_MS, req)[Symbol.asyncIterator]();
    const seen: Array<WeakRef<Buffer>> = [];
    for (let i = 0; i < 64; i++) {
      body.write(Buffer.alloc(PIECE, i));
      const { value } = await reader.next();
      seen.push(new WeakRef(value as Buffer));
    }
    await nextTurn();
    gc!(); // a full GC (this V8 takes { type: 'major' } for a scavenge)
    // The body is still open: only the stream machinery's read-ahead (a few pieces) may be alive.
    const alive = seen.slice(0, 48).filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBe(0);
    body.end();
    expect((await reader.next()).done).toBe(true);
  });

  test('a client that half-closes mid-body gets a 400, while a read waits and between reads', async () => {
    for (const when of ['waiting', 'between reads'] as const) {
      const body = new PassThrough();
      const { req, endSocket } = fakeRequest(body);
      const reader = clientStream(body, IDLE_MS, req)[Symbol.asyncIterator]();
      body.write(Buffer.alloc(PIECE));
      await reader.next();
      if (when === 'between reads') endSocket();
      const next = reader.next();
      if (when === 'waiting') endSocket();
      await expect(next).rejects.toBeInstanceOf(HttpError);
      await expect(next).rejects.toMatchObject({ status: 400 });
    }
  });

  test('time the reader spends elsewhere (storage, metadata) never counts toward the 408', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const body = new PassThrough();
      const { req } = fakeRequest(body);
      const reader = clientStream(body, 50, req)[Symbol.asyncIterator]();
      body.write(Buffer.alloc(PIECE, 1));
      expect((await reader.next()).value[0]).toBe(1);
      jest.advanceTimersByTime(500); // the reader is busy with the piece for ten idle periods
      const second = reader.next();
      jest.advanceTimersByTime(40);
      body.write(Buffer.alloc(PIECE, 2));
      expect((await second).value[0]).toBe(2);
      const third = reader.next();
      jest.advanceTimersByTime(51);
      await expect(third).rejects.toMatchObject({ status: 408 });
    } finally {
      jest.useRealTimers();
    }
  });

  test('a body that stalls gets a 408', async () => {
    const body = new PassThrough();
    const { req } = fakeRequest(body);
    const reader = clientStream(body, 50, req)[Symbol.asyncIterator]();
    await expect(reader.next()).rejects.toMatchObject({ status: 408 });
  });

  test('a body already whole when reading starts is read from the buffer, every byte in order, and the request ends', async () => {
    const body = new PassThrough();
    const { req } = fakeRequest(body);
    const pieces = [Buffer.from('first '), Buffer.from('second '), Buffer.from('third')];
    for (const piece of pieces) body.write(piece);
    body.end();
    Object.assign(req, { complete: true }); // as Node's parser marks a message it has read whole
    const ended = new Promise((resolve) => body.once('end', resolve));
    const read: Buffer[] = [];
    for await (const piece of clientStream(body, IDLE_MS, req)) read.push(piece);
    expect(Buffer.concat(read).toString()).toBe('first second third');
    await ended;
  });

  test('a body whose announced bytes are all buffered is read at once, before the parser marks the message complete', async () => {
    const body = new PassThrough();
    const { req } = fakeRequest(body);
    body.write(Buffer.from('all of it'));
    req.headers['content-length'] = '9';
    // Not ended and not complete: the iterator would wait for the end; the buffer holds every byte.
    const read: Buffer[] = [];
    for await (const piece of clientStream(body, IDLE_MS, req)) read.push(piece);
    expect(Buffer.concat(read).toString()).toBe('all of it');
  });
});
