import os from 'node:os';
import type { FinalChecks } from './invariants';
import type { FailureKind, RequestStats } from './request-stats';
import { STORAGE_FAULTS } from './faults';

export interface Invariant {
  name: string;
  value: number;
  /** must: breaking it fails the run. goal: reported, fails the run only with --strict. */
  kind: 'must' | 'goal';
  ok: boolean;
}

export interface ChaosResult {
  scenario: string;
  metadata: 'postgresql' | 'embedded';
  durationS: number;
  date: string;
  machine: string;
  faultsInjected: Record<string, number>;
  faultsSkipped: Record<string, string>;
  faultErrors: string[];
  filesAcknowledged: number;
  filesDeleted: number;
  requestsMade: number;
  requestsByOp: Record<string, number>;
  failedByCause: Record<string, number>;
  failureKinds: FailureKind[];
  checks: FinalChecks;
  wrongBytes: string[];
  acksBelowR: string[];
  lost: string[];
  crashes: string[];
  invariants: Invariant[];
}

export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.cpus().length} CPU ${cpu}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`;
}

/** Failures blamed on storage-server faults alone (the R=2 goal is zero). */
export function storageFaultFailures(failedByCause: Record<string, number>): number {
  return Object.entries(failedByCause)
    .filter(([cause]) => cause !== 'none' && cause.split('+').every((f) => STORAGE_FAULTS.has(f)))
    .reduce((sum, [, n]) => sum + n, 0);
}

export function evaluate(stats: RequestStats, checks: FinalChecks, crashes: string[]): { lost: string[]; invariants: Invariant[] } {
  const lost = [...new Set([...stats.missingDuringRun.map((id) => `${id}: 404 during the run`), ...checks.lost])];
  const failedByCause = stats.failedByCause();
  const row = (name: string, value: number, kind: Invariant['kind'] = 'must'): Invariant => ({ name, value, kind, ok: value === 0 });
  return {
    lost,
    invariants: [
      row('wrong bytes served', stats.wrongBytes.length),
      row('processes crashed', crashes.length),
      row('acknowledged files lost', lost.length),
      row('201s naming fewer than R servers for a chunk', stats.acksBelowR.length),
      row('chunks below R after repair', checks.belowR.length),
      row('stored replicas missing on disk', checks.missingOnDisk.length),
      row('orphan chunks after cleanup', checks.orphans.length),
      row('requests failed under storage faults', storageFaultFailures(failedByCause), 'goal'),
      row('requests failed with no fault active', failedByCause.none ?? 0, 'goal'),
    ],
  };
}

/** One JSON line per figure (for machines), then a table (for people). */
export function printResult(result: ChaosResult, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  const base = { scenario: result.scenario, metadata: result.metadata, duration_s: result.durationS };
  write(JSON.stringify({ ...base, figure: 'requests made', value: result.requestsMade, by_op: result.requestsByOp }));
  write(JSON.stringify({ ...base, figure: 'requests failed', value: sum(result.failedByCause), by_cause: result.failedByCause }));
  for (const inv of result.invariants) write(JSON.stringify({ ...base, figure: inv.name, value: inv.value, kind: inv.kind, ok: inv.ok }));

  const rows: Array<[string, string, string]> = [
    ['requests made', String(result.requestsMade), Object.entries(result.requestsByOp).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['requests failed', String(sum(result.failedByCause)), Object.entries(result.failedByCause).map(([k, v]) => `${k}: ${v}`).join(', ') || '-'],
    ...result.invariants.map((inv): [string, string, string] => [inv.name, String(inv.value), `${inv.ok ? 'ok' : inv.kind === 'must' ? 'BROKEN' : 'missed'} (${inv.kind})`]),
  ];
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 8));
  write('');
  write(`chaos ${result.scenario} on ${result.metadata} metadata, ${result.durationS} s, ${result.date}`);
  write(`machine: ${result.machine}`);
  write(`faults injected: ${Object.entries(result.faultsInjected).map(([k, v]) => `${k} x${v}`).join(', ') || 'none'}`);
  for (const [fault, why] of Object.entries(result.faultsSkipped)) write(`skipped ${fault}: ${why}`);
  for (const error of result.faultErrors) write(`fault error: ${error}`);
  write(`files acknowledged ${result.filesAcknowledged}, deleted ${result.filesDeleted}, verified at the end ${result.checks.filesVerified}`);
  write('');
  write(`| ${'invariant'.padEnd(width[0])} | ${'value'.padStart(width[1])} | ${'detail'.padEnd(width[2])} |`);
  write(`|${'-'.repeat(width[0] + 2)}|${'-'.repeat(width[1] + 2)}|${'-'.repeat(width[2] + 2)}|`);
  for (const [a, b, c] of rows) write(`| ${a.padEnd(width[0])} | ${b.padStart(width[1])} | ${c.padEnd(width[2])} |`);
  if (result.failureKinds.length > 0) {
    write('');
    write('failed requests by cause and error:');
    for (const k of result.failureKinds.slice(0, 20)) {
      write(`  ${String(k.count).padStart(5)}  [${k.cause}] ${k.op}: ${k.error} (longest ${(k.maxDurationMs / 1000).toFixed(1)} s)`);
    }
  }
  const details: Array<[string, string[]]> = [
    ['wrong bytes', result.wrongBytes],
    ['201s below R', result.acksBelowR],
    ['crashes', result.crashes],
    ['lost', result.lost],
    ['below R', result.checks.belowR],
    ['missing on disk', result.checks.missingOnDisk],
    ['orphans', result.checks.orphans],
  ];
  for (const [what, items] of details) {
    if (items.length === 0) continue;
    write('');
    write(`${what} (${items.length}):`);
    for (const item of items.slice(0, 10)) write(`  ${item}`);
  }
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
