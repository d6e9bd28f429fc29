import { createHash } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ClientError, EXIT } from './exit-codes';
import { formatBytes, formatRate } from './format';
import { download, hashPrefix } from './download';
import { parseClientArgs, type ClientContext } from './options';

/** A stored name made safe as a local file name: no directories, no control characters. */
function localName(filename: string): string {
  // eslint-disable-next-line no-control-regex
  const base = path.basename(filename.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '_');
  return base === '' || base === '.' || base === '..' ? 'download.bin' : base;
}

async function targetPath(output: string | undefined, filename: string): Promise<string> {
  if (output === undefined) return localName(filename);
  const info = await stat(output).catch(() => undefined);
  return info?.isDirectory() ? path.join(output, localName(filename)) : output;
}

/** `ringstore get ID [-o FILE]`. */
export async function runGet(args: string[]): Promise<number> {
  const { values, positionals, context } = parseClientArgs(args, { output: { type: 'string', short: 'o' } });
  if (positionals.length !== 1) throw new ClientError('get needs exactly one file ID', EXIT.usage);
  const output = values.output as string | undefined;
  if (output === '-') return catFile(context, positionals[0]);
  const meta = await context.client.metadata(positionals[0]);
  const target = await targetPath(output, meta.filename);
  const part = `${target}.part`;
  const existing = (await stat(part).catch(() => undefined))?.size ?? 0;
  // A .part longer than the file is not a prefix of it: start over.
  const from = existing <= meta.size ? existing : 0;
  const handle = await open(part, from > 0 ? 'r+' : 'w');
  const startedAt = Date.now();
  const transfer = context.progress.start(meta.filename, meta.size, from);
  try {
    if (from > 0 && !context.json) context.say(`resuming ${part} at byte ${from} of ${meta.size}`);
    let position = from;
    await download(
      context,
      meta,
      async (piece) => {
        await handle.write(piece, 0, piece.length, position);
        position += piece.length;
      },
      { from, hash: await hashPrefix(part, from) },
      transfer,
      async () => {
        await handle.truncate(0);
        position = 0;
      },
    );
    await handle.truncate(meta.size);
    await handle.sync();
  } catch (error) {
    transfer.fail();
    // Wrong bytes are never kept; an interrupted download keeps its .part to resume from.
    if (error instanceof ClientError && error.exitCode === EXIT.corrupt) await rm(part, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  await rename(part, target);
  const seconds = (Date.now() - startedAt) / 1000;
  transfer.done(`saved ${meta.file_id} as ${target} (${formatBytes(meta.size - from)} in ${seconds.toFixed(1)} s, ${formatRate(meta.size - from, seconds)})`);
  context.progress.stop();
  if (context.json) context.printJson({ file_id: meta.file_id, path: target, size: meta.size, checksum: meta.checksum, resumed_from: from });
  else context.print(target);
  return EXIT.ok;
}

async function catFile(context: ClientContext, id: string): Promise<number> {
  const meta = await context.client.metadata(id);
  const transfer = { update: () => undefined, done: () => undefined, fail: () => undefined };
  const write = (piece: Buffer) =>
    new Promise<void>((resolve, reject) => process.stdout.write(piece, (error) => (error ? reject(error) : resolve())));
  await download(context, meta, write, { from: 0, hash: createHash('sha256') }, transfer, async () => {
    // Bytes already on standard output cannot be taken back.
    throw new ClientError(`file ${meta.file_id} changed while it was being read`, EXIT.failed);
  });
  return EXIT.ok;
}

/** `ringstore cat ID`. */
export async function runCat(args: string[]): Promise<number> {
  const { positionals, context } = parseClientArgs(args, {});
  if (positionals.length !== 1) throw new ClientError('cat needs exactly one file ID', EXIT.usage);
  return catFile(context, positionals[0]);
}
