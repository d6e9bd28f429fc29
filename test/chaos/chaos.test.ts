import { RingstoreProcess } from '../helpers/process';
import { runChaos } from './chaos-run';
import { printResult, type ChaosResult } from './report';

/**
 * The short chaos runs for CI: a real cluster (gateway + 6 storage servers, R=2) under
 * continuous uploads, downloads and deletes while storage servers are killed, hung and have
 * bytes flipped on disk; and while one is drained as another is killed. The long runs are
 * `npm run chaos` (see README).
 */
describe.each([
  ['kill, stop and bitflip', 'kill,stop,bitflip'],
  ['a drain while another server is killed', 'drain'],
])('chaos: %s under load', (_title, scenario) => {
  let result: ChaosResult;

  beforeAll(async () => {
    result = await runChaos({
      scenario,
      durationS: 30,
      quick: true,
      seed: 20261128,
      workers: 4,
      maxFileBytes: 2 * 1024 * 1024,
      // Progress goes out as it happens, so a slow run on a loaded machine shows where it is.
      log: (m) => process.stderr.write(`[chaos ${scenario}] ${m}\n`),
    });
    // The table is the test's real output: what failed and why, even when every assertion holds.
    const table: string[] = [];
    printResult(result, (line) => table.push(line));
    process.stderr.write(`${table.join('\n')}\n`);
    // About 60 s on an idle 2-core machine; the limit leaves room for a heavily loaded one.
  }, 300_000);

  afterAll(async () => {
    await RingstoreProcess.killAll();
  });

  const invariant = (name: string): number => {
    const found = result.invariants.find((inv) => inv.name === name);
    if (!found) throw new Error(`no invariant named "${name}"`);
    return found.value;
  };

  test('the load really ran and the faults were really injected', () => {
    expect(result.requestsMade).toBeGreaterThan(20);
    expect(result.filesAcknowledged).toBeGreaterThan(5);
    expect(result.checks.filesVerified).toBeGreaterThan(0);
    for (const fault of scenario.split(',')) expect(result.faultsInjected[fault]).toBeGreaterThanOrEqual(1);
    expect(result.faultErrors).toEqual([]);
  });

  test('no process crashed', () => {
    expect(result.crashes).toEqual([]);
  });

  test('no wrong byte was ever served', () => {
    expect(result.wrongBytes).toEqual([]);
    expect(invariant('wrong bytes served')).toBe(0);
  });

  test('no acknowledged file was lost', () => {
    expect(result.lost).toEqual([]);
  });

  test('every 201 named R servers for every chunk', () => {
    expect(result.acksBelowR).toEqual([]);
    expect(invariant('201s naming fewer than R servers for a chunk')).toBe(0);
  });

  test('every chunk is back to R replicas after repair, and every stored replica is on disk', () => {
    expect(result.checks.belowR).toEqual([]);
    expect(result.checks.missingOnDisk).toEqual([]);
  });

  test('no orphan chunk is left after cleanup', () => {
    expect(result.checks.orphans).toEqual([]);
  });
});
