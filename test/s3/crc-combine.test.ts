import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/s3/checksums';
import { combineCrcs, combinesParts } from '../../src/s3/crc-combine';

describe('combineCrcs: the CRC of pieces joined, from their CRCs and lengths', () => {
  it.each(['CRC32', 'CRC32C', 'CRC64NVME'] as const)('%s of the whole equals the combination of its pieces (empty ones too)', (algorithm) => {
    const pieces = [randomBytes(5 * 1024 * 1024 + 3), Buffer.alloc(0), randomBytes(1), randomBytes(4099), randomBytes(5 * 1024 * 1024 + 3)];
    const combined = combineCrcs(algorithm, pieces.map((piece) => ({ crc: digestOf(algorithm, piece), size: piece.length })));
    expect(combined.toString('hex')).toBe(digestOf(algorithm, Buffer.concat(pieces)).toString('hex'));
    // A piece out of order gives another answer.
    const swapped = [pieces[2], pieces[3], pieces[0]].map((piece) => ({ crc: digestOf(algorithm, piece), size: piece.length }));
    expect(combineCrcs(algorithm, swapped).equals(combined)).toBe(false);
  });

  it('knows the CRC of nothing and of one piece, and refuses what does not combine', () => {
    expect(combineCrcs('CRC32', []).toString('hex')).toBe(digestOf('CRC32', Buffer.alloc(0)).toString('hex'));
    const one = randomBytes(100);
    expect(combineCrcs('CRC32C', [{ crc: digestOf('CRC32C', one), size: 100 }]).equals(digestOf('CRC32C', one))).toBe(true);
    expect(combinesParts('SHA256')).toBe(false);
    expect(() => combineCrcs('SHA256', [])).toThrow('SHA256 checksums do not combine');
    expect(() => combineCrcs('CRC64NVME', [{ crc: Buffer.alloc(4), size: 1 }])).toThrow('a CRC64NVME is 8 bytes, got 4');
  });
});
