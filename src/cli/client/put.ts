import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { ClientError, EXIT } from './exit-codes';
import { formatBytes, formatRate } from './format';
import type { Uploaded } from './gateway-client';
import { describeFailure, firstFailure, intOption, parseClientArgs, type ClientContext } from './options';
import { mapSettledLimited } from './parallel';

interface PutResult {
  path: string;
  file_id?: string;
  filename?: string;
  size?: number;
  checksum?: string;
  error?: string;
  exit_code: number;
}

/** Counts and hashes what passes through, for progress and the end-to-end checksum. */
function meter(onBytes: (total: number) => void): Transform & { sha256(): string } {
  const hash = createHash('sha256');
  let total = 0;
  const transform = new Transform({
    transform(piece: Buffer, _encoding, done) {
      hash.update(piece);
      total += piece.length;
      onBytes(total);
      done(null, piece);
    },
  });
  return Object.assign(transform, { sha256: () => hash.digest('hex') });
}

async function putOne(context: ClientContext, file: string, stdinName: string): Promise<Uploaded> {
  const fromStdin = file === '-';
  const filename = fromStdin ? stdinName : path.basename(file);
  const size = fromStdin ? undefined : (await stat(file)).size;
  const source: Readable = fromStdin ? process.stdin : createReadStream(file);
  const startedAt = Date.now();
  const transfer = context.progress.start(filename, size);
  const counted = meter((bytes) => transfer.update(bytes));
  source.on('error', (error) => counted.destroy(error));
  try {
    const stored = await context.client.upload(source.pipe(counted), filename, size);
    const sent = counted.sha256();
    if (stored.checksum !== sent) {
      throw new ClientError(`${file}: the gateway stored SHA-256 ${stored.checksum} but ${sent} was sent: file ${stored.file_id} is not your file`, EXIT.corrupt);
    }
    const seconds = (Date.now() - startedAt) / 1000;
    transfer.done(`stored ${file} as ${stored.file_id} (${formatBytes(stored.size)} in ${seconds.toFixed(1)} s, ${formatRate(stored.size, seconds)})`);
    return stored;
  } catch (error) {
    transfer.fail();
    throw error;
  }
}

/** `ringstore put FILE...`: uploads, `--parallel` at once; every file is tried. */
export async function runPut(args: string[]): Promise<number> {
  const { values, positionals, context } = parseClientArgs(args, {
    name: { type: 'string' },
    parallel: { type: 'string', short: 'j' },
  });
  if (positionals.length === 0) throw new ClientError('put needs at least one FILE (or - for standard input)', EXIT.usage);
  if (positionals.filter((p) => p === '-').length > 1) throw new ClientError('standard input (-) can be uploaded once', EXIT.usage);
  const parallel = intOption(values.parallel, 'parallel', 4);
  const stdinName = (values.name as string | undefined) ?? 'stdin.bin';

  const outcomes = await mapSettledLimited(positionals, parallel, (file) => putOne(context, file, stdinName));
  context.progress.stop();
  const results: PutResult[] = outcomes.map((outcome, i) => {
    if (outcome.status === 'fulfilled') {
      const { file_id, filename, size, checksum } = outcome.value;
      return { path: positionals[i], file_id, filename, size, checksum, exit_code: EXIT.ok };
    }
    const { message, exitCode } = describeFailure(outcome.reason);
    return { path: positionals[i], error: message, exit_code: exitCode };
  });
  if (context.json) context.printJson(results);
  for (const result of results) {
    if (result.error) context.say(`ringstore put: ${result.path}: ${result.error}`);
    else if (!context.json) context.print(`${result.file_id}  ${result.path}`);
  }
  return firstFailure(results.map((r) => ({ exitCode: r.exit_code })));
}
