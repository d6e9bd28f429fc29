/**
 * Throughput of the metadata hot path (not a test): completeUpload and getFile per second on
 * PGlite, and on PostgreSQL when TEST_DATABASE_URL is set.
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx test/metadata/bench-metadata.ts
 */
import { randomUUID } from 'node:crypto';
import { openTestPglite, openTestPostgres, type TestStore } from '../helpers/metadata';
import type { FileRecord, MetadataStore } from '../../src/metadata/types';

const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 1000);
const SERVERS = ['s1', 's2', 's3', 's4', 's5', 's6'];

/** A small file as the gateway records it: 6 chunks, 2 replicas each. */
function smallFile(): Omit<FileRecord, 'createdAt' | 'updatedAt' | 'completedAt' | 'status'> {
  return {
    fileId: randomUUID(),
    filename: 'bench.bin',
    contentType: 'application/octet-stream',
    size: 6 * 1024,
    checksum: 'f'.repeat(64),
    chunks: Array.from({ length: 6 }, (_, i) => ({
      chunkNumber: i,
      chunkId: randomUUID(),
      offset: i * 1024,
      size: 1024,
      checksum: 'a'.repeat(64),
      replicas: [0, 1].map((r) => ({ serverId: SERVERS[(i + r) % SERVERS.length], status: 'stored' as const })),
    })),
  };
}

async function rate(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(count / seconds);
}

async function measure(store: MetadataStore, concurrency: number): Promise<Record<string, number>> {
  const files = Array.from({ length: UPLOADS }, smallFile);
  const completeUpload = await rate(UPLOADS, concurrency, (i) => store.completeUpload(files[i]));
  const getFile = await rate(UPLOADS, concurrency, (i) => store.getFile(files[i].fileId));
  const sessionAndComplete = await rate(UPLOADS, concurrency, async () => {
    const file = smallFile();
    const now = new Date();
    await store.beginUpload({ fileId: file.fileId, filename: file.filename, contentType: file.contentType, gatewayId: 'bench', startedAt: now, expiresAt: new Date(now.getTime() + 3_600_000) });
    await store.completeUpload(file);
  });
  return { completeUpload, getFile, beginPlusComplete: sessionAndComplete };
}

async function main(): Promise<void> {
  const targets: Array<() => Promise<TestStore>> = [openTestPglite];
  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (databaseUrl) targets.push(() => openTestPostgres(databaseUrl));
  const table: string[] = [];
  for (const open of targets) {
    const { name, store, cleanup } = await open();
    try {
      for (const concurrency of [1, 8]) {
        const figures = await measure(store, concurrency);
        for (const [figure, perSecond] of Object.entries(figures)) {
          console.log(JSON.stringify({ bench: 'metadata', backend: name, figure, concurrency, perSecond }));
          table.push(`${name.padEnd(9)} ${figure.padEnd(18)} c=${String(concurrency).padEnd(2)} ${String(perSecond).padStart(6)}/s`);
        }
      }
    } finally {
      await cleanup();
    }
  }
  console.log(`\n${table.join('\n')}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
