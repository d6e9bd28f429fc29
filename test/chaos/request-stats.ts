import type { FaultTimeline } from './fault-timeline';

export type Operation = 'upload' | 'download' | 'range' | 'delete';

export interface FailedRequest {
  op: Operation;
  cause: string;
  /** What the client saw: "http 503: <error>", "network ECONNREFUSED", "body aborted: ...". */
  error: string;
  at: number;
  /** How long the request took before it failed (a hang shows as a long one). */
  durationMs: number;
}

export interface FailureKind {
  cause: string;
  op: Operation;
  error: string;
  count: number;
  /** The longest such request: seconds mean a hang, not a refusal. */
  maxDurationMs: number;
}

/** Counts every request and keeps every failure with the fault it is blamed on. */
export class RequestStats {
  readonly made: Record<Operation, number> = { upload: 0, download: 0, range: 0, delete: 0 };
  readonly failures: FailedRequest[] = [];
  /** Responses whose bytes differed from what was uploaded (must stay 0). */
  readonly wrongBytes: string[] = [];
  /** 201s that named fewer than R distinct servers for some chunk (must stay 0: WRITE_QUORUM is R). */
  readonly acksBelowR: string[] = [];
  /** Acknowledged, not-deleted files answered with 404 during the run (must stay 0). */
  readonly missingDuringRun: string[] = [];

  constructor(private readonly timeline: FaultTimeline) {}

  count(op: Operation): void {
    this.made[op]++;
  }

  fail(op: Operation, startedAt: number, error: string): void {
    const now = Date.now();
    this.failures.push({ op, cause: this.timeline.causeOf(startedAt, now), error, at: now, durationMs: now - startedAt });
  }

  get total(): number {
    return Object.values(this.made).reduce((a, b) => a + b, 0);
  }

  /** Failures grouped by blamed fault. */
  failedByCause(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const f of this.failures) counts[f.cause] = (counts[f.cause] ?? 0) + 1;
    return counts;
  }

  /** Failures grouped by (cause, op, error), most frequent first: the leads to the failing code path. */
  failureKinds(): FailureKind[] {
    const kinds = new Map<string, FailureKind>();
    for (const f of this.failures) {
      const key = `${f.cause}|${f.op}|${f.error}`;
      const kind = kinds.get(key) ?? { cause: f.cause, op: f.op, error: f.error, count: 0, maxDurationMs: 0 };
      kind.count++;
      kind.maxDurationMs = Math.max(kind.maxDurationMs, f.durationMs);
      kinds.set(key, kind);
    }
    return [...kinds.values()].sort((a, b) => b.count - a.count);
  }
}
