import { open } from 'node:fs/promises';
import { fileMetadata, storedReplicas } from '../file-metadata';
import { pause, randomInt } from '../random';
import type { Fault, FaultContext } from './fault';
import { chunkOnDisk } from '../../helpers/chunk-on-disk';

const CHUNKS_PER_INJECTION = 3;
/** Chunks already damaged once: never damage a second replica of the same chunk (that would be real loss). */
const damaged = new Set<string>();

/**
 * Flips one random byte (data, check table or footer) in stored chunk files on disk, as bit
 * rot would. Only chunks with two healthy replicas are hit, and only one replica each, so
 * every chunk stays recoverable: reads must route around it, scrub and repair must heal it.
 */
export const bitflipFault: Fault = {
  name: 'bitflip',
  unavailable: () => undefined,
  async inject(ctx, signal) {
    await ctx.timeline.record('bitflip', 'chunk files', async () => {
      let flipped = 0;
      for (let tries = 0; tries < 40 && flipped < CHUNKS_PER_INJECTION && !signal.aborted; tries++) {
        if (await flipOne(ctx)) flipped++;
        // Pacing while the load has not yet stored files with two healthy replicas.
        else await pause(250, signal);
      }
      if (flipped === 0) throw new Error('found no chunk with two healthy replicas to damage');
      ctx.log(`flipped a byte in ${flipped} chunk files`);
      // Corruption is not undone: the window covers the reads that meet it soon after.
      await pause(ctx.quick ? 5_000 : 10_000, signal);
    });
  },
};

async function flipOne(ctx: FaultContext): Promise<boolean> {
  const file = ctx.ledger.pickLive(ctx.random);
  if (!file || file.size === 0) return false;
  const metadata = await fileMetadata(ctx.client, file.fileId).catch(() => undefined);
  const chunk = metadata?.chunks[randomInt(ctx.random, 0, metadata.chunks.length - 1)];
  if (!chunk || damaged.has(chunk.chunk_id)) return false;
  const replicas = storedReplicas(chunk);
  if (replicas.length < 2) return false;
  const node = ctx.cluster.nodeOf(replicas[randomInt(ctx.random, 0, replicas.length - 1)]);
  if (!node) return false;
  const where = await chunkOnDisk(node.dataDir, chunk.chunk_id);
  const handle = where && (await open(where.file, 'r+').catch(() => undefined));
  if (!where || !handle) return false;
  try {
    if (where.length === 0) return false;
    const offset = where.offset + randomInt(ctx.random, 0, where.length - 1);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] ^= 1 << randomInt(ctx.random, 0, 7);
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
  damaged.add(chunk.chunk_id);
  return true;
}
