import { FreeSpaceEstimate } from '../../src/storage/free-space-estimate';

describe('FreeSpaceEstimate', () => {
  it('reads the disk once per period and counts what it admitted meanwhile', async () => {
    let reads = 0;
    let disk = 1000;
    const estimate = new FreeSpaceEstimate(async () => {
      reads += 1;
      return disk;
    }, 60_000);
    expect(await estimate.admit(600)).toEqual({ fits: true, available: 1000 });
    expect(await estimate.admit(500)).toEqual({ fits: false, available: 400 });
    expect(await estimate.admit(400)).toEqual({ fits: true, available: 400 });
    disk = 5000; // not seen before the period ends
    expect((await estimate.admit(1)).fits).toBe(false);
    expect(reads).toBe(1);
  });

  it('reads again once its figure is older than the period', async () => {
    let disk = 10;
    const estimate = new FreeSpaceEstimate(async () => disk, 0);
    expect((await estimate.admit(20)).fits).toBe(false);
    disk = 30;
    await new Promise((resolve) => setImmediate(resolve));
    const later = Date.now();
    while (Date.now() === later) await new Promise((resolve) => setImmediate(resolve)); // the clock moves on
    expect(await estimate.admit(20)).toEqual({ fits: true, available: 30 });
  });
});
