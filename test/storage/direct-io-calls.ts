import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

type Call = () => Promise<unknown>;

/** An EINVAL as a file system that takes no O_DIRECT answers it. */
export function directRefused(what: string): Error {
  return Object.assign(new Error(`EINVAL: invalid argument, ${what}`), { code: 'EINVAL' });
}

/**
 * Sends every FileHandle `method` call (write or read) on a descriptor opened with O_DIRECT
 * through `direct`, which gets the real call to run (or not) and its arguments (buffer, offset,
 * length, position); other calls go as they are. An
 * O_DIRECT open fails with EINVAL while `refuseOpen()` is true. `directOpens()` counts the
 * O_DIRECT descriptors opened (0 where the file system refuses O_DIRECT). `dir`: any writable one.
 */
export async function interceptDirectCalls(
  dir: string,
  method: 'write' | 'read',
  direct: (call: Call, args: unknown[]) => Promise<unknown>,
  refuseOpen: () => boolean = () => false,
): Promise<{ directOpens(): number; restore(): void }> {
  const probe = await fs.open(path.join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as fs.FileHandle;
  await probe.close();
  const directHandles = new Set<fs.FileHandle>();
  const open = fs.open;
  const opens = jest.spyOn(fs, 'open').mockImplementation(async (...args: Parameters<typeof fs.open>) => {
    const isDirect = typeof args[1] === 'number' && (args[1] & constants.O_DIRECT) !== 0;
    if (isDirect && refuseOpen()) throw directRefused('open');
    const handle = await open(...args);
    if (isDirect) directHandles.add(handle);
    return handle;
  });
  const real = prototype[method] as (...args: unknown[]) => Promise<unknown>;
  const calls = jest.spyOn(prototype, method).mockImplementation(function (this: fs.FileHandle, ...args: unknown[]) {
    return directHandles.has(this) ? direct(() => real.apply(this, args), args) : real.apply(this, args);
  } as never);
  return {
    directOpens: () => directHandles.size,
    restore: () => {
      calls.mockRestore();
      opens.mockRestore();
    },
  };
}
