/**
 * Rows the metadata contract's tests make: each test makes its own, so the store one backend's
 * whole suite shares never mixes them.
 */
import { randomUUID } from 'node:crypto';
import type { FileRecord } from '../../src/metadata/types';

export type NewFile = Omit<FileRecord, 'createdAt' | 'updatedAt' | 'completedAt' | 'status'>;

/** A file as the gateway records it; replicas[i] lists chunk i's servers. */
export function newFile(replicas: string[][], overrides: Partial<NewFile> = {}): NewFile {
  return {
    fileId: randomUUID(),
    filename: 'report.pdf',
    contentType: 'application/pdf',
    size: replicas.length * 10,
    checksum: 'ab'.repeat(32),
    chunks: replicas.map((servers, i) => ({
      chunkNumber: i,
      chunkId: randomUUID(),
      offset: i * 10,
      size: 10,
      checksum: String(i).repeat(64),
      replicas: servers.map((serverId) => ({ serverId, status: 'stored' as const })),
    })),
    ...overrides,
  };
}

/** A server id no other test uses. */
export const serverId = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
