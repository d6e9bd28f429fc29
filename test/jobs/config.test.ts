import { ConfigError } from '../../src/util/env';
import { loadJobsConfig } from '../../src/jobs/config';

describe('loadJobsConfig', () => {
  it('has documented defaults', () => {
    expect(loadJobsConfig({})).toEqual({
      repair: { intervalMs: 60_000, graceMs: 600_000, bandwidthBytesPerSec: 50 * 1024 * 1024, concurrency: 2 },
      scrub: { intervalMs: 3_600_000, chunksPerSec: 5, chunksPerServerPerRun: 2_000 },
      moves: {
        drainIntervalMs: 10_000,
        rebalanceIntervalMs: 0,
        rebalanceBandPercent: 10,
        bandwidthBytesPerSec: 50 * 1024 * 1024,
        concurrency: 2,
        deleteDelayMs: 60_000,
      },
    });
  });

  it('reads every variable, sizes with units', () => {
    const config = loadJobsConfig({
      REPAIR_INTERVAL_MS: '0',
      REPAIR_GRACE_MS: '2000',
      REPAIR_BANDWIDTH: '10MiB',
      REPAIR_CONCURRENCY: '4',
      SCRUB_INTERVAL_MS: '60000',
      SCRUB_RATE: '0',
      SCRUB_CHUNKS_PER_RUN: '100',
      DRAIN_INTERVAL_MS: '0',
      REBALANCE_INTERVAL_MS: '3600000',
      REBALANCE_BAND_PERCENT: '5',
      MOVE_BANDWIDTH: '1GiB',
      MOVE_CONCURRENCY: '8',
      MOVE_DELETE_DELAY_MS: '0',
    });
    expect(config).toEqual({
      repair: { intervalMs: 0, graceMs: 2000, bandwidthBytesPerSec: 10 * 1024 * 1024, concurrency: 4 },
      scrub: { intervalMs: 60_000, chunksPerSec: 0, chunksPerServerPerRun: 100 },
      moves: {
        drainIntervalMs: 0,
        rebalanceIntervalMs: 3_600_000,
        rebalanceBandPercent: 5,
        bandwidthBytesPerSec: 1024 ** 3,
        concurrency: 8,
        deleteDelayMs: 0,
      },
    });
  });

  it.each([
    ['REPAIR_BANDWIDTH', 'fast'],
    ['REPAIR_CONCURRENCY', '0'],
    ['REPAIR_GRACE_MS', '-1'],
    ['SCRUB_RATE', '1.5'],
    ['SCRUB_CHUNKS_PER_RUN', '0'],
    ['REBALANCE_BAND_PERCENT', '0'],
    ['REBALANCE_BAND_PERCENT', '60'],
    ['MOVE_BANDWIDTH', 'lots'],
    ['MOVE_DELETE_DELAY_MS', '-5'],
  ])('rejects %s=%s with an error naming the variable', (name, value) => {
    expect(() => loadJobsConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadJobsConfig({ [name]: value })).toThrow(name);
  });
});
