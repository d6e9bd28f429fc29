import { ClientError, EXIT } from './exit-codes';
import { formatBytes } from './format';
import type { FileSummary } from './gateway-client';
import { intOption, parseClientArgs } from './options';

/** `ringstore ls`. */
export async function runLs(args: string[]): Promise<number> {
  const { values, positionals, context } = parseClientArgs(args, {
    name: { type: 'string', short: 'q' },
    page: { type: 'string' },
    'per-page': { type: 'string' },
    all: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new ClientError(`ls takes no arguments, got "${positionals[0]}" (filter by name with --name)`, EXIT.usage);
  const perPage = Math.min(intOption(values['per-page'], 'per-page', 50), 1000);
  const name = values.name as string | undefined;
  let page = intOption(values.page, 'page', 1);
  const first = await context.client.list(page, perPage, name);
  const files: FileSummary[] = [...first.files];
  if (values.all) {
    while (page < first.pagination.total_pages) files.push(...(await context.client.list(++page, perPage, name)).files);
  }
  if (context.json) {
    context.printJson(values.all ? { files, total: first.total } : first);
    return EXIT.ok;
  }
  const sizes = files.map((f) => formatBytes(f.size));
  const width = Math.max(4, ...sizes.map((s) => s.length));
  for (const [i, file] of files.entries()) {
    context.print(`${file.file_id}  ${sizes[i].padStart(width)}  ${file.created_at.slice(0, 19).replace('T', ' ')}  ${file.filename}`);
  }
  const shown = values.all ? `all ${files.length}` : `page ${first.page} of ${Math.max(1, first.pagination.total_pages)}`;
  context.say(`${shown} (${first.total} file${first.total === 1 ? '' : 's'}${name ? ` matching "${name}"` : ''})${!values.all && first.page < first.pagination.total_pages ? `; --page ${first.page + 1} for more` : ''}`);
  return EXIT.ok;
}
