import { isChunkId, normalizeChecksum, normalizeChunkId } from '../../src/storage/chunk-id';
import { ChunkStoreError } from '../../src/storage/chunk-store-error';
import { BAD_CHUNK_IDS, SAMPLE_UUID } from './bad-chunk-ids';

const UUID = SAMPLE_UUID;

describe('chunk id validation', () => {
  it('accepts canonical UUIDs in either case and stores them lowercase', () => {
    expect(normalizeChunkId(UUID)).toBe(UUID);
    expect(normalizeChunkId(UUID.toUpperCase())).toBe(UUID);
  });

  it.each(BAD_CHUNK_IDS.map((id) => [JSON.stringify(id), id]))('rejects %s with INVALID_ARGUMENT', (_label, id) => {
    expect(isChunkId(id)).toBe(false);
    expect(() => normalizeChunkId(id)).toThrow(ChunkStoreError);
    try {
      normalizeChunkId(id);
    } catch (error) {
      expect((error as ChunkStoreError).reason).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).not.toContain('\u0000');
    }
  });

  it('rejects non-strings', () => {
    expect(() => normalizeChunkId(undefined)).toThrow(/chunk_id must be a UUID, got undefined/);
  });

  it('accepts only 64 hex digit checksums', () => {
    expect(normalizeChecksum('AB'.repeat(32))).toBe('ab'.repeat(32));
    for (const bad of ['', 'ab'.repeat(31), 'zz'.repeat(32), `${'ab'.repeat(32)}0`]) {
      expect(() => normalizeChecksum(bad)).toThrow(/checksum must be 64 hex digits/);
    }
  });
});
