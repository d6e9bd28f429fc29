import type { BucketRecord } from '../../src/metadata/types';
import { BucketAccess } from '../../src/objects/bucket-access';
import { AccessDeniedError } from '../../src/objects/errors';

/** A bucket table that counts its reads. */
function bucketTable(buckets: Record<string, string>) {
  const table = {
    reads: 0,
    async getBucket(name: string): Promise<BucketRecord | null> {
      table.reads++;
      const owner = buckets[name];
      return owner === undefined ? null : { name, owner, createdAt: new Date(0) };
    },
  };
  return table;
}

const GRANTS: Record<string, string[]> = { alice: [], bob: ['shared'], ops: ['*'] };

describe('BucketAccess', () => {
  it('lets the owner, granted keys and every-bucket keys use a bucket; deleting is for the owner and every-bucket keys', async () => {
    const access = new BucketAccess(bucketTable({ diary: 'alice', shared: 'alice' }), (key) => GRANTS[key] ?? []);
    await expect(access.check('alice', 'diary', 'use')).resolves.toBeUndefined();
    await expect(access.check('bob', 'diary', 'use')).rejects.toBeInstanceOf(AccessDeniedError);
    await expect(access.check('bob', 'shared', 'use')).resolves.toBeUndefined();
    await expect(access.check('bob', 'shared', 'delete')).rejects.toThrow('this access key may not use bucket shared');
    await expect(access.check('ops', 'diary', 'delete')).resolves.toBeUndefined();
    await expect(access.check('stranger', 'shared', 'use')).rejects.toBeInstanceOf(AccessDeniedError);
    // A missing bucket is the operation's to report (NoSuchBucket), not a denial.
    await expect(access.check('bob', 'nowhere', 'use')).resolves.toBeUndefined();
  });

  it('reads an owner once per 2 s, and afresh after forget() or once it expired', async () => {
    let now = 1_000;
    const owners: Record<string, string> = { diary: 'alice' };
    const table = bucketTable(owners);
    const access = new BucketAccess(table, (key) => GRANTS[key] ?? [], () => now);
    for (let i = 0; i < 5; i++) await access.check('alice', 'diary', 'use');
    expect(table.reads).toBe(1);
    // Deleted and re-created by bob on this gateway: forgotten at once.
    owners.diary = 'bob';
    access.forget('diary');
    await expect(access.check('alice', 'diary', 'use')).rejects.toBeInstanceOf(AccessDeniedError);
    expect(table.reads).toBe(2);
    // ...or on another gateway: seen once the cached owner expires.
    owners.diary = 'alice';
    now += 1_999;
    await expect(access.check('alice', 'diary', 'use')).rejects.toBeInstanceOf(AccessDeniedError);
    now += 2;
    await expect(access.check('alice', 'diary', 'use')).resolves.toBeUndefined();
    expect(table.reads).toBe(3);
  });
});
