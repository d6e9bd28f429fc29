import { randomUUID } from 'node:crypto';
import { HashRing } from '../../src/replicas/hash-ring';

const servers = ['s1', 's2', 's3', 's4', 's5', 's6'];

describe('HashRing', () => {
  it('spreads 600 chunks over 6 servers with none above 1.5x the mean', () => {
    const ring = new HashRing(servers);
    const counts = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const [owner] = ring.pick(randomUUID(), 1);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(count).toBeLessThanOrEqual(150);
  });

  it('returns distinct servers in a stable order for a key', () => {
    const ring = new HashRing(servers);
    const key = randomUUID();
    const picked = ring.pick(key, 3);
    expect(new Set(picked).size).toBe(3);
    expect(new HashRing([...servers].reverse()).pick(key, 3)).toEqual(picked);
  });

  it('skips servers the filter refuses and never returns more than exist', () => {
    const ring = new HashRing(servers);
    const picked = ring.pick('some-key', 10, (id) => id !== 's3');
    expect(picked).toHaveLength(5);
    expect(picked).not.toContain('s3');
    expect(new HashRing([]).pick('k', 2)).toEqual([]);
  });

  it('moves only about 1/n of keys when a server is added', () => {
    const before = new HashRing(servers);
    const after = new HashRing([...servers, 's7']);
    const keys = Array.from({ length: 2000 }, () => randomUUID());
    const moved = keys.filter((k) => before.pick(k, 1)[0] !== after.pick(k, 1)[0]);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length / keys.length).toBeLessThan(0.3);
    // Every moved key moved to the new server.
    for (const k of moved) expect(after.pick(k, 1)[0]).toBe('s7');
  });

  it('gives a server with twice the weight about twice the share of keys', () => {
    const ring = new HashRing([{ id: 'big', weight: 2 }, 's1', 's2', { id: 's3', weight: 1 }]);
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const [owner] = ring.pick(randomUUID(), 1);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const small = (counts.get('s1')! + counts.get('s2')! + counts.get('s3')!) / 3;
    const ratio = counts.get('big')! / small;
    expect(ratio).toBeGreaterThan(1.6);
    expect(ratio).toBeLessThan(2.4);
  });

  it('passes over servers low on space while enough others are admitted, and falls back to them', () => {
    const ring = new HashRing([...servers.map((id) => ({ id, lowOnSpace: id === 's2' || id === 's4' }))]);
    expect(ring.isLowOnSpace('s2')).toBe(true);
    expect(ring.isLowOnSpace('s1')).toBe(false);
    for (let i = 0; i < 200; i++) {
      const key = randomUUID();
      expect(ring.pick(key, 3)).not.toEqual(expect.arrayContaining(['s2']));
      expect(ring.pick(key, 4)).not.toContain('s4');
      // Only 4 servers have room: the fifth and sixth come from those low on space.
      const all = ring.pick(key, 6);
      expect(all.slice(0, 4).sort()).toEqual(['s1', 's3', 's5', 's6']);
      expect(all.slice(4).sort()).toEqual(['s2', 's4']);
    }
    // Only low ones admitted: still placed.
    expect(ring.pick('k', 1, (id) => id === 's4')).toEqual(['s4']);
  });
});
