import { metadataContract } from './store-contract';
import { openTestPglite } from '../helpers/metadata';
import { storedBytes } from './s3-store-contract';

describe('PGlite metadata store', () => {
  metadataContract(openTestPglite);
});

describe('PGlite store: S3 object rows in memory', () => {
  it('holds the row an S3 PUT stored, so the GET that follows reads no metadata', async () => {
    const testStore = await openTestPglite();
    try {
      const { store } = testStore;
      await store.createBucket('b', 'alice');
      const metadata = { contentType: null, contentEncoding: null, contentDisposition: null, contentLanguage: null, cacheControl: null, expires: null, userMetadata: {} };
      const put = await store.putObject({ bucket: 'b', key: 'k', bytes: storedBytes([['s1']]), etag: 'e'.repeat(32), metadata, checksum: null });
      if (put.status !== 'stored') throw new Error(`put answered ${put.status}`);
      expect(store.cachedObject('b', 'k')).toEqual(put.object);
      // ...and it is the row the database holds, as a restarted gateway reads it.
      expect(await (await testStore.reopen()).headObject('b', 'k')).toEqual(put.object);
    } finally {
      await testStore.cleanup();
    }
  });
});
