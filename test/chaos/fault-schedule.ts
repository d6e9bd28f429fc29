import type { Fault, FaultContext } from './faults';
import { pause, randomInt } from './random';

/**
 * Injects the faults one at a time until `signal` aborts: a fault, a quiet gap of 2-5 s, the
 * next. Mixed runs cycle through a fresh shuffle of all faults, so each one comes up in turn.
 * One at a time keeps R=2 meaningful (two servers down at once may hold both replicas) and
 * makes every failed request attributable to one fault.
 */
export async function runFaultSchedule(
  faults: Fault[],
  ctx: FaultContext,
  signal: AbortSignal,
  warmUpMs: number,
  /** A fault that could not be injected or undone (e.g. a server did not come back in time): the run goes on. */
  onError: (message: string) => void,
  /** Stop after every fault ran once (CI: each fault gets its turn however slow the machine is). */
  onceEach = false,
): Promise<void> {
  await pause(warmUpMs, signal);
  let queue: Fault[] = [];
  let passes = 0;
  while (!signal.aborted && faults.length > 0) {
    if (queue.length === 0) {
      if (onceEach && passes++ === 1) return;
      queue = shuffle(faults, ctx.random);
    }
    const fault = queue.shift()!;
    await fault.inject(ctx, signal).catch((error: unknown) => onError(`${fault.name}: ${(error as Error).message}`));
    await pause(randomInt(ctx.random, 2_000, 5_000), signal);
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
