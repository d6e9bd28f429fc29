/**
 * The S3 part of the MetadataStore contract (buckets, objects, multipart uploads), run by
 * store-contract.ts against every backend. Every test makes its own bucket, so the shared
 * store's rows never mix.
 */
import { randomUUID } from 'node:crypto';
import type { MetadataStore, NewObject, ObjectMetadata, StoredBytes } from '../../src/metadata/types';
import { serverId } from './store-records';

let bucketCount = 0;
/** A bucket name no other test (or earlier run on the same database) uses. */
const bucketName = (label: string) => `${label}-${++bucketCount}-${randomUUID().slice(0, 8)}`;

/** Bytes stored on the given servers, one chunk per entry, each `chunkSize` long. */
export function storedBytes(replicas: string[][], chunkSize = 10): StoredBytes {
  return {
    fileId: randomUUID(),
    size: replicas.length * chunkSize,
    sha256: 'cd'.repeat(32),
    chunks: replicas.map((servers, i) => ({
      chunkNumber: i,
      chunkId: randomUUID(),
      offset: i * chunkSize,
      size: chunkSize,
      checksum: String(i % 10).repeat(64),
      replicas: servers.map((serverId) => ({ serverId, status: 'stored' as const })),
    })),
  };
}

const noMetadata: ObjectMetadata = {
  contentType: null,
  contentEncoding: null,
  contentDisposition: null,
  contentLanguage: null,
  cacheControl: null,
  expires: null,
  userMetadata: {},
};

function newObject(bucket: string, key: string, bytes = storedBytes([['s1']]), overrides: Partial<NewObject> = {}): NewObject {
  return { bucket, key, bytes, etag: 'e'.repeat(32), metadata: noMetadata, checksum: null, ...overrides };
}

/** Byte order of UTF-8, which is what S3 lists in (not JavaScript's UTF-16 order). */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** S3's listing, computed naively over all keys: the model the store must agree with. */
function modelListing(keys: string[], prefix: string, delimiter: string, startAfter: string, maxKeys: number) {
  const entries: { key?: string; prefix?: string }[] = [];
  const seen = new Set<string>();
  for (const key of [...keys].sort(byteOrder)) {
    if (!key.startsWith(prefix)) continue;
    const at = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const common = key.slice(0, at + delimiter.length);
      if (byteOrder(common, startAfter) <= 0 || seen.has(common)) continue;
      seen.add(common);
      entries.push({ prefix: common });
    } else if (byteOrder(key, startAfter) > 0) {
      entries.push({ key });
    }
  }
  return { page: entries.slice(0, maxKeys), isTruncated: entries.length > maxKeys };
}

export function s3StoreContract(current: () => MetadataStore): void {
  let store: MetadataStore;
  beforeEach(() => {
    store = current();
  });

  /** Pending deletes of these servers, as (chunk, server) pairs. */
  const pendingOn = async (...servers: string[]) =>
    (await store.listPendingDeletes(100_000)).filter((p) => servers.includes(p.serverId)).map((p) => `${p.chunkId}@${p.serverId}`).sort();
  const replicasOf = (bytes: StoredBytes) => bytes.chunks.flatMap((c) => c.replicas.map((r) => `${c.chunkId}@${r.serverId}`)).sort();

  describe('buckets', () => {
    test('create, find, list by owner, refuse a second create with the owner named', async () => {
      const name = bucketName('photos');
      expect(await store.createBucket(name, 'alice')).toEqual({ created: true, owner: 'alice' });
      expect(await store.createBucket(name, 'bob')).toEqual({ created: false, owner: 'alice' });
      expect(await store.getBucket(name)).toMatchObject({ name, owner: 'alice', createdAt: expect.any(Date) });
      expect(await store.getBucket(bucketName('missing'))).toBeNull();
      const other = bucketName('other');
      await store.createBucket(other, 'carol');
      const all = (await store.listBuckets()).map((b) => b.name);
      expect(all).toEqual(expect.arrayContaining([name, other]));
      expect(all).toEqual([...all].sort(byteOrder));
      expect((await store.listBuckets('carol')).map((b) => b.name)).toContain(other);
      expect((await store.listBuckets('carol')).map((b) => b.name)).not.toContain(name);
    });

    test('only an empty bucket is deleted; its unfinished uploads go with it', async () => {
      const name = bucketName('del');
      const s = serverId('bucket-del');
      expect(await store.deleteBucket(name)).toBe('no-bucket');
      await store.createBucket(name, 'alice');
      await store.putObject(newObject(name, 'k'));
      expect(await store.deleteBucket(name)).toBe('not-empty');
      expect(await store.deleteObject(name, 'k')).toBe(true);
      const upload = (await store.createMultipartUpload({ bucket: name, key: 'big', owner: 'alice', metadata: noMetadata, checksumAlgorithm: null, checksumType: null }))!;
      const part = storedBytes([[s], [s]]);
      await store.putPart(upload, { partNumber: 1, bytes: part, etag: 'p1', checksum: null });
      expect(await store.deleteBucket(name)).toBe('deleted');
      expect(await store.getBucket(name)).toBeNull();
      expect(await store.getMultipartUpload(name, 'big', upload.uploadId)).toBeNull();
      expect(await pendingOn(s)).toEqual(replicasOf(part));
      expect(await store.createBucket(name, 'bob')).toEqual({ created: true, owner: 'bob' });
    });
  });

  describe('objects', () => {
    test('put, head and get with every header and user metadata; stored as a file the file API does not see', async () => {
      const bucket = bucketName('obj');
      await store.createBucket(bucket, 'alice');
      const metadata: ObjectMetadata = {
        contentType: 'text/plain; charset=utf-8',
        contentEncoding: 'gzip',
        contentDisposition: 'attachment; filename="r\u00e9sum\u00e9.txt"',
        contentLanguage: 'fr',
        cacheControl: 'max-age=60',
        expires: 'Thu, 01 Dec 2094 16:00:00 GMT',
        userMetadata: { colour: 'bleu \u00e9', 'empty-value': '' },
      };
      const bytes = storedBytes([['s1', 's2'], ['s2']], 1000);
      const checksum = { algorithm: 'CRC32', value: 'DUoRhQ==', type: 'FULL_OBJECT' as const };
      const key = 'docs/caf\u00e9 \u{1F600}.txt';
      const put = await store.putObject(newObject(bucket, key, bytes, { etag: 'a'.repeat(32), metadata, checksum }));
      expect(put.status).toBe('stored');
      const expected = { bucket, key, fileId: bytes.fileId, etag: 'a'.repeat(32), size: 2000, ...metadata, checksum, lastModified: expect.any(Date) };
      expect(put).toEqual({ status: 'stored', object: expected });
      expect(await store.headObject(bucket, key)).toEqual(expected);
      const got = await store.getObject(bucket, key);
      expect(got).toMatchObject({ ...expected, sha256: bytes.sha256 });
      expect(got?.chunks.map((c) => [c.chunkId, c.offset, c.size, c.replicas.map((r) => r.serverId).sort()])).toEqual(
        bytes.chunks.map((c) => [c.chunkId, c.offset, c.size, c.replicas.map((r) => r.serverId).sort()]),
      );
      // The file API neither lists, reads nor deletes it; chunk-level jobs see its chunks.
      expect((await store.listFiles(1, 100_000)).files.map((f) => f.fileId)).not.toContain(bytes.fileId);
      expect(await store.getFile(bytes.fileId)).toBeNull();
      expect(await store.deleteFile(bytes.fileId)).toBeNull();
      expect(await store.referencedChunkIds(bytes.chunks.map((c) => c.chunkId))).toEqual(new Set(bytes.chunks.map((c) => c.chunkId)));
      expect(await store.headObject(bucket, 'docs/other')).toBeNull();
      expect(await store.getObject(bucket, key.normalize('NFD'))).toBeNull(); // keys are bytes, not normalized
    });

    test('concurrent object lookups (one batched query) each get their own object or null', async () => {
      const [one, two] = [bucketName('lookup-a'), bucketName('lookup-b')];
      await store.createBucket(one, 'alice');
      await store.createBucket(two, 'alice');
      const stored = [
        { bucket: one, key: 'k', bytes: storedBytes([['s1']]) },
        { bucket: two, key: 'k', bytes: storedBytes([['s1']]) },
        { bucket: one, key: 'k/2', bytes: storedBytes([['s1']]) },
      ];
      for (const o of stored) await store.putObject(newObject(o.bucket, o.key, o.bytes));
      const wanted = [...stored, { bucket: one, key: 'missing' }, { bucket: two, key: 'k/2' }, ...stored];
      const found = await Promise.all(wanted.map((w) => store.headObject(w.bucket, w.key)));
      expect(found.map((o) => o?.fileId ?? null)).toEqual(wanted.map((w) => ('bytes' in w ? w.bytes.fileId : null)));
      expect(found.map((o) => (o ? `${o.bucket}/${o.key}` : null))).toEqual(wanted.map((w) => ('bytes' in w ? `${w.bucket}/${w.key}` : null)));
    });

    test('an object under-replicated is repaired like a file', async () => {
      const bucket = bucketName('repair');
      await store.createBucket(bucket, 'alice');
      const [a, b] = [serverId('obj-r1'), serverId('obj-r2')];
      const bytes = storedBytes([[a]]);
      await store.putObject(newObject(bucket, 'k', bytes));
      const due = (await store.chunksToRepair(2, [a, b], 100_000)).filter((c) => c.chunkId === bytes.chunks[0].chunkId);
      expect(due).toEqual([expect.objectContaining({ fileId: bytes.fileId, healthyServerIds: [a] })]);
      expect(await store.addReplica(bytes.chunks[0].chunkId, b)).toBe(true);
      expect((await store.getObject(bucket, 'k'))?.chunks[0].replicas.map((r) => r.serverId).sort()).toEqual([a, b].sort());
    });

    test('replacing a key retires the old file: its replicas move to pending deletes', async () => {
      const bucket = bucketName('replace');
      await store.createBucket(bucket, 'alice');
      const s = serverId('replace');
      const first = storedBytes([[s], [s]]);
      const second = storedBytes([[s]]);
      await store.putObject(newObject(bucket, 'k', first, { etag: '1'.repeat(32) }));
      await store.putObject(newObject(bucket, 'k', second, { etag: '2'.repeat(32), metadata: { ...noMetadata, contentType: 'image/png' } }));
      expect(await store.headObject(bucket, 'k')).toMatchObject({ fileId: second.fileId, etag: '2'.repeat(32), size: 10, contentType: 'image/png' });
      expect(await pendingOn(s)).toEqual(replicasOf(first));
      expect(await store.referencedChunkIds(first.chunks.map((c) => c.chunkId))).toEqual(new Set());
    });

    test('an object or part written under an upload session ends the session, as a completed file does', async () => {
      const bucket = bucketName('session');
      await store.createBucket(bucket, 'alice');
      const session = (fileId: string) => ({ fileId, filename: 'k', contentType: 'x', gatewayId: 'gw', startedAt: new Date(), expiresAt: new Date(Date.now() - 1000) });
      const objectBytes = storedBytes([['s1']]);
      const partBytes = storedBytes([['s1']]);
      await store.beginUpload(session(objectBytes.fileId));
      await store.beginUpload(session(partBytes.fileId));
      await store.putObject(newObject(bucket, 'k', objectBytes));
      const upload = await store.createMultipartUpload({ bucket, key: 'm', owner: 'alice', metadata: noMetadata, checksumAlgorithm: null, checksumType: null });
      await store.putPart(upload!, { partNumber: 1, bytes: partBytes, etag: 'e', checksum: null });
      const expired = (await store.expiredUploads(new Date(), 100_000)).map((s) => s.fileId);
      expect(expired).not.toContain(objectBytes.fileId);
      expect(expired).not.toContain(partBytes.fileId);
    });

    test('a put into a missing bucket stores nothing', async () => {
      const bytes = storedBytes([['s1']]);
      expect(await store.putObject(newObject(bucketName('nowhere'), 'k', bytes))).toEqual({ status: 'no-bucket' });
      expect(await store.referencedChunkIds(bytes.chunks.map((c) => c.chunkId))).toEqual(new Set());
    });

    test('concurrent puts share batches: each gets its own record, and one into a missing bucket fails alone', async () => {
      const bucket = bucketName('batch');
      await store.createBucket(bucket, 'alice');
      const puts = Array.from({ length: 40 }, (_, i) => newObject(bucket, `key-${i}`, storedBytes([['s1', 's2']], 10 + i), { etag: String(i % 10).repeat(32) }));
      const lost = newObject(bucketName('nowhere'), 'k');
      const outcomes = await Promise.all([...puts.slice(0, 20), lost, ...puts.slice(20)].map((o) => store.putObject(o)));
      expect(outcomes[20]).toEqual({ status: 'no-bucket' });
      const stored = outcomes.filter((_, i) => i !== 20);
      stored.forEach((outcome, i) => {
        expect(outcome).toMatchObject({ status: 'stored', object: { bucket, key: `key-${i}`, fileId: puts[i].bytes.fileId, size: 10 + i, etag: puts[i].etag } });
      });
      for (const [i, put] of puts.entries()) expect(await store.headObject(bucket, `key-${i}`)).toMatchObject({ fileId: put.bytes.fileId });
      expect(await store.referencedChunkIds(lost.bytes.chunks.map((c) => c.chunkId))).toEqual(new Set());
    });

    test('puts racing on one key leave one object and every other file retired', async () => {
      const bucket = bucketName('race');
      await store.createBucket(bucket, 'alice');
      const s = serverId('race');
      const all = Array.from({ length: 8 }, () => storedBytes([[s]]));
      const results = await Promise.all(all.map((bytes) => store.putObject(newObject(bucket, 'hot', bytes))));
      expect(results.every((r) => r.status === 'stored')).toBe(true);
      const winner = (await store.headObject(bucket, 'hot'))!.fileId;
      const losers = all.filter((bytes) => bytes.fileId !== winner);
      expect(losers).toHaveLength(7);
      expect(await pendingOn(s)).toEqual(losers.flatMap(replicasOf).sort());
      const allChunks = all.flatMap((bytes) => bytes.chunks.map((c) => c.chunkId));
      expect([...(await store.referencedChunkIds(allChunks))]).toEqual(all.find((b) => b.fileId === winner)!.chunks.map((c) => c.chunkId));
    });

    test('delete one or many: pending deletes for each, and which keys existed', async () => {
      const bucket = bucketName('delete');
      await store.createBucket(bucket, 'alice');
      const s = serverId('delete');
      const bytes = ['a', 'b', 'c'].map(() => storedBytes([[s]]));
      for (const [i, key] of ['a', 'b', 'c'].entries()) await store.putObject(newObject(bucket, key, bytes[i]));
      expect(await store.deleteObject(bucket, 'a')).toBe(true);
      expect(await store.deleteObject(bucket, 'a')).toBe(false);
      expect((await store.deleteObjects(bucket, ['b', 'c', 'never'])).sort()).toEqual(['b', 'c']);
      expect(await store.deleteObjects(bucket, [])).toEqual([]);
      expect(await pendingOn(s)).toEqual(bytes.flatMap(replicasOf).sort());
      expect((await store.listObjects(bucket, { prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 })).objects).toEqual([]);
    });
  });

  describe('listing', () => {
    // Byte order differs from JavaScript's: U+E000..U+FFFF sort before astral characters in
    // UTF-16 but after them... no: in UTF-8 astral (F0..) sorts after U+FFFF (EF..).
    const keys = [
      'a', 'a/', 'a/b', 'a/b/c', 'a/b/d', 'a/c', 'a0', 'a\u00e9', 'a\uffff', 'a\u{10000}', 'a\ue000', 'B', 'b', 'b/x', 'b/y/z',
      'photos/2023/jan.jpg', 'photos/2023/feb.jpg', 'photos/2024/mar.jpg', 'photos/readme', 'photos0', 'z//double', 'z/', '~tilde',
    ];
    let bucket: string;
    beforeEach(async () => {
      if (bucket) return;
      bucket = bucketName('list');
      await store.createBucket(bucket, 'alice');
      for (const key of keys) await store.putObject(newObject(bucket, key));
    });

    /** Every page of a listing, following nextStartAfter. */
    async function allPages(prefix: string, delimiter: string, maxKeys: number, startAfter = '') {
      const entries: string[] = [];
      let after = startAfter;
      for (let page = 0; page < 100; page++) {
        const listing = await store.listObjects(bucket, { prefix, delimiter, startAfter: after, maxKeys });
        const pageEntries = [...listing.objects.map((o) => o.key), ...listing.commonPrefixes].sort(byteOrder);
        entries.push(...pageEntries);
        if (!listing.isTruncated) return entries;
        expect(listing.nextStartAfter).toBe(pageEntries.at(-1));
        after = listing.nextStartAfter!;
      }
      throw new Error('listing never ended');
    }

    test('keys in UTF-8 byte order with their fields', async () => {
      const listing = await store.listObjects(bucket, { prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 });
      expect(listing.objects.map((o) => o.key)).toEqual([...keys].sort(byteOrder));
      expect(listing.objects.map((o) => o.key).indexOf('a\u{10000}')).toBeGreaterThan(listing.objects.map((o) => o.key).indexOf('a\uffff'));
      expect(listing.objects[0]).toEqual({ key: 'B', etag: 'e'.repeat(32), size: 10, lastModified: expect.any(Date), checksum: null });
      expect(listing).toMatchObject({ commonPrefixes: [], isTruncated: false });
    });

    test.each([
      ['', '/'], ['a', '/'], ['a/', '/'], ['photos/', '/'], ['photos', '/'], ['photos/2023/', '/'], ['', ''], ['b/', ''], ['', 'a'],
      ['', '/b'], ['a', '\u00e9'], ['z/', '/'], ['nothing', '/'], ['', '\u{10000}'],
    ])('prefix %p, delimiter %p: every page size agrees with the model', async (prefix, delimiter) => {
      for (const maxKeys of [1, 2, 3, 1000]) {
        const model = modelListing(keys, prefix, delimiter, '', 10_000).page.map((e) => e.key ?? e.prefix!);
        expect([maxKeys, await allPages(prefix, delimiter, maxKeys)]).toEqual([maxKeys, model]);
      }
    });

    test('one page: objects and common prefixes apart, truncation, next start', async () => {
      const listing = await store.listObjects(bucket, { prefix: 'photos/', delimiter: '/', startAfter: '', maxKeys: 2 });
      expect(listing).toMatchObject({ commonPrefixes: ['photos/2023/', 'photos/2024/'], objects: [], isTruncated: true, nextStartAfter: 'photos/2024/' });
      const rest = await store.listObjects(bucket, { prefix: 'photos/', delimiter: '/', startAfter: 'photos/2024/', maxKeys: 2 });
      expect(rest).toMatchObject({ commonPrefixes: [], isTruncated: false, nextStartAfter: 'photos/readme' });
      expect(rest.objects.map((o) => o.key)).toEqual(['photos/readme']);
    });

    test('start-after anywhere, including inside a common prefix, and max-keys 0', async () => {
      for (const startAfter of ['', 'a', 'a/', 'a/b', 'a/b/c', 'photos/2023/', 'photos/2023/jan.jpg', 'photos/', 'zzz', '\u{10FFFF}']) {
        for (const delimiter of ['', '/']) {
          const model = modelListing(keys, '', delimiter, startAfter, 10_000).page.map((e) => e.key ?? e.prefix!);
          expect([startAfter, delimiter, await allPages('', delimiter, 3, startAfter)]).toEqual([startAfter, delimiter, model]);
        }
      }
      expect(await store.listObjects(bucket, { prefix: '', delimiter: '/', startAfter: '', maxKeys: 0 })).toEqual({
        objects: [], commonPrefixes: [], isTruncated: false, nextStartAfter: undefined,
      });
    });

    test('random keys and queries agree with the model', async () => {
      const randomBucket = bucketName('random');
      await store.createBucket(randomBucket, 'alice');
      let seed = 7;
      const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const alphabet = ['a', 'b', '/', '-', '.', '\u00e9', '\u{1F600}', '\uffff', 'A'];
      const word = (max: number) => Array.from({ length: 1 + random(max) }, () => alphabet[random(alphabet.length)]).join('');
      const randomKeys = [...new Set(Array.from({ length: 120 }, () => word(6)))];
      for (const key of randomKeys) await store.putObject(newObject(randomBucket, key));
      for (let i = 0; i < 25; i++) {
        const prefix = random(3) === 0 ? '' : word(2);
        const delimiter = ['', '/', '-', '\u{1F600}', 'a/'][random(5)];
        const startAfter = random(2) === 0 ? '' : word(3);
        const maxKeys = 1 + random(7);
        const model = modelListing(randomKeys, prefix, delimiter, startAfter, maxKeys);
        const listing = await store.listObjects(randomBucket, { prefix, delimiter, startAfter, maxKeys });
        const got: { key?: string; prefix?: string }[] = [...listing.objects.map((o) => ({ key: o.key })), ...listing.commonPrefixes.map((p) => ({ prefix: p }))];
        got.sort((x, y) =>
          byteOrder(x.key ?? x.prefix!, y.key ?? y.prefix!),
        );
        expect([{ prefix, delimiter, startAfter, maxKeys }, got, listing.isTruncated]).toEqual([{ prefix, delimiter, startAfter, maxKeys }, model.page, model.isTruncated]);
      }
    });

    test("a bucket's listing never shows another bucket's keys", async () => {
      const other = bucketName('neighbour');
      await store.createBucket(other, 'alice');
      await store.putObject(newObject(other, 'a/secret'));
      const listing = await store.listObjects(bucket, { prefix: 'a/', delimiter: '', startAfter: '', maxKeys: 1000 });
      expect(listing.objects.map((o) => o.key)).not.toContain('a/secret');
    });
  });

  describe('multipart uploads', () => {
    const create = async (bucket: string, key: string, metadata = noMetadata) =>
      (await store.createMultipartUpload({ bucket, key, owner: 'alice', metadata, checksumAlgorithm: 'CRC32', checksumType: 'COMPOSITE' }))!;

    test('create, find, and nothing for a missing bucket', async () => {
      const bucket = bucketName('mp');
      expect(await store.createMultipartUpload({ bucket, key: 'k', owner: 'alice', metadata: noMetadata, checksumAlgorithm: null, checksumType: null })).toBeNull();
      await store.createBucket(bucket, 'alice');
      const metadata = { ...noMetadata, contentType: 'video/mp4', userMetadata: { camera: 'x100' } };
      const upload = await create(bucket, 'movie.mp4', metadata);
      expect(upload).toMatchObject({ bucket, key: 'movie.mp4', owner: 'alice', metadata, checksumAlgorithm: 'CRC32', checksumType: 'COMPOSITE' });
      expect(upload.uploadId).toMatch(/^[0-9a-f]{32}$/);
      expect(await store.getMultipartUpload(bucket, 'movie.mp4', upload.uploadId)).toEqual(upload);
      expect(await store.getMultipartUpload(bucket, 'other', upload.uploadId)).toBeNull();
      expect(await store.getMultipartUpload(bucket, 'movie.mp4', 'nope')).toBeNull();
    });

    test('parts: recorded, replaced (old part to pending deletes), listed page by page', async () => {
      const bucket = bucketName('parts');
      await store.createBucket(bucket, 'alice');
      const s = serverId('parts');
      const upload = await create(bucket, 'k');
      const first = storedBytes([[s]]);
      expect(await store.putPart(upload, { partNumber: 3, bytes: first, etag: 'old', checksum: 'AAAAAA==' })).toMatchObject({ status: 'stored', part: { partNumber: 3, etag: 'old' } });
      const again = storedBytes([[s], [s]]);
      await store.putPart(upload, { partNumber: 3, bytes: again, etag: 'new', checksum: 'AQAAAA==' });
      for (const n of [1, 2, 7]) await store.putPart(upload, { partNumber: n, bytes: storedBytes([[s]]), etag: `p${n}`, checksum: null });
      expect(await pendingOn(s)).toEqual(replicasOf(first));
      const page1 = await store.listParts(upload, { partNumberMarker: 0, maxParts: 2 });
      expect(page1).toMatchObject({ isTruncated: true, nextPartNumberMarker: 2 });
      expect(page1?.parts.map((p) => p.partNumber)).toEqual([1, 2]);
      const page2 = await store.listParts(upload, { partNumberMarker: 2, maxParts: 2 });
      expect(page2?.parts).toEqual([
        { partNumber: 3, fileId: again.fileId, size: 20, etag: 'new', checksum: 'AQAAAA==', lastModified: expect.any(Date) },
        expect.objectContaining({ partNumber: 7 }),
      ]);
      expect(page2?.isTruncated).toBe(false);
      expect(await store.listParts(upload, { partNumberMarker: 7, maxParts: 2 })).toEqual({ parts: [], isTruncated: false, nextPartNumberMarker: undefined });
      expect(await store.listParts({ ...upload, key: 'other' }, { partNumberMarker: 0, maxParts: 10 })).toBeNull();
      expect(await store.putPart({ ...upload, key: 'other' }, { partNumber: 1, bytes: storedBytes([[s]]), etag: 'x', checksum: null })).toEqual({ status: 'no-upload' });
      // Part files are not files of the file API.
      expect(await store.getFile(again.fileId)).toBeNull();
    });

    test('complete stitches the listed parts by moving chunk rows; the rest goes to pending deletes', async () => {
      const bucket = bucketName('complete');
      await store.createBucket(bucket, 'alice');
      const s = serverId('complete');
      const metadata = { ...noMetadata, contentType: 'application/zip', userMetadata: { a: '1' } };
      const upload = await create(bucket, 'archive.zip', metadata);
      const parts = [1, 2, 3, 4].map((n) => ({ n, bytes: storedBytes(n === 2 ? [[s], [s], [s]] : [[s]], 100) }));
      for (const { n, bytes } of parts) await store.putPart(upload, { partNumber: n, bytes, etag: `etag${n}`, checksum: null });
      const fileId = randomUUID();
      const checksum = { algorithm: 'CRC32', value: 'AAAAAA==-3', type: 'COMPOSITE' as const };
      const outcome = await store.completeMultipartUpload({
        ...upload, parts: [1, 2, 4].map((n) => ({ partNumber: n, etag: `etag${n}` })), fileId, etag: 'f'.repeat(32) + '-3', checksum, minPartSize: 100,
      });
      expect(outcome).toEqual({
        status: 'completed',
        object: { bucket, key: 'archive.zip', fileId, etag: 'f'.repeat(32) + '-3', size: 500, ...metadata, checksum, lastModified: expect.any(Date) },
      });
      const object = (await store.getObject(bucket, 'archive.zip'))!;
      expect(object.sha256).toBeNull(); // never hashed whole: reads of it are not checked against a hash
      const expectedChunks = [parts[0], parts[1], parts[3]].flatMap((p) => p.bytes.chunks.map((c) => c.chunkId));
      expect(object.chunks.map((c) => c.chunkId)).toEqual(expectedChunks);
      expect(object.chunks.map((c) => [c.chunkNumber, c.offset, c.size])).toEqual(expectedChunks.map((_, i) => [i, i * 100, 100]));
      expect(object.chunks.every((c) => c.replicas.length === 1 && c.replicas[0].serverId === s)).toBe(true);
      // Part 3 was not listed: its chunk goes; the stitched chunks stay.
      expect(await pendingOn(s)).toEqual(replicasOf(parts[2].bytes));
      expect(await store.referencedChunkIds(expectedChunks)).toEqual(new Set(expectedChunks));
      expect(await store.getMultipartUpload(bucket, 'archive.zip', upload.uploadId)).toBeNull();
      expect(await store.listParts(upload, { partNumberMarker: 0, maxParts: 10 })).toBeNull();
      expect(await store.completeMultipartUpload({ ...upload, parts: [{ partNumber: 1, etag: 'etag1' }], fileId: randomUUID(), etag: 'x', checksum: null, minPartSize: 0 })).toEqual({ status: 'no-upload' });
      // The stitched object deletes like any other.
      expect(await store.deleteObject(bucket, 'archive.zip')).toBe(true);
      expect(await pendingOn(s)).toEqual([...replicasOf(parts[2].bytes), ...expectedChunks.map((c) => `${c}@${s}`)].sort());
    });

    test('complete refuses a missing part, a wrong ETag, a small part, and then changes nothing', async () => {
      const bucket = bucketName('refuse');
      await store.createBucket(bucket, 'alice');
      const upload = await create(bucket, 'k');
      await store.putPart(upload, { partNumber: 1, bytes: storedBytes([['s1']], 100), etag: 'one', checksum: null });
      await store.putPart(upload, { partNumber: 2, bytes: storedBytes([['s1']], 50), etag: 'two', checksum: null });
      await store.putPart(upload, { partNumber: 3, bytes: storedBytes([['s1']], 10), etag: 'three', checksum: null });
      const plan = { ...upload, fileId: randomUUID(), etag: 'x-3', checksum: null, minPartSize: 100 };
      const p = (n: number, etag: string) => ({ partNumber: n, etag });
      expect(await store.completeMultipartUpload({ ...plan, parts: [p(1, 'one'), p(4, 'four')] })).toEqual({ status: 'invalid-part', partNumber: 4 });
      expect(await store.completeMultipartUpload({ ...plan, parts: [p(1, 'one'), p(2, 'TWO')] })).toEqual({ status: 'invalid-part', partNumber: 2 });
      expect(await store.completeMultipartUpload({ ...plan, parts: [p(1, 'one'), p(2, 'two'), p(3, 'three')] })).toEqual({ status: 'too-small', partNumber: 2, size: 50 });
      expect(await store.headObject(bucket, 'k')).toBeNull();
      expect((await store.listParts(upload, { partNumberMarker: 0, maxParts: 10 }))?.parts).toHaveLength(3);
      // The last part may be small.
      expect((await store.completeMultipartUpload({ ...plan, parts: [p(1, 'one'), p(3, 'three')] })).status).toBe('completed');
      expect((await store.headObject(bucket, 'k'))?.size).toBe(110);
    });

    test('complete replaces an existing object, whose file is retired', async () => {
      const bucket = bucketName('over');
      await store.createBucket(bucket, 'alice');
      const s = serverId('over');
      const old = storedBytes([[s]]);
      await store.putObject(newObject(bucket, 'k', old));
      const upload = await create(bucket, 'k');
      await store.putPart(upload, { partNumber: 1, bytes: storedBytes([['s1']]), etag: 'one', checksum: null });
      const fileId = randomUUID();
      expect((await store.completeMultipartUpload({ ...upload, parts: [{ partNumber: 1, etag: 'one' }], fileId, etag: 'x-1', checksum: null, minPartSize: 0 })).status).toBe('completed');
      expect((await store.headObject(bucket, 'k'))?.fileId).toBe(fileId);
      expect(await pendingOn(s)).toEqual(replicasOf(old));
    });

    test('a part uploaded again while the upload completes: the object is whole either way', async () => {
      const bucket = bucketName('part-race');
      await store.createBucket(bucket, 'alice');
      for (let round = 0; round < 12; round++) {
        const upload = await create(bucket, `k${round}`);
        const original = [storedBytes([['s1'], ['s1']], 10), storedBytes([['s1']], 10)];
        for (const [i, bytes] of original.entries()) await store.putPart(upload, { partNumber: i + 1, bytes, etag: `v1-${i + 1}`, checksum: null });
        const replacement = storedBytes([['s1'], ['s1'], ['s1']], 10);
        const [completed, replaced] = await Promise.all([
          store.completeMultipartUpload({ ...upload, parts: [{ partNumber: 1, etag: 'v1-1' }, { partNumber: 2, etag: 'v1-2' }], fileId: randomUUID(), etag: 'x-2', checksum: null, minPartSize: 0 }),
          // Staggered so that either may come first (on PGlite the child runs them in turn).
          new Promise((resolve) => setTimeout(resolve, round % 3)).then(() => store.putPart(upload, { partNumber: 1, bytes: replacement, etag: 'v2-1', checksum: null })),
        ]);
        if (completed.status === 'completed') {
          // The completion took the first part as it was; the late part found no upload.
          expect(replaced.status).toBe('no-upload');
          const object = (await store.getObject(bucket, `k${round}`))!;
          expect(object.chunks.map((c) => c.chunkId)).toEqual(original.flatMap((b) => b.chunks.map((c) => c.chunkId)));
          expect(object.chunks.map((c) => c.offset)).toEqual([0, 10, 20]);
        } else {
          // The new part came first: the ETag the client listed is no longer the part's.
          expect(completed).toEqual({ status: 'invalid-part', partNumber: 1 });
          expect(replaced.status).toBe('stored');
        }
      }
    });

    test('abort sends every part to pending deletes; expired uploads are found oldest first', async () => {
      const bucket = bucketName('abort');
      await store.createBucket(bucket, 'alice');
      const s = serverId('abort');
      const upload = await create(bucket, 'k');
      const parts = [storedBytes([[s]]), storedBytes([[s], [s]])];
      for (const [i, bytes] of parts.entries()) await store.putPart(upload, { partNumber: i + 1, bytes, etag: `e${i}`, checksum: null });
      const later = await create(bucket, 'k2');
      const expired = (await store.expiredMultipartUploads(new Date(Date.now() + 60_000), 100_000)).map((u) => u.uploadId);
      expect(expired.indexOf(upload.uploadId)).toBeLessThan(expired.indexOf(later.uploadId));
      expect(expired.indexOf(upload.uploadId)).toBeGreaterThanOrEqual(0);
      expect((await store.expiredMultipartUploads(new Date(Date.now() - 3_600_000), 100_000)).map((u) => u.uploadId)).not.toContain(upload.uploadId);
      expect(await store.abortMultipartUpload(bucket, 'other', upload.uploadId)).toBe(false);
      expect(await store.abortMultipartUpload(bucket, 'k', upload.uploadId)).toBe(true);
      expect(await store.abortMultipartUpload(bucket, 'k', upload.uploadId)).toBe(false);
      expect(await pendingOn(s)).toEqual(parts.flatMap(replicasOf).sort());
    });

    test('uploads list by key then oldest first, with prefix, delimiter and both markers', async () => {
      const bucket = bucketName('uploads');
      await store.createBucket(bucket, 'alice');
      const ids: Record<string, string[]> = {};
      for (const key of ['b', 'a/1', 'a/2', 'b', 'c', 'b']) {
        const upload = await create(bucket, key);
        (ids[key] ??= []).push(upload.uploadId);
      }
      const list = (query: Partial<Parameters<MetadataStore['listMultipartUploads']>[1]>) =>
        store.listMultipartUploads(bucket, { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 1000, ...query });
      const all = await list({});
      expect(all.uploads.map((u) => [u.key, u.uploadId])).toEqual([
        ['a/1', ids['a/1'][0]], ['a/2', ids['a/2'][0]], ['b', ids.b[0]], ['b', ids.b[1]], ['b', ids.b[2]], ['c', ids.c[0]],
      ]);
      expect(all.uploads[0]).toMatchObject({ bucket, owner: 'alice', initiatedAt: expect.any(Date), checksumAlgorithm: 'CRC32' });
      const rolled = await list({ delimiter: '/' });
      expect(rolled.commonPrefixes).toEqual(['a/']);
      expect(rolled.uploads.map((u) => u.key)).toEqual(['b', 'b', 'b', 'c']);
      const page = await list({ maxUploads: 3 });
      expect(page).toMatchObject({ isTruncated: true, nextKeyMarker: 'b', nextUploadIdMarker: ids.b[0] });
      const next = await list({ maxUploads: 3, keyMarker: 'b', uploadIdMarker: ids.b[0] });
      expect(next.uploads.map((u) => u.uploadId)).toEqual([ids.b[1], ids.b[2], ids.c[0]]);
      expect(next.isTruncated).toBe(false);
      expect((await list({ keyMarker: 'b' })).uploads.map((u) => u.key)).toEqual(['c']);
      expect((await list({ prefix: 'a/' })).uploads.map((u) => u.key)).toEqual(['a/1', 'a/2']);
      const prefixPage = await list({ delimiter: '/', maxUploads: 1 });
      expect(prefixPage).toMatchObject({ commonPrefixes: ['a/'], isTruncated: true, nextKeyMarker: 'a/', nextUploadIdMarker: undefined });
      expect((await list({ delimiter: '/', keyMarker: 'a/' })).uploads.map((u) => u.key)).toEqual(['b', 'b', 'b', 'c']);
    });
  });
}
