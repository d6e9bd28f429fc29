/**
 * The embedded metadata database's fsyncs reach the OS, seen by strace on its real child process:
 * a commit fsyncs the WAL before it returns, and a new database's files are fsynced before it is
 * moved into place. (PGlite alone does neither: it starts with fsync=off and its file system
 * drops fsyncs; see pglite-durable-fs.cjs.)
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeIfFound, toolOrSkip, TOOLS } from '../helpers/tools';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';

const STRACE = toolOrSkip(TOOLS.strace, 'test/metadata/pglite-fsync.strace.test.ts');
const run = promisify(execFile);

afterAll(removeTempDirs);

describeIfFound(STRACE)('the embedded database under strace', () => {
  test('a commit fsyncs the WAL before it returns; a new database is on disk before it counts', async () => {
    const work = await makeTempDir('ringstore-pglite-strace-');
    const dataDir = path.join(work, 'metadata');
    const trace = path.join(work, 'trace');
    const fixture = path.join(__dirname, 'fixtures/commit-through-child.ts');
    // -y names each descriptor's file; the markers are the fixture's writes to stderr.
    await run(STRACE!, ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', '-o', trace, process.execPath, '--require', 'tsx/cjs', fixture, dataDir]);
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const fsyncs = (from: number, to: number) => lines.slice(from, to).filter((line) => /\b(fsync|fdatasync)\(\d+</.test(line));
    const commitBegins = lines.findIndex((line) => line.includes('COMMIT BEGINS'));
    const commitReturned = lines.findIndex((line) => line.includes('COMMIT RETURNED'));
    expect(commitBegins).toBeGreaterThan(0);
    expect(fsyncs(commitBegins, commitReturned).filter((line) => line.includes(`<${dataDir}/pg_wal/`))).toHaveLength(1);
    // The staging copy: its catalog files, not only the directory renamed out of it.
    expect(fsyncs(0, commitBegins).filter((line) => line.includes(`<${dataDir}/.creating/global/pg_control>`))).toHaveLength(1);
  }, 180_000);
});
