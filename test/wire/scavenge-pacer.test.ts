import { runInNewContext } from 'node:vm';
import { ScavengePacer, v8Scavenge } from '../../src/wire/scavenge-pacer';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;

describe('ScavengePacer', () => {
  it('scavenges once per bytesPerScavenge moved, however the bytes are split', () => {
    let scavenges = 0;
    const pacer = new ScavengePacer(2 * MiB, () => scavenges++);
    pacer.moved(MiB);
    expect(scavenges).toBe(0);
    pacer.moved(MiB);
    expect(scavenges).toBe(1);
    for (let i = 0; i < 64; i++) pacer.moved(64 * 1024); // 4 MiB in socket-read-sized pieces
    expect(scavenges).toBe(3);
    pacer.moved(3 * MiB); // one report over the pace is one scavenge, not a backlog
    expect(scavenges).toBe(4);
  });

  it('does nothing where V8 gave no gc()', () => {
    expect(() => new ScavengePacer(1, null).moved(MiB)).not.toThrow();
  });
});

describe('v8Scavenge', () => {
  it('frees dead socket-read-sized buffers, and leaves gc() unexposed to later contexts', async () => {
    const scavenge = v8Scavenge();
    expect(scavenge).not.toBeNull();
    expect(runInNewContext('typeof gc')).toBe('undefined');

    scavenge!(); // start from an empty young generation
    const reads: Buffer[] = Array.from({ length: 256 }, () => Buffer.allocUnsafeSlow(64 * 1024)); // 16 MiB
    const held = process.memoryUsage().arrayBuffers;
    reads.length = 0; // dead now, as socket reads are once their bytes are copied on

    scavenge!();
    // V8 may sweep freed backing stores on a background thread: wait for the count to fall.
    // (Measured from `held`, not from before the buffers: that sweep may still be freeing older garbage.)
    await waitFor(() => process.memoryUsage().arrayBuffers <= held - 15 * MiB, { timeoutMs: 5_000, what: 'dead buffers freed' });
  });
});
