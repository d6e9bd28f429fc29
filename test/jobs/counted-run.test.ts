import { countedRun } from '../../src/jobs/counted-run';
import { createMetrics } from '../../src/observability/metrics';

describe('countedRun', () => {
  const runs = async (metrics: ReturnType<typeof createMetrics>) =>
    (await metrics.jobRuns.get()).values.map((v) => `${v.labels.job} ${v.labels.outcome} ${v.value}`).sort();

  it('counts a run with a report as ran, one without as skipped, one that threw as failed, and passes each on', async () => {
    const metrics = createMetrics();
    expect(await countedRun(metrics, 'repair', Promise.resolve({ repaired: 3 }))).toEqual({ repaired: 3 });
    expect(await countedRun(metrics, 'repair', Promise.resolve({ repaired: 0 }))).toEqual({ repaired: 0 });
    expect(await countedRun(metrics, 'repair', Promise.resolve(undefined))).toBeUndefined();
    await expect(countedRun(metrics, 'scrub', Promise.reject(new Error('database is down')))).rejects.toThrow('database is down');
    expect(await runs(metrics)).toEqual(['repair ran 2', 'repair skipped 1', 'scrub failed 1']);
  });
});
