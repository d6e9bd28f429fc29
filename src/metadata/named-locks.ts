import type { LockMode } from './sql-backend';

/** In-process mutual exclusion by name, for a backend only one process can open (PGlite). */
export class NamedLocks {
  private readonly held = new Map<string, Promise<void>>();

  async run<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T | undefined> {
    for (let holder = this.held.get(name); holder; holder = this.held.get(name)) {
      if (mode === 'try') return undefined;
      await holder;
    }
    let release!: () => void;
    this.held.set(name, new Promise<void>((resolve) => (release = resolve)));
    try {
      return await fn();
    } finally {
      this.held.delete(name);
      release();
    }
  }
}
