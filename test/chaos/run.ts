import { parseArgs } from 'node:util';
import { runChaos } from './chaos-run';
import { printResult } from './report';

/**
 * npm run chaos -- --scenario <kill|stop|rolling|gateway|postgres|pglite|bitflip|diskfull|drain|mixed|a,b>
 *   --duration <seconds> [--postgres URL] [--seed N] [--workers N] [--strict] [--json-only]
 * Exit 0 when every invariant holds, 1 when one breaks (--strict: goals too), 2 on a harness error.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'mixed' },
      duration: { type: 'string', default: '120' },
      postgres: { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      strict: { type: 'boolean', default: false },
    },
  });
  const durationS = Number(values.duration);
  if (!Number.isFinite(durationS) || durationS <= 0) throw new Error(`--duration must be a positive number of seconds, got "${values.duration}"`);
  const result = await runChaos({
    scenario: values.scenario!,
    durationS,
    postgresUrl: values.postgres ?? process.env.DATABASE_URL,
    seed: values.seed === undefined ? undefined : Number(values.seed),
    workers: values.workers === undefined ? undefined : Number(values.workers),
  });
  printResult(result);
  const broken = result.invariants.filter((inv) => !inv.ok && (inv.kind === 'must' || values.strict));
  return broken.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos run failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
