/** Keys that stay members for `lifetimeMs` after they were added (the last add counts). */
export class ExpiringSet {
  private readonly addedAt = new Map<string, number>();

  constructor(private readonly lifetimeMs: number) {}

  add(key: string): void {
    this.addedAt.set(key, Date.now());
  }

  delete(key: string): void {
    this.addedAt.delete(key);
  }

  has(key: string): boolean {
    const at = this.addedAt.get(key);
    if (at === undefined) return false;
    if (Date.now() - at < this.lifetimeMs) return true;
    this.addedAt.delete(key);
    return false;
  }
}
