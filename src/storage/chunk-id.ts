import { isUuid } from '../util/uuid';
import { ChunkStoreError } from './chunk-store-error';

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/i;

/** Only a UUID can name a chunk file on disk. */
export function isChunkId(value: unknown): value is string {
  return typeof value === 'string' && isUuid(value);
}

/**
 * The chunk id as the store names it: lowercase, so the same UUID in either case is the same
 * chunk and ListChunks order is plain string order. Throws INVALID_ARGUMENT for anything that
 * is not a UUID, before any path is built from it.
 */
export function normalizeChunkId(value: unknown): string {
  if (!isChunkId(value)) {
    throw new ChunkStoreError('INVALID_ARGUMENT', `chunk_id must be a UUID, got ${describe(value)}`);
  }
  return value.toLowerCase();
}

/** A hex SHA-256 (64 hex digits), lowercased. */
export function normalizeChecksum(value: unknown): string {
  if (typeof value !== 'string' || !SHA256_HEX_PATTERN.test(value)) {
    throw new ChunkStoreError('INVALID_ARGUMENT', `checksum must be 64 hex digits (SHA-256), got ${describe(value)}`);
  }
  return value.toLowerCase();
}

/** Quoted, shortened and with control characters escaped, so hostile input reads safely in logs. */
function describe(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  if (value === '') return 'an empty string';
  const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  return shown;
}
