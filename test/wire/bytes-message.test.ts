/**
 * Data frames are encoded by hand (src/wire/bytes-message.ts); the other side decodes them with
 * the generated protobuf code. Both must agree on every length, including varint boundaries,
 * and a message built in place must never disturb bytes another message carries.
 */
import { randomBytes } from 'node:crypto';
import { allocateForBytesMessage, encodeBytesMessage, wrapBytesMessage, type EncodedMessage } from '../../src/wire/bytes-message';
import { FRAME_BUFFER_BYTES } from '../../src/wire/frame-pool';
import { MessageBufferPool } from '../../src/wire/message-buffer-pool';
import { installServerPrefixInPlace } from '../../src/wire/prefix-in-place';
import { encodePutData } from '../../src/rpc/storage-client';
import { MAX_FRAME_BYTES } from '../../src/wire/frame-pool';
import { storageServerDefinition, storageServiceDefinition, type GetChunkResponse, type PutChunkRequest } from '../../src/wire/storage-service';

const decodePut = (message: EncodedMessage): PutChunkRequest => storageServiceDefinition.PutChunk.requestDeserialize(message.bytes) as PutChunkRequest;
const decodeGet = (bytes: Buffer): GetChunkResponse => storageServiceDefinition.GetChunk.responseDeserialize(bytes) as GetChunkResponse;
/** A buffer from allocateForBytesMessage, filled as a disk read would fill it. */
function readBlock(length: number): Buffer {
  const block = allocateForBytesMessage(length);
  randomBytes(length).copy(block);
  return block;
}

const LENGTHS = [0, 1, 127, 128, 16_383, 16_384, 65_539, MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES];

describe('PutChunk data messages', () => {
  test.each(LENGTHS)('%i bytes decode to the same data and nothing else', (length) => {
    const data = randomBytes(length);
    const decoded = decodePut(encodePutData([data]));
    expect(decoded.data.equals(data)).toBe(true);
    expect(decoded).toMatchObject({ chunk_id: '', checksum: '', size: 0 });
  });

  test('pieces are joined in order', () => {
    const pieces = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(3)];
    expect(decodePut(encodePutData(pieces)).data.equals(Buffer.concat(pieces))).toBe(true);
  });

  test('refuses more than one message may carry', () => {
    expect(() => encodePutData([Buffer.alloc(MAX_FRAME_BYTES), Buffer.alloc(1)])).toThrow(RangeError);
  });
});

describe('GetChunk data messages built in place', () => {
  const serialize = storageServerDefinition.GetChunk.responseSerialize;

  test.each(LENGTHS)('%i bytes read into a message buffer go out without a copy and decode to the same data', (length) => {
    const block = readBlock(length);
    const bytes = serialize(wrapBytesMessage(1, block));
    expect(bytes.buffer).toBe(block.buffer); // the block's own memory: no copy
    expect(decodeGet(bytes).data.equals(block)).toBe(true);
  });

  test('a range inside a block gets its header over bytes in front of it, which the range does not carry', () => {
    const block = readBlock(4096);
    const range = Buffer.from(block.subarray(1000, 3000));
    const bytes = serialize(wrapBytesMessage(1, block.subarray(1000, 3000)));
    expect(decodeGet(bytes).data.equals(range)).toBe(true);
  });

  test('only one message is built in place per buffer; a second piece of it is copied', () => {
    const block = readBlock(2000);
    const first = Buffer.from(block.subarray(0, 1000));
    const firstMessage = serialize(wrapBytesMessage(1, block.subarray(0, 1000)));
    const secondMessage = serialize(wrapBytesMessage(1, block.subarray(1000)));
    expect(secondMessage.buffer).not.toBe(block.buffer);
    expect(decodeGet(firstMessage).data.equals(first)).toBe(true); // not overwritten by the second header
    expect(decodeGet(secondMessage).data.equals(block.subarray(1000))).toBe(true);
  });

  test('data from anywhere else is copied into a message of its own', () => {
    const data = randomBytes(5000);
    const before = Buffer.from(data);
    const bytes = serialize(wrapBytesMessage(1, data.subarray(100)));
    expect(bytes.buffer).not.toBe(data.buffer);
    expect(data.equals(before)).toBe(true);
    expect(decodeGet(bytes).data.equals(data.subarray(100))).toBe(true);
  });

  test('a pooled block given back and taken again is built in place again, with the new data', () => {
    const pool = new MessageBufferPool(FRAME_BUFFER_BYTES, 4);
    const block = allocateForBytesMessage(MAX_FRAME_BYTES, pool);
    randomBytes(MAX_FRAME_BYTES).copy(block);
    expect(serialize(wrapBytesMessage(1, block)).buffer).toBe(block.buffer);
    pool.release(block); // sent: HTTP/2 has written it out
    const again = allocateForBytesMessage(MAX_FRAME_BYTES - 7, pool);
    expect(again.buffer).toBe(block.buffer);
    const data = randomBytes(MAX_FRAME_BYTES - 7);
    data.copy(again);
    const bytes = serialize(wrapBytesMessage(1, again));
    expect(bytes.buffer).toBe(block.buffer);
    expect(decodeGet(bytes).data.equals(data)).toBe(true);
  });

  test('a pooled block paces scavenges until the server sends frames in place, then not (it leaves no garbage)', () => {
    const taken: number[] = [];
    const pool = new MessageBufferPool(FRAME_BUFFER_BYTES, 4, (bytes) => taken.push(bytes));
    pool.release(allocateForBytesMessage(MAX_FRAME_BYTES, pool));
    expect(taken).toEqual([MAX_FRAME_BYTES + 10]);
    expect(installServerPrefixInPlace()).toBe(true);
    const block = allocateForBytesMessage(MAX_FRAME_BYTES, pool);
    expect(taken).toHaveLength(1);
    // Room for gRPC's prefix in front of the message: what installServerPrefixInPlace frames in place.
    const { BaseServerInterceptingCall } = require('@grpc/grpc-js/build/src/server-interceptors');
    const framed: Buffer = BaseServerInterceptingCall.prototype.serializeMessage.call({ handler: { serialize: (message: EncodedMessage) => message.bytes } }, wrapBytesMessage(1, block));
    expect(framed.buffer).toBe(block.buffer);
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0x10, 0, 4]); // uncompressed, 1 MiB + 4 header bytes
  });

  test('a block too small for the pool gets memory of its own', () => {
    const pool = new MessageBufferPool(FRAME_BUFFER_BYTES, 4);
    const block = allocateForBytesMessage(1000, pool);
    pool.release(block);
    expect(pool.freeCount).toBe(0);
  });

  test('plain objects still go through the generated encoder', () => {
    const data = randomBytes(300);
    expect(decodeGet(serialize({ data })).data.equals(data)).toBe(true);
    expect(encodeBytesMessage(1, [data]).bytes.equals(serialize({ data }))).toBe(true);
  });
});
