/**
 * A commit of the embedded database reaches the disk (pglite-durable-fs.cjs): PGlite's NODEFS
 * drops PostgreSQL's fsync, so without the patch no fsync of the WAL is ever seen here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertShape } from '../../src/metadata/pglite-durable-fs.cjs';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';

afterAll(removeTempDirs);
const run = promisify(execFile);

test('a commit returns only after the WAL it wrote was fsynced', async () => {
  const dataDir = await makeTempDir('ringstore-pglite-durable-');
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'fixtures/fsynced-commit.cjs'), dataDir]);
  const synced: string[] = JSON.parse(stdout);
  expect(synced.filter((file) => file.startsWith(path.join(dataDir, 'pg_wal/')))).toHaveLength(1);
}, 120_000);

test('a PGlite whose NODEFS is not the shape patched is refused with the reason', () => {
  const streamOps = { open: () => undefined, write: () => 0 };
  expect(() => assertShape({ stream_ops: streamOps })).not.toThrow();
  for (const changed of [undefined, { stream_ops: { ...streamOps, fsync: () => 0 } }, { stream_ops: { write: () => 0 } }]) {
    expect(() => assertShape(changed)).toThrow(/cannot be made durable: this PGlite version's NODEFS stream operations are not the ones pglite-durable-fs.cjs patches/);
  }
});
