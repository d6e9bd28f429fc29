import type { ObjectRecord } from '../../src/metadata/types';
import { ObjectRowCache } from '../../src/metadata/object-row-cache';

const row = (etag: string) => ({ bucket: 'b', key: 'k', etag }) as unknown as ObjectRecord;

/** A read that answers when the test says so, and counts how often it ran. */
function controlledRead() {
  const read = {
    calls: 0,
    release: (_value: ObjectRecord | null) => {},
    run: () => {
      read.calls++;
      return new Promise<ObjectRecord | null>((resolve) => (read.release = resolve));
    },
  };
  return read;
}

describe('ObjectRowCache: object rows in memory, never stale', () => {
  it('serves a row read once from memory until a change of its key', async () => {
    const cache = new ObjectRowCache(10);
    let reads = 0;
    const read = async () => (reads++, row(`v${reads}`));
    expect((await cache.lookup('b', 'k', read))!.etag).toBe('v1');
    expect((await cache.lookup('b', 'k', read))!.etag).toBe('v1');
    expect(reads).toBe(1);
    await cache.change([{ bucket: 'b', key: 'k' }], async () => undefined);
    expect((await cache.lookup('b', 'k', read))!.etag).toBe('v2');
    expect(reads).toBe(2);
  });

  it('does not keep a row read while a change ran: it may be the replaced one', async () => {
    const cache = new ObjectRowCache(10);
    const slow = controlledRead();
    const lookup = cache.lookup('b', 'k', slow.run);
    // The overwrite commits while the lookup's read is on its way with the old row.
    await cache.change([{ bucket: 'b', key: 'k' }], async () => undefined);
    slow.release(row('old'));
    expect((await lookup)!.etag).toBe('old'); // this answer raced the write: either is right
    // ...but it was not kept: the next lookup reads again and sees the new row.
    expect((await cache.lookup('b', 'k', async () => row('new')))!.etag).toBe('new');

    // A lookup that starts during a change (before its commit) is not kept either.
    const write = controlledRead();
    const changing = cache.change([{ bucket: 'b', key: 'k' }], write.run);
    const during = cache.lookup('b', 'k', async () => row('before-commit'));
    expect((await during)!.etag).toBe('before-commit');
    write.release(null);
    await changing;
    expect((await cache.lookup('b', 'k', async () => row('after-commit')))!.etag).toBe('after-commit');
  });

  it('keeps no missing rows, drops the least recently used past maxRows, and keeps nothing with maxRows 0', async () => {
    const cache = new ObjectRowCache(2);
    let reads = 0;
    const read = (etag: string) => async () => (reads++, row(etag));
    expect(await cache.lookup('b', 'gone', async () => (reads++, null))).toBeNull();
    expect(await cache.lookup('b', 'gone', async () => (reads++, null))).toBeNull();
    expect(reads).toBe(2);
    await cache.lookup('b', 'one', read('1'));
    await cache.lookup('b', 'two', read('2'));
    await cache.lookup('b', 'one', read('x')); // a hit: 'one' is now the most recent
    await cache.lookup('b', 'three', read('3')); // 'two' goes
    reads = 0;
    expect((await cache.lookup('b', 'one', read('x')))!.etag).toBe('1');
    expect((await cache.lookup('b', 'two', read('2 again')))!.etag).toBe('2 again');
    expect(reads).toBe(1);

    const off = new ObjectRowCache(0);
    await off.lookup('b', 'k', read('a'));
    expect((await off.lookup('b', 'k', read('b')))!.etag).toBe('b');
  });

  it('keeps the row a put wrote, unless another change of its key overlapped it', async () => {
    const cache = new ObjectRowCache(10);
    const noRead = async (): Promise<ObjectRecord | null> => {
      throw new Error('read instead of served from memory');
    };
    await cache.put({ bucket: 'b', key: 'k' }, async () => row('put'));
    expect((await cache.lookup('b', 'k', noRead))!.etag).toBe('put');

    // A change of another key meanwhile does not matter.
    const other = controlledRead();
    const otherChange = cache.change([{ bucket: 'b', key: 'other' }], other.run);
    await cache.put({ bucket: 'b', key: 'k' }, async () => row('beside another'));
    other.release(null);
    await otherChange;
    expect((await cache.lookup('b', 'k', noRead))!.etag).toBe('beside another');

    // Two puts of one key at once: either may have committed last, so neither is kept.
    const first = controlledRead();
    const firstPut = cache.put({ bucket: 'b', key: 'k' }, async () => (await first.run())!);
    await cache.put({ bucket: 'b', key: 'k' }, async () => row('second'));
    first.release(row('first'));
    await firstPut;
    expect((await cache.lookup('b', 'k', async () => row('read')))!.etag).toBe('read');

    // A put that fails keeps nothing, and a cache of 0 rows keeps no put.
    await cache.put({ bucket: 'b', key: 'failed' }, async () => Promise.reject(new Error('refused'))).catch(() => undefined);
    expect(cache.peek('b', 'failed')).toBeUndefined();
    const off = new ObjectRowCache(0);
    await off.put({ bucket: 'b', key: 'k' }, async () => row('put'));
    expect(off.peek('b', 'k')).toBeUndefined();
  });
});
