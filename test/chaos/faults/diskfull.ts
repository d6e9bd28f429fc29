import { open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { pause, randomInt } from '../random';
import type { Fault } from './fault';

const MiB = 1024 * 1024;

/**
 * Fills the small (tmpfs) disk of one storage server with a ballast file until writes fail
 * with ENOSPC, holds it full, then frees it. Puts to that server must fail cleanly
 * (RESOURCE_EXHAUSTED) and uploads must still succeed on the other replicas.
 */
export const diskfullFault: Fault = {
  name: 'diskfull',
  unavailable: (ctx) => (ctx.cluster.smallDisk ? undefined : `no small disk: ${ctx.cluster.smallDiskUnavailable}`),
  async inject(ctx, signal) {
    const disk = ctx.cluster.smallDisk!;
    const ballast = path.join(disk.mountPoint, 'ballast');
    const holdMs = ctx.quick ? 8_000 : randomInt(ctx.random, 10_000, 20_000);
    await ctx.timeline.record('diskfull', disk.node.serverId, async () => {
      try {
        const filled = await fillUntilFull(ballast);
        const { bavail, bsize } = await statfs(disk.mountPoint);
        ctx.log(`filled the disk of storage server ${disk.node.serverId} with ${Math.round(filled / MiB)} MiB (${bavail * bsize} bytes left) for ${holdMs} ms`);
        await pause(holdMs, signal);
      } finally {
        await rm(ballast, { force: true });
      }
    });
  },
};

/** Appends to the ballast until ENOSPC; returns the bytes written. */
async function fillUntilFull(file: string): Promise<number> {
  const handle = await open(file, 'a');
  const block = Buffer.alloc(MiB, 0xaa);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(block);
      written += bytesWritten;
      if (bytesWritten < block.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  // The last partial block: fill the remaining bytes so not even a small chunk fits.
  const tail = await open(file, 'a');
  try {
    for (let size = MiB / 2; size >= 1; ) {
      try {
        const { bytesWritten } = await tail.write(Buffer.alloc(size, 0xaa));
        written += bytesWritten;
        if (bytesWritten < size) size = Math.floor(size / 2);
      } catch {
        size = Math.floor(size / 2); // ENOSPC at this size: try a smaller one
      }
    }
  } finally {
    await tail.close();
  }
  return written;
}
