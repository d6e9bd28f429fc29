import { ClientError, EXIT } from './exit-codes';
import { describeFailure, firstFailure, intOption, parseClientArgs } from './options';
import { mapSettledLimited } from './parallel';

/** `ringstore rm ID...`. */
export async function runRm(args: string[]): Promise<number> {
  const { values, positionals, context } = parseClientArgs(args, { parallel: { type: 'string', short: 'j' } });
  if (positionals.length === 0) throw new ClientError('rm needs at least one file ID', EXIT.usage);
  const outcomes = await mapSettledLimited(positionals, intOption(values.parallel, 'parallel', 4), (id) => context.client.remove(id));
  const results = outcomes.map((outcome, i) => {
    if (outcome.status === 'fulfilled') return { file_id: positionals[i], deleted: true, exit_code: EXIT.ok };
    const { message, exitCode } = describeFailure(outcome.reason);
    return { file_id: positionals[i], deleted: false, error: message, exit_code: exitCode };
  });
  if (context.json) context.printJson(results);
  for (const result of results) {
    if (result.error) context.say(`ringstore rm: ${result.file_id}: ${result.error}`);
    else if (!context.json) context.print(`deleted ${result.file_id}`);
  }
  return firstFailure(results.map((r) => ({ exitCode: r.exit_code })));
}
