/**
 * `load` behind a cache of `maxAgeMs`: callers within that time share the last value, and
 * callers while a load runs share that load. For figures that are costly to compute and read
 * often, such as a count of rows on every metrics scrape.
 */
export function atMostEvery<T>(maxAgeMs: number, load: () => Promise<T>): () => Promise<T> {
  let last: { value: T; at: number } | undefined;
  let running: Promise<T> | undefined;
  return () => {
    if (last && Date.now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    running ??= load()
      .then((value) => {
        last = { value, at: Date.now() };
        return value;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}
