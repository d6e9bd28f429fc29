import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Data a process moves between two scavenges it forces. 2 MiB: the gateway's peak in a 5 GiB
 * transfer fell from 130-140 to 106-113 MB, and it spends less CPU per GiB, not more; one
 * scavenge per 8 MiB kept about half of the memory gain (measured 2026-11-29).
 */
export const BYTES_PER_SCAVENGE = 2 * 1024 * 1024;

/** One young-generation GC, run at once. */
export type Scavenge = () => void;

/**
 * Forces a young-generation GC (a scavenge) after every `bytesPerScavenge` bytes reported with
 * moved(). Why: each socket read lands in a fresh 64 KiB buffer (Node's HTTP/1 and HTTP/2 alike),
 * and grpc-js frames each message it sends in a fresh Buffer; all of them are garbage as soon
 * as their bytes are copied on. V8 frees such memory only in a GC, but it paces scavenges by
 * the JS objects a process allocates, which a streaming data path hardly does. So the dead
 * buffers piled up, many reached the old generation, and all waited for full GCs, which
 * external memory starts only every few tens of MB: they, not the data in flight, set a
 * transfer's peak RSS, and those full GCs cost more CPU than scavenges that catch the buffers
 * young.
 */
export class ScavengePacer {
  private bytesSinceScavenge = 0;

  constructor(
    private readonly bytesPerScavenge: number,
    /** null where V8 gives no gc(): moved() then does nothing. */
    private readonly scavenge: Scavenge | null,
  ) {}

  /** `bytes` of data passed through this process (received, read, or sent on). */
  moved(bytes: number): void {
    if (!this.scavenge) return;
    this.bytesSinceScavenge += bytes;
    if (this.bytesSinceScavenge < this.bytesPerScavenge) return;
    this.bytesSinceScavenge = 0;
    this.scavenge();
  }
}

/** V8's gc(): a full GC, or a scavenge with { type: 'minor' }. */
export type V8Gc = (options?: { type: 'minor' | 'major' }) => void;

/**
 * V8's gc(), which node gives only with --expose-gc on its command line: the flag is set just
 * long enough for a fresh context to hand the function out (jest's leak detector does the same).
 * null if this V8 refuses.
 */
export function v8Gc(): V8Gc | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as V8Gc;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** A scavenge through v8Gc(), or null where there is none. */
export function v8Scavenge(): Scavenge | null {
  const gc = v8Gc();
  return gc && (() => gc({ type: 'minor' }));
}

/** This process's pacer: its data frames report to it (src/wire/frame-pool.ts, the upload pipeline). */
export const scavengePacer = new ScavengePacer(BYTES_PER_SCAVENGE, v8Scavenge());
