import { capacityWeights, isLowOnSpace } from '../../src/replicas/server-capacity';

const GiB = 1024 ** 3;

describe('server capacity', () => {
  it('weighs each server by its disk against the mean, an unknown one as average', () => {
    const weights = capacityWeights([
      { id: 'a', totalSpace: 100 * GiB },
      { id: 'b', totalSpace: 200 * GiB },
      { id: 'c', totalSpace: null },
    ]);
    expect(weights.get('b')! / weights.get('a')!).toBeCloseTo(2);
    expect(weights.get('a')).toBeCloseTo(2 / 3);
    expect(weights.get('c')).toBe(1);
    expect(capacityWeights([{ id: 'x', totalSpace: null }]).get('x')).toBe(1);
  });

  it('is low on space under the setting, or under 5% of a disk too small for it', () => {
    expect(isLowOnSpace({ availableSpace: 2 * GiB, totalSpace: 1000 * GiB }, GiB)).toBe(false);
    expect(isLowOnSpace({ availableSpace: GiB - 1, totalSpace: 1000 * GiB }, GiB)).toBe(true);
    // A 512 MiB disk: low under 5% of it (25.6 MiB), not under the 1 GiB setting.
    expect(isLowOnSpace({ availableSpace: 100 * 1024 ** 2, totalSpace: GiB / 2 }, GiB)).toBe(false);
    expect(isLowOnSpace({ availableSpace: 20 * 1024 ** 2, totalSpace: GiB / 2 }, GiB)).toBe(true);
    // Never reported: not low.
    expect(isLowOnSpace({ availableSpace: null, totalSpace: null }, GiB)).toBe(false);
    expect(isLowOnSpace({ availableSpace: 10, totalSpace: null }, GiB)).toBe(true);
  });
});
