/** What the chaos suite knows about one file it uploaded. */
export interface LedgerFile {
  fileId: string;
  seed: string;
  size: number;
  sha256: string;
  /**
   * live: acknowledged (201), must stay readable byte-exact.
   * deleting: a DELETE is in flight. deleted: the DELETE was acknowledged.
   * unsure: a DELETE failed, so the file may or may not exist (not counted as lost).
   */
  state: 'live' | 'deleting' | 'deleted' | 'unsure';
  /** Downloads of it in flight (a file is only deleted when none are). */
  readers: number;
}

/** Every acknowledged upload, with its fate: the source of truth for "nothing acknowledged is lost". */
export class Ledger {
  private readonly files = new Map<string, LedgerFile>();
  private readonly live: LedgerFile[] = [];

  acknowledge(file: Omit<LedgerFile, 'state' | 'readers'>): void {
    const entry: LedgerFile = { ...file, state: 'live', readers: 0 };
    this.files.set(file.fileId, entry);
    this.live.push(entry);
  }

  /** A random live file (for downloads and for bitflip targets), or undefined. */
  pickLive(random: () => number): LedgerFile | undefined {
    this.compact();
    return this.live.length === 0 ? undefined : this.live[Math.floor(random() * this.live.length)];
  }

  /** Claims a random live file nobody is reading for a delete. */
  claimForDelete(random: () => number): LedgerFile | undefined {
    const file = this.pickLive(random);
    if (!file || file.readers > 0) return undefined;
    this.setState(file, 'deleting');
    return file;
  }

  setState(file: LedgerFile, state: LedgerFile['state']): void {
    file.state = state;
  }

  liveFiles(): LedgerFile[] {
    this.compact();
    return [...this.live];
  }

  liveCount(): number {
    this.compact();
    return this.live.length;
  }

  count(state: LedgerFile['state']): number {
    let n = 0;
    for (const file of this.files.values()) if (file.state === state) n++;
    return n;
  }

  get acknowledged(): number {
    return this.files.size;
  }

  /** Drops non-live entries from the live list (lazily, so picking stays O(1)). */
  private compact(): void {
    if (this.live.some((f) => f.state !== 'live')) {
      const still = this.live.filter((f) => f.state === 'live');
      this.live.length = 0;
      this.live.push(...still);
    }
  }
}
