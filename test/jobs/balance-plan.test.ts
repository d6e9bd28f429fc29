import { BalancePlan } from '../../src/jobs/balance-plan';

const MiB = 1024 ** 2;

describe('BalancePlan', () => {
  it('gives each server a share of the bytes by weight and measures how far each is from it', () => {
    const plan = new BalancePlan(
      [
        { id: 'a', bytes: 300 * MiB, weight: 1 },
        { id: 'b', bytes: 300 * MiB, weight: 1 },
        { id: 'c', bytes: 0, weight: 1 },
      ],
      10,
    );
    expect(plan.balances()).toEqual([
      { id: 'a', bytes: 300 * MiB, targetBytes: 200 * MiB, deviationPercent: 50 },
      { id: 'b', bytes: 300 * MiB, targetBytes: 200 * MiB, deviationPercent: 50 },
      { id: 'c', bytes: 0, targetBytes: 200 * MiB, deviationPercent: -100 },
    ]);
    expect(plan.outsideBand().sort()).toEqual(['a', 'b', 'c']);
    expect(plan.bytesToMove()).toBe(180 * MiB); // c must reach 90% of its share
    expect(plan.pairs()[0]).toEqual({ from: 'a', to: 'c' });
  });

  it('only proposes moves that make the spread smaller, and converges into the band', () => {
    const plan = new BalancePlan(
      [
        { id: 'a', bytes: 70 * MiB, weight: 1 },
        { id: 'b', bytes: 50 * MiB, weight: 1 },
        { id: 'c', bytes: 10 * MiB, weight: 2 },
      ],
      10,
    );
    // c has twice the disk: its share is half of the 130 MiB.
    expect(plan.balances().find((b) => b.id === 'c')!.targetBytes).toBe(65 * MiB);
    expect(plan.improves('a', 'c', 2 * MiB)).toBe(true);
    expect(plan.improves('c', 'a', 2 * MiB)).toBe(false);
    expect(plan.improves('a', 'c', 100 * MiB)).toBe(false);
    let moves = 0;
    for (let pairs = plan.pairs(); pairs.length > 0; pairs = plan.pairs()) {
      const { from, to } = pairs[0];
      expect(plan.improves(from, to, MiB)).toBe(true);
      plan.apply(from, to, MiB);
      moves++;
      expect(moves).toBeLessThan(200);
    }
    expect(plan.outsideBand()).toEqual([]);
    expect(plan.bytesToMove()).toBe(0);
    for (const b of plan.balances()) expect(Math.abs(b.deviationPercent)).toBeLessThanOrEqual(10);
  });

  it('is balanced when nothing is stored, and a failed move can be booked back', () => {
    const empty = new BalancePlan([{ id: 'a', bytes: 0, weight: 1 }, { id: 'b', bytes: 0, weight: 1 }], 10);
    expect(empty.pairs()).toEqual([]);
    expect(empty.outsideBand()).toEqual([]);
    const plan = new BalancePlan([{ id: 'a', bytes: 10, weight: 1 }, { id: 'b', bytes: 0, weight: 1 }], 10);
    plan.apply('a', 'b', 5);
    expect(plan.outsideBand()).toEqual([]);
    plan.apply('a', 'b', -5);
    expect(plan.outsideBand().sort()).toEqual(['a', 'b']);
  });
});
