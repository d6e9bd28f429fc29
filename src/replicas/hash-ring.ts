import { createHash } from 'node:crypto';

/** Default virtual nodes per server: enough for an even spread (<1.5x mean at 6 servers). */
const DEFAULT_VNODES = 160;

function hash32(key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0);
}

/**
 * Consistent-hash ring with virtual nodes. Immutable: a ring change builds a new ring, so
 * readers never see a half-updated one.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: string[];
  readonly serverIds: ReadonlySet<string>;

  constructor(serverIds: Iterable<string>, vnodes = DEFAULT_VNODES) {
    const ids = [...new Set(serverIds)].sort();
    const entries: Array<[number, string]> = [];
    for (const id of ids) {
      for (let v = 0; v < vnodes; v++) entries.push([hash32(`${id}#${v}`), id]);
    }
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    this.points = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
    this.serverIds = new Set(ids);
  }

  get size(): number {
    return this.serverIds.size;
  }

  /**
   * Walk clockwise from the key's position and return up to `count` distinct servers that
   * pass `admit` (e.g. Ready and admitted by their breaker), in ring order.
   */
  pick(key: string, count: number, admit: (serverId: string) => boolean = () => true): string[] {
    const chosen: string[] = [];
    if (this.points.length === 0 || count <= 0) return chosen;
    const seen = new Set<string>();
    const start = this.firstPointAtOrAfter(hash32(key));
    for (let i = 0; i < this.points.length && chosen.length < count && seen.size < this.serverIds.size; i++) {
      const owner = this.owners[(start + i) % this.points.length];
      if (seen.has(owner)) continue;
      seen.add(owner);
      if (admit(owner)) chosen.push(owner);
    }
    return chosen;
  }

  private firstPointAtOrAfter(position: number): number {
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.points[mid] < position) low = mid + 1;
      else high = mid;
    }
    return low === this.points.length ? 0 : low;
  }
}
