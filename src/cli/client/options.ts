import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GatewayClient } from './gateway-client';
import { ClientError, EXIT } from './exit-codes';
import { createProgress, progressMode, type ProgressView } from './progress';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Options every client command takes. */
const COMMON = {
  url: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export interface ClientContext {
  client: GatewayClient;
  json: boolean;
  progress: ProgressView;
  /** Writes a result line (stdout); --json output is written with printJson instead. */
  print(line: string): void;
  printJson(value: unknown): void;
  /** A line for the person (stderr): warnings, what happened to one of several files. */
  say(line: string): void;
}

/**
 * Parses a client command's arguments (its own options plus --url and --json) and builds what
 * it needs: the gateway client (--url, else RINGSTORE_URL, else 127.0.0.1:8080; the token from
 * RINGSTORE_TOKEN, never from the command line, where `ps` would show it) and the progress view.
 */
export function parseClientArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  env: NodeJS.ProcessEnv = process.env,
) {
  const parsed = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  const values = parsed.values as Record<string, unknown>;
  const url = (values.url as string | undefined) ?? env.RINGSTORE_URL ?? DEFAULT_URL;
  try {
    new URL(url);
  } catch {
    throw new ClientError(`--url (or RINGSTORE_URL) must be a URL such as ${DEFAULT_URL}, got "${url}"`, EXIT.usage);
  }
  const json = values.json === true;
  const context: ClientContext = {
    client: new GatewayClient(url, env.RINGSTORE_TOKEN || undefined),
    json,
    progress: createProgress(progressMode(json, process.stderr)),
    print: (line) => process.stdout.write(`${line}\n`),
    printJson: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    say: (line) => process.stderr.write(`${line}\n`),
  };
  return { values: parsed.values, positionals: parsed.positionals, context };
}

/** A whole number option (--parallel, --page), with a usage error naming it. */
export function intOption(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || parsed < min) {
    throw new ClientError(`--${name} must be a whole number of at least ${min}, got "${String(value)}"`, EXIT.usage);
  }
  return parsed;
}

/** The exit code of the first failure (argument order), or 0. */
export function firstFailure(outcomes: Array<{ exitCode: number }>): number {
  return outcomes.find((o) => o.exitCode !== EXIT.ok)?.exitCode ?? EXIT.ok;
}

/** What a failed item reports: its message, and the exit code it means. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof ClientError) return { message: error.message, exitCode: error.exitCode };
  return { message: (error as Error).message ?? String(error), exitCode: EXIT.failed };
}
