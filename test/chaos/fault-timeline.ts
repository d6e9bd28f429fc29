/** One injected fault: from injection until the system is back (plus an aftermath margin). */
export interface FaultWindow {
  fault: string;
  target: string;
  startedAt: number;
  endedAt?: number;
}

/** Requests that fail this long after a fault ended are still blamed on it (reconnects settling). */
export const AFTERMATH_MS = 5_000;

/** The faults injected so far, to attribute each failed request to the fault(s) it overlapped. */
export class FaultTimeline {
  readonly windows: FaultWindow[] = [];

  begin(fault: string, target: string): FaultWindow {
    const window: FaultWindow = { fault, target, startedAt: Date.now() };
    this.windows.push(window);
    return window;
  }

  end(window: FaultWindow): void {
    window.endedAt ??= Date.now();
  }

  /** Runs one fault (injection, hold and undo) as a window that ends however `fn` ends. */
  async record(fault: string, target: string, fn: () => Promise<void>): Promise<void> {
    const window = this.begin(fault, target);
    try {
      await fn();
    } finally {
      this.end(window);
    }
  }

  /** Names of the faults active at any time in [from, to] ("none" when no fault was). */
  causeOf(from: number, to: number): string {
    const names = new Set<string>();
    for (const w of this.windows) {
      const end = (w.endedAt ?? Number.POSITIVE_INFINITY) + AFTERMATH_MS;
      if (w.startedAt <= to && end >= from) names.add(w.fault);
    }
    return names.size === 0 ? 'none' : [...names].sort().join('+');
  }

  countsByFault(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const w of this.windows) counts[w.fault] = (counts[w.fault] ?? 0) + 1;
    return counts;
  }
}
