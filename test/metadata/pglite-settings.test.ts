/**
 * The embedded database is sized for one machine (shared_buffers=16MB), and PGLITE_SETTINGS
 * resizes it for larger installs: checked on a real PGlite child process.
 */
import { openPgliteBackend } from '../../src/metadata/pglite-backend';
import { pgliteStartParams } from '../../src/metadata/pglite-settings.cjs';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';

afterAll(removeTempDirs);

/** Opens a PGlite child with PGLITE_SETTINGS as given (the child inherits the environment). */
async function settingsWith(settings: string | undefined, names: string[]): Promise<Record<string, string>> {
  const saved = process.env.PGLITE_SETTINGS;
  if (settings === undefined) delete process.env.PGLITE_SETTINGS;
  else process.env.PGLITE_SETTINGS = settings;
  try {
    const backend = await openPgliteBackend(await makeTempDir('ringstore-pglite-settings-'));
    try {
      const shown: Record<string, string> = {};
      for (const name of names) shown[name] = (await backend.query<Record<string, string>>(`SHOW ${name}`))[0][name];
      return shown;
    } finally {
      await backend.close();
    }
  } finally {
    if (saved === undefined) delete process.env.PGLITE_SETTINGS;
    else process.env.PGLITE_SETTINGS = saved;
  }
}

test('runs with 16MB of shared buffers, not the 128MB of a PostgreSQL server', async () => {
  expect(await settingsWith(undefined, ['shared_buffers', 'work_mem'])).toEqual({ shared_buffers: '16MB', work_mem: '4MB' });
}, 120_000);

test('sizes its shared memory for the one connection PGlite serves', async () => {
  const shown = await settingsWith(undefined, ['max_connections', 'io_max_concurrency', 'shared_memory_size']);
  expect(shown).toMatchObject({ max_connections: '4', io_max_concurrency: '1' });
  // All of it is resident: 24MB with PostgreSQL's defaults.
  expect(parseInt(shown.shared_memory_size, 10)).toBeLessThanOrEqual(20);
}, 120_000);

test('PGLITE_SETTINGS sets any server setting, over the defaults', async () => {
  expect(await settingsWith('shared_buffers=48MB  work_mem=8MB', ['shared_buffers', 'work_mem'])).toEqual({ shared_buffers: '48MB', work_mem: '8MB' });
}, 120_000);

test('a PGLITE_SETTINGS that is not name=value is refused with the reason', () => {
  expect(() => pgliteStartParams({ PGLITE_SETTINGS: 'shared_buffers 64MB' })).toThrow('PGLITE_SETTINGS: "shared_buffers" is not name=value (e.g. shared_buffers=256MB)');
  const params = pgliteStartParams({ PGLITE_SETTINGS: 'shared_buffers=64MB' });
  expect(params.filter((param) => param.startsWith('shared_buffers='))).toEqual(['shared_buffers=64MB']);
  expect(params[params.indexOf('shared_buffers=64MB') - 1]).toBe('-c');
});

test('a setting PostgreSQL does not know fails the open with its name', async () => {
  await expect(settingsWith('no_such_setting=1', [])).rejects.toThrow(/PGLITE_SETTINGS="no_such_setting=1"/);
}, 120_000);

test('commits are flushed to disk: fsync on, the WAL synced by fsync() (the one PGlite carries to the disk)', async () => {
  expect(await settingsWith(undefined, ['fsync', 'wal_sync_method', 'synchronous_commit'])).toEqual({ fsync: 'on', wal_sync_method: 'fsync', synchronous_commit: 'on' });
}, 120_000);

test('PGLITE_SETTINGS cannot turn durability off', () => {
  for (const settings of ['fsync=off', 'wal_sync_method=fdatasync']) {
    expect(() => pgliteStartParams({ PGLITE_SETTINGS: settings })).toThrow(/cannot be set: ringstore answers an upload only once its metadata is on disk/);
  }
  expect(pgliteStartParams({})).not.toContain('-F');
});
