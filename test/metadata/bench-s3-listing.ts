/**
 * S3 listing cost with a delimiter (not a test): a bucket with BENCH_KEYS keys under "big/",
 * 50 "directories" of 2 keys and 50 top-level keys. Listing the root with delimiter "/"
 * should cost the same whatever BENCH_KEYS is (each common prefix is two index probes), while
 * reading every key under "big/" grows with it. PGlite, and PostgreSQL when TEST_DATABASE_URL is set.
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx test/metadata/bench-s3-listing.ts
 */
import { openTestPglite, openTestPostgres, type TestStore } from '../helpers/metadata';
import type { MetadataStore } from '../../src/metadata/types';
import { storedBytes } from './s3-store-contract';

const KEYS = Number(process.env.BENCH_KEYS ?? 20_000);
const metadata = { contentType: null, contentEncoding: null, contentDisposition: null, contentLanguage: null, cacheControl: null, expires: null, userMetadata: {} };

async function fill(store: MetadataStore): Promise<void> {
  await store.createBucket('bench', 'bench');
  const keys = [
    ...Array.from({ length: KEYS }, (_, i) => `big/${String(i).padStart(8, '0')}`),
    ...Array.from({ length: 50 }, (_, i) => [`dir-${i}/a`, `dir-${i}/b`]).flat(),
    ...Array.from({ length: 50 }, (_, i) => `top-${i}`),
  ];
  for (let at = 0; at < keys.length; at += 16) {
    await Promise.all(keys.slice(at, at + 16).map((key) => store.putObject({ bucket: 'bench', key, bytes: storedBytes([['s1', 's2']]), etag: 'e', metadata, checksum: null })));
  }
}

/** Median milliseconds of `runs` calls. */
async function median(runs: number, op: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await op();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function bench(opened: TestStore): Promise<Record<string, number | string>[]> {
  const { store } = opened;
  const filled = Date.now();
  await fill(store);
  const fillSeconds = (Date.now() - filled) / 1000;
  const root = await store.listObjects('bench', { prefix: '', delimiter: '/', startAfter: '', maxKeys: 1000 });
  if (root.commonPrefixes.length !== 51 || root.objects.length !== 50) throw new Error('unexpected root listing');
  const rootMs = await median(21, () => store.listObjects('bench', { prefix: '', delimiter: '/', startAfter: '', maxKeys: 1000 }));
  const pageMs = await median(11, () => store.listObjects('bench', { prefix: 'big/', delimiter: '', startAfter: '', maxKeys: 1000 }));
  // The same page through the delimited walk (no key under big/ holds another '/'): a probe per key.
  const walkedPageMs = await median(11, () => store.listObjects('bench', { prefix: 'big/', delimiter: '/', startAfter: '', maxKeys: 1000 }));
  const everyKeyMs = await median(3, async () => {
    let after = '';
    for (;;) {
      const page = await store.listObjects('bench', { prefix: 'big/', delimiter: '', startAfter: after, maxKeys: 1000 });
      if (!page.isTruncated) return;
      after = page.nextStartAfter!;
    }
  });
  return [
    { backend: opened.name, keys: KEYS, figure: 'putObject per second while filling', value: Math.round((KEYS + 150) / fillSeconds) },
    { backend: opened.name, keys: KEYS, figure: 'root listing, delimiter "/" (101 entries), ms', value: Number(rootMs.toFixed(1)) },
    { backend: opened.name, keys: KEYS, figure: 'one page of 1000 keys under big/, ms', value: Number(pageMs.toFixed(1)) },
    { backend: opened.name, keys: KEYS, figure: 'the same page with delimiter "/" (walked), ms', value: Number(walkedPageMs.toFixed(1)) },
    { backend: opened.name, keys: KEYS, figure: 'every key under big/ (pages of 1000), ms', value: Number(everyKeyMs.toFixed(1)) },
  ];
}

async function main(): Promise<void> {
  const rows: Record<string, number | string>[] = [];
  const openers = [openTestPglite, ...(process.env.TEST_DATABASE_URL ? [() => openTestPostgres(process.env.TEST_DATABASE_URL!)] : [])];
  for (const open of openers) {
    const opened = await open();
    try {
      for (const row of await bench(opened)) {
        console.log(JSON.stringify(row));
        rows.push(row);
      }
    } finally {
      await opened.cleanup();
    }
  }
  console.table(rows);
}

void main();
