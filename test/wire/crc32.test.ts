import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { encodePutData } from '../../src/rpc/storage-client';
import { CRC32_IMPLEMENTATION, crc32 as wireCrc32, crc32Checksum, crc32Combine, parseCrc32Checksum } from '../../src/wire/crc32';
import { storageServiceDefinition, type PutChunkRequest } from '../../src/wire/storage-service';

describe('crc32Combine', () => {
  it('gives the CRC-32 of the concatenation, for any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const [left, right] = [Buffer.from(a), Buffer.from(b)];
        expect(crc32Combine(crc32(left), crc32(right), right.length)).toBe(crc32(Buffer.concat([left, right])));
      }),
    );
  });

  it('folds many frames, large ones included, into the chunk CRC from 0', () => {
    const frames = [randomBytes(1024 * 1024), randomBytes(1), randomBytes(0), randomBytes(3 * 1024 * 1024 + 5)];
    const folded = frames.reduce((crc, frame) => crc32Combine(crc, crc32(frame), frame.length), 0);
    expect(folded).toBe(crc32(Buffer.concat(frames)));
  });
});

describe('crc32 (the data path\'s CRC-32)', () => {
  it('is zlib\'s CRC-32 for any bytes, offset into a larger buffer and continued from any CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(64), fc.integer({ min: 0, max: 0xffffffff }), (bytes, skip, initial) => {
        const data = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        // zlib gives 0 for no bytes whatever the initial CRC (its NULL-buffer case); the CRC so far is right.
        expect(wireCrc32(data, initial)).toBe(data.length === 0 ? initial : crc32(data, initial));
        expect(wireCrc32(data)).toBe(crc32(data));
      }),
    );
    const large = randomBytes(3 * 1024 * 1024 + 7);
    expect(wireCrc32(large.subarray(3))).toBe(crc32(large.subarray(3)));
  });

  it('is the SIMD implementation on linux x64, where its binary is installed with the package', () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(CRC32_IMPLEMENTATION).toBe('simd');
  });
});

describe('crc32 checksum text', () => {
  it('round-trips with 8 lowercase hex digits, and is not taken for a SHA-256', () => {
    expect(crc32Checksum(0x1a)).toBe('crc32:0000001a');
    expect(crc32Checksum(0xffffffff)).toBe('crc32:ffffffff');
    expect(parseCrc32Checksum('crc32:DEADBEEF')).toBe(0xdeadbeef);
    expect(parseCrc32Checksum('a'.repeat(64))).toBeUndefined();
    expect(parseCrc32Checksum('crc32:123')).toBeUndefined();
    expect(parseCrc32Checksum('')).toBeUndefined();
  });
});

describe('encodePutData framing', () => {
  const deserialize = storageServiceDefinition.PutChunk.requestDeserialize as (bytes: Buffer) => PutChunkRequest;

  it('encodes the pieces and their CRC-32 as data and data_crc32, decodable by protobufjs', () => {
    const pieces = [randomBytes(70_000), randomBytes(1), randomBytes(300_000)];
    const message = encodePutData(pieces);
    const decoded = deserialize(message.bytes);
    expect(decoded.data.equals(Buffer.concat(pieces))).toBe(true);
    expect(decoded.data_crc32).toBe(crc32(Buffer.concat(pieces)));
    expect(message.dataCrc32).toBe(decoded.data_crc32);
    expect(message.dataLength).toBe(370_001);
    expect(decoded.chunk_crc32).toBeUndefined();
  });

  it('sends a CRC of 0 for an empty message (present, not absent) and refuses more than a frame', () => {
    expect(deserialize(encodePutData([]).bytes).data_crc32).toBe(0);
    expect(() => encodePutData([Buffer.alloc(1024 * 1024 + 1)])).toThrow(RangeError);
  });
});
