/** One server as a rebalance sees it. */
export interface ServerLoad {
  id: string;
  /** Bytes of the replicas it holds. */
  bytes: number;
  /** Its weight (disk size against the others'): its share of the bytes is weight / sum of weights. */
  weight: number;
}

/** Where a server stands against its share. */
export interface ServerBalance {
  id: string;
  bytes: number;
  /** The bytes it would hold if every server held exactly its share. */
  targetBytes: number;
  /** (bytes - target) / target, in percent. */
  deviationPercent: number;
}

/**
 * The arithmetic of a rebalance: each server's share of the bytes held (proportional to its
 * weight), how far each one is from it, and which move brings them closer. Every server must
 * end within the band (+-bandPercent of its share). A move of `size` bytes from `from` to `to`
 * is only proposed when it leaves `to` below where `from` was (relative to their shares), so
 * every move makes the spread strictly smaller and a rebalance cannot go round in circles.
 */
export class BalancePlan {
  private readonly bytes = new Map<string, number>();
  private readonly target = new Map<string, number>();
  private readonly band: number;

  constructor(servers: readonly ServerLoad[], bandPercent: number) {
    this.band = bandPercent / 100;
    const total = servers.reduce((sum, s) => sum + s.bytes, 0);
    const weights = servers.reduce((sum, s) => sum + s.weight, 0);
    for (const s of servers) {
      this.bytes.set(s.id, s.bytes);
      this.target.set(s.id, weights > 0 ? (total * s.weight) / weights : 0);
    }
  }

  /** Every server, fullest (against its share) first. */
  balances(): ServerBalance[] {
    return [...this.bytes.keys()]
      .map((id) => ({ id, bytes: this.bytes.get(id)!, targetBytes: Math.round(this.target.get(id)!), deviationPercent: this.deviation(id) * 100 }))
      .sort((a, b) => b.deviationPercent - a.deviationPercent || (a.id < b.id ? -1 : 1));
  }

  /** Servers outside the band. */
  outsideBand(): string[] {
    return [...this.bytes.keys()].filter((id) => Math.abs(this.deviation(id)) > this.band);
  }

  /** Bytes that must move at least before every server is within the band. */
  bytesToMove(): number {
    let over = 0;
    let under = 0;
    for (const [id, bytes] of this.bytes) {
      const target = this.target.get(id)!;
      over += Math.max(0, bytes - target * (1 + this.band));
      under += Math.max(0, target * (1 - this.band) - bytes);
    }
    return Math.ceil(Math.max(over, under));
  }

  /**
   * Pairs to move bytes between, best first: from a server above the band to the emptiest, or to
   * a server below the band from the fullest. Empty when every server is within the band.
   */
  pairs(): Array<{ from: string; to: string }> {
    const order = this.balances().map((b) => b.id);
    const pairs: Array<{ from: string; to: string }> = [];
    for (const from of order) {
      for (const to of [...order].reverse()) {
        if (from === to || this.deviation(from) <= this.deviation(to)) break;
        if (this.deviation(from) > this.band || this.deviation(to) < -this.band) pairs.push({ from, to });
      }
    }
    return pairs;
  }

  /** Whether moving `size` bytes from `from` to `to` makes the spread smaller. */
  improves(from: string, to: string, size: number): boolean {
    return size > 0 && size < this.excess(from) - this.excess(to);
  }

  /** Books a move (planned, or undone with a negative size when it failed). */
  apply(from: string, to: string, size: number): void {
    this.bytes.set(from, this.bytes.get(from)! - size);
    this.bytes.set(to, this.bytes.get(to)! + size);
  }

  /** Bytes above its share (negative: below), scaled so servers of every weight compare. */
  private excess(id: string): number {
    return this.deviation(id) * this.target.get(id)!;
  }

  private deviation(id: string): number {
    const target = this.target.get(id)!;
    return target > 0 ? (this.bytes.get(id)! - target) / target : 0;
  }
}
