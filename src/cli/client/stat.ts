import { ClientError, EXIT } from './exit-codes';
import { formatBytes } from './format';
import { parseClientArgs } from './options';

/** `ringstore stat ID`. */
export async function runStat(args: string[]): Promise<number> {
  const { positionals, context } = parseClientArgs(args, {});
  if (positionals.length !== 1) throw new ClientError('stat needs exactly one file ID', EXIT.usage);
  const meta = await context.client.metadata(positionals[0]);
  if (context.json) {
    context.printJson(meta);
    return EXIT.ok;
  }
  context.print(`id:       ${meta.file_id}`);
  context.print(`name:     ${meta.filename}`);
  context.print(`size:     ${meta.size} bytes (${formatBytes(meta.size)})`);
  context.print(`type:     ${meta.content_type}`);
  context.print(`sha256:   ${meta.checksum}`);
  context.print(`created:  ${meta.created_at}`);
  context.print(`chunks:   ${meta.chunks.length}`);
  for (const chunk of meta.chunks) {
    const places = chunk.replicas.map((r) => `${r.server_address ?? r.server_id}${r.status === 'stored' ? '' : ` (${r.status})`}`).join(', ');
    context.print(`  #${chunk.chunk_number}  ${formatBytes(chunk.size).padStart(10)}  on ${places}`);
  }
  return EXIT.ok;
}
