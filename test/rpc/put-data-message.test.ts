/**
 * PutDataMessage encodes PutChunkRequest.data by hand; the storage server decodes it with the
 * generated protobuf code. Both must agree on every length, including the varint boundaries.
 */
import { randomBytes } from 'node:crypto';
import { MAX_FRAME_BYTES, PutDataMessage } from '../../src/rpc/storage-client';
import { storageServiceDefinition, type PutChunkRequest } from '../../src/rpc/storage-service';

const decode = (bytes: Buffer): PutChunkRequest => storageServiceDefinition.PutChunk.requestDeserialize(bytes) as PutChunkRequest;

describe('PutDataMessage', () => {
  test.each([1, 127, 128, 16_383, 16_384, 65_539, MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES])('%i bytes decode to the same data and nothing else', (length) => {
    const data = randomBytes(length);
    const decoded = decode(PutDataMessage.encode([data]).bytes);
    expect(decoded.data.equals(data)).toBe(true);
    expect(decoded).toMatchObject({ chunk_id: '', checksum: '', size: 0 });
  });

  test('pieces are joined in order', () => {
    const pieces = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(3)];
    const message = PutDataMessage.encode(pieces);
    expect(message.dataLength).toBe(70_013);
    expect(decode(message.bytes).data.equals(Buffer.concat(pieces))).toBe(true);
  });

  test('refuses more than one message may carry', () => {
    expect(() => PutDataMessage.encode([Buffer.alloc(MAX_FRAME_BYTES), Buffer.alloc(1)])).toThrow(RangeError);
  });
});
