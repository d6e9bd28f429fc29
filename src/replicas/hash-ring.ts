import { createHash } from 'node:crypto';

/** Virtual nodes of a server of weight 1: enough for an even spread (<1.5x mean at 6 servers). */
const DEFAULT_VNODES = 160;

function hash32(key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0);
}

/** A server on the ring. */
export interface RingMember {
  id: string;
  /** Its share of new chunks relative to the others (its disk against theirs); 1 = the default share. */
  weight?: number;
  /** Passed over while enough other servers can take a chunk (placement avoids it before it refuses writes). */
  lowOnSpace?: boolean;
}

/**
 * Consistent-hash ring with virtual nodes, as many per server as its weight asks for, so a
 * server with twice the weight owns about twice the ring. Immutable: a ring change builds a new
 * ring, so readers never see a half-updated one.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: string[];
  private readonly lowOnSpace: ReadonlySet<string>;
  readonly serverIds: ReadonlySet<string>;

  constructor(members: Iterable<string | RingMember>, vnodes = DEFAULT_VNODES) {
    const byId = new Map<string, RingMember>();
    for (const member of members) {
      const entry = typeof member === 'string' ? { id: member } : member;
      byId.set(entry.id, entry);
    }
    const ids = [...byId.keys()].sort();
    const entries: Array<[number, string]> = [];
    for (const id of ids) {
      const count = Math.max(1, Math.round(vnodes * (byId.get(id)!.weight ?? 1)));
      for (let v = 0; v < count; v++) entries.push([hash32(`${id}#${v}`), id]);
    }
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    this.points = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
    this.serverIds = new Set(ids);
    this.lowOnSpace = new Set(ids.filter((id) => byId.get(id)!.lowOnSpace));
  }

  get size(): number {
    return this.serverIds.size;
  }

  isLowOnSpace(serverId: string): boolean {
    return this.lowOnSpace.has(serverId);
  }

  /**
   * Walk clockwise from the key's position and return up to `count` distinct servers that
   * pass `admit` (e.g. Ready and admitted by their breaker), in ring order. Servers low on
   * space come only after every other admitted one, to fill up the count.
   */
  pick(key: string, count: number, admit: (serverId: string) => boolean = () => true): string[] {
    const chosen: string[] = [];
    const reluctant: string[] = [];
    if (this.points.length === 0 || count <= 0) return chosen;
    const seen = new Set<string>();
    const start = this.firstPointAtOrAfter(hash32(key));
    for (let i = 0; i < this.points.length && chosen.length < count && seen.size < this.serverIds.size; i++) {
      const owner = this.owners[(start + i) % this.points.length];
      if (seen.has(owner)) continue;
      seen.add(owner);
      if (!admit(owner)) continue;
      if (this.lowOnSpace.has(owner)) reluctant.push(owner);
      else chosen.push(owner);
    }
    return [...chosen, ...reluctant].slice(0, count);
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
