import { Batcher } from '../../src/metadata/batcher';

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Batcher (group commit)', () => {
  it('runs a lone item at once, and the items that arrive meanwhile together as the next batch', async () => {
    const batches: number[][] = [];
    const gate = deferred<void>();
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate.promise;
      return items.map((n) => n * 10);
    });
    const first = batcher.submit(1);
    const rest = [2, 3, 4].map((n) => batcher.submit(n));
    expect(batches).toEqual([[1]]);
    gate.resolve();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('settles no caller before its batch returned', async () => {
    const gate = deferred<void>();
    const batcher = new Batcher<string, string>(async (items) => {
      await gate.promise;
      return items;
    });
    let settled = false;
    const pending = batcher.submit('a').then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    gate.resolve();
    await pending;
    expect(settled).toBe(true);
  });

  it('keeps batches within maxBatch', async () => {
    const sizes: number[] = [];
    const gate = deferred<void>();
    const batcher = new Batcher<number, number>(async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await gate.promise;
      return items;
    }, { maxBatch: 3 });
    const all = Array.from({ length: 8 }, (_, n) => batcher.submit(n));
    gate.resolve();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sizes).toEqual([1, 3, 3, 1]);
  });

  it('a failed batch is run again item by item: only the bad item fails', async () => {
    const gate = deferred<void>();
    const runs: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      runs.push(items);
      if (runs.length === 1) await gate.promise;
      if (items.includes(13)) throw new Error('unlucky');
      return items;
    });
    const first = batcher.submit(1);
    const others = [12, 13, 14].map((n) => batcher.submit(n).then((v) => `ok ${v}`, (e: Error) => e.message));
    gate.resolve();
    expect(await first).toBe(1);
    expect(await Promise.all(others)).toEqual(['ok 12', 'unlucky', 'ok 14']);
    expect(runs).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });

  it('with gatherTurn, runs the items of one turn of the event loop as one batch, the first one included', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      return items;
    }, { gatherTurn: true });
    // As completions come: each after awaits of its own, in the same turn.
    const results = await Promise.all([0, 1, 2].map(async (n) => {
      for (let i = 0; i < n * 3; i++) await Promise.resolve();
      return batcher.submit(n);
    }));
    expect(results).toEqual([0, 1, 2]);
    expect(batches).toEqual([[0, 1, 2]]);
  });
});
