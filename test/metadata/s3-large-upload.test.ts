/**
 * The largest multipart upload S3 allows, 10,000 parts, completed by the metadata store on
 * every backend: one statement moves all 10,000 parts' chunk rows into the object.
 */
import { randomUUID } from 'node:crypto';
import { openTestStores, type TestStore } from '../helpers/metadata';
import { storedBytes } from './s3-store-contract';

const PARTS = 10_000;
let stores: TestStore[] = [];

beforeAll(async () => {
  stores = await openTestStores();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.cleanup()));
});

test('a 10,000-part upload completes into one object with 10,000 chunks in order', async () => {
  for (const { name, store } of stores) {
    await store.createBucket('big', 'alice');
    const metadata = { contentType: null, contentEncoding: null, contentDisposition: null, contentLanguage: null, cacheControl: null, expires: null, userMetadata: {} };
    const upload = (await store.createMultipartUpload({ bucket: 'big', key: 'huge.bin', owner: 'alice', metadata, checksumAlgorithm: null, checksumType: null }))!;
    // Part n holds n bytes, so the offsets tell the order; uploaded 20 at a time, as clients do.
    const parts = Array.from({ length: PARTS }, (_, i) => ({ partNumber: i + 1, bytes: storedBytes([['s1', 's2']], i + 1) }));
    for (let at = 0; at < PARTS; at += 20) {
      await Promise.all(parts.slice(at, at + 20).map(({ partNumber, bytes }) => store.putPart(upload, { partNumber, bytes, etag: `etag-${partNumber}`, checksum: null })));
    }
    const chunkIds = parts.map((p) => p.bytes.chunks[0].chunkId);
    const fileId = randomUUID();
    const outcome = await store.completeMultipartUpload({
      ...upload,
      parts: Array.from({ length: PARTS }, (_, i) => ({ partNumber: i + 1, etag: `etag-${i + 1}` })),
      fileId,
      etag: 'f'.repeat(32) + `-${PARTS}`,
      checksum: null,
      minPartSize: 0,
    });
    expect([name, outcome.status]).toEqual([name, 'completed']);
    const object = (await store.getObject('big', 'huge.bin'))!;
    const total = (PARTS * (PARTS + 1)) / 2;
    expect(object.size).toBe(total);
    expect(object.chunks).toHaveLength(PARTS);
    expect(object.chunks.map((c) => c.chunkId)).toEqual(chunkIds);
    expect(object.chunks.every((c, i) => c.chunkNumber === i && c.offset === (i * (i + 1)) / 2 && c.size === i + 1)).toBe(true);
    expect(await store.listParts(upload, { partNumberMarker: 0, maxParts: 1 })).toBeNull();
  }
}, 600_000);
