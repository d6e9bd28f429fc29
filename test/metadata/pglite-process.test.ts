/**
 * The embedded metadata database runs in a child process of its own: it must die with its
 * parent, never share its directory with a second one, and fail plainly when it is gone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MetadataUnavailableError, openMetadataStore } from '../../src/metadata';
import { openPgliteBackend } from '../../src/metadata/pglite-backend';
import type { SqlBackend } from '../../src/metadata/sql-backend';
import { REPO_ROOT } from '../helpers/process';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

afterAll(removeTempDirs);

/** Gone, or a zombie nobody reaped yet: either way it holds nothing any more. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return true;
  }
}

/** The pid in the LOCK file of an embedded database directory: its child process. */
function lockOwner(dir: string): number {
  return Number(readFileSync(path.join(dir, 'LOCK'), 'utf8').trim().split(' ')[0]);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

test('the database child exits and releases its lock when its parent is killed with -9; the data stays', async () => {
  const dataDir = await makeTempDir('ringstore-pglite-orphan-');
  const metadataDir = path.join(dataDir, 'metadata');
  const parent = spawn(process.execPath, ['--require', 'tsx/cjs', 'test/metadata/fixtures/hold-pglite.ts', dataDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let childPid: number | undefined;
  try {
    let output = '';
    parent.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
    await waitFor(() => output.includes('ready') || parent.exitCode !== null, { timeoutMs: 45_000, what: 'the store open in the parent' });
    expect(output).toContain('ready');
    childPid = lockOwner(metadataDir);
    expect(childPid).not.toBe(parent.pid);
    expect(readFileSync(`/proc/${childPid}/cmdline`, 'utf8')).toContain('pglite-child.cjs');

    parent.kill('SIGKILL');
    await waitFor(() => isGone(childPid!), { timeoutMs: 15_000, what: `the database child ${childPid} to exit after its parent` });
    expect(existsSync(path.join(metadataDir, 'LOCK'))).toBe(false); // it closed cleanly, not killed

    const store = await openMetadataStore({ dataDir });
    try {
      expect((await store.listServers()).map((server) => server.id)).toEqual(['held']);
    } finally {
      await store.close();
    }
  } finally {
    parent.kill('SIGKILL');
    if (childPid) killQuietly(childPid);
  }
}, 120_000);

describe('one database per directory', () => {
  let dir: string;
  let first: SqlBackend | undefined;

  beforeAll(async () => {
    dir = path.join(await makeTempDir('ringstore-pglite-lock-'), 'metadata');
  });
  afterEach(async () => {
    await first?.close();
    first = undefined;
  });

  test('a second open while the first is alive fails clearly after waiting; once the first closes it goes through', async () => {
    first = await openPgliteBackend(dir);
    await first.exec('CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)');
    const owner = lockOwner(dir);

    const refused = openPgliteBackend(dir, undefined, { lockWaitMs: 300 });
    await expect(refused).rejects.toThrow(
      new RegExp(`^cannot open the embedded metadata database in ${dir}: directory ${dir} is in use by process ${owner} \\(waited 0.3 s for it to exit\\)`),
    );
    expect(lockOwner(dir)).toBe(owner); // the refused one left the lock alone

    // The next one waits for the holder (as a restarted gateway waits for the child of the one
    // it replaces) and opens once the holder is gone.
    const waiting = openPgliteBackend(dir, undefined, { lockWaitMs: 30_000 });
    await first.close();
    first = await waiting;
    expect(await first.query('SELECT n FROM kept')).toEqual([{ n: 7 }]);
  });

  test('a lock left by a process that is gone is taken over, also when its pid now belongs to another process', async () => {
    // A live pid with another start time: what a restarted container finds (pids repeat there).
    await writeFile(path.join(dir, 'LOCK'), `${process.ppid} 1\n`);
    first = await openPgliteBackend(dir, undefined, { lockWaitMs: 0 });
    expect(lockOwner(dir)).not.toBe(process.pid);
  });

  test('when the child dies, queries fail with MetadataUnavailableError saying so, until a new child has reopened the data', async () => {
    first = await openPgliteBackend(dir);
    await first.exec('CREATE TABLE survivors (n integer); INSERT INTO survivors VALUES (42)');
    const childPid = lockOwner(dir);
    process.kill(childPid, 'SIGKILL');
    const error = await waitFor(async () => first!.query('SELECT 1').then(() => false, (e: unknown) => e), { what: 'a failed query' });
    expect(error).toBeInstanceOf(MetadataUnavailableError);
    expect((error as Error).message).toBe(
      `embedded metadata database in ${dir} is not running: its process (pid ${childPid}) was killed by SIGKILL; reopening it`,
    );
    await expect(first.ping(1000)).rejects.toThrow(MetadataUnavailableError);

    const rows = await waitFor(async () => first!.query('SELECT n FROM survivors').catch(() => false), { timeoutMs: 30_000, what: 'the database reopened' });
    expect(rows).toEqual([{ n: 42 }]);
    expect(lockOwner(dir)).not.toBe(childPid);
    expect(readFileSync(`/proc/${lockOwner(dir)}/cmdline`, 'utf8')).toContain('pglite-child.cjs');
  });

  test('closed while a dead child is being replaced: close resolves and no child is left holding the directory', async () => {
    first = await openPgliteBackend(dir);
    const childPid = lockOwner(dir);
    process.kill(childPid, 'SIGKILL');
    await waitFor(async () => first!.query('SELECT 1').then(() => false, () => true), { what: 'a failed query' });
    await first.close();
    first = undefined;
    await waitFor(() => !existsSync(path.join(dir, 'LOCK')) || isGone(lockOwner(dir)), { timeoutMs: 15_000, what: 'no live owner of the directory' });
  });
});

describe('creating a new database', () => {
  test('a first start cut short leaves nothing the next start cannot replace', async () => {
    const dir = path.join(await makeTempDir('ringstore-pglite-create-'), 'metadata');
    // What a killed first start can leave: a half-made database in .creating/, and part of a
    // finished one moved into place without its PG_VERSION.
    await mkdir(path.join(dir, '.creating', 'base'), { recursive: true });
    await writeFile(path.join(dir, '.creating', 'PG_VERSION'), 'junk\n');
    await mkdir(path.join(dir, 'global'), { recursive: true });
    await writeFile(path.join(dir, 'global', 'pg_control'), 'junk');

    const backend = await openPgliteBackend(dir);
    try {
      await backend.exec('CREATE TABLE made (n integer); INSERT INTO made VALUES (1)');
      expect(await backend.query('SELECT n FROM made')).toEqual([{ n: 1 }]);
    } finally {
      await backend.close();
    }
    expect(existsSync(path.join(dir, '.creating'))).toBe(false);
    expect(readFileSync(path.join(dir, 'PG_VERSION'), 'utf8')).toMatch(/^\d+\n$/);

    const reopened = await openPgliteBackend(dir); // opened as it is, not created again
    try {
      expect(await reopened.query('SELECT n FROM made')).toEqual([{ n: 1 }]);
    } finally {
      await reopened.close();
    }
  }, 120_000);
});

test('a data directory that cannot hold the database fails with a clear error', async () => {
  const file = path.join(await makeTempDir('ringstore-pglite-bad-'), 'not-a-dir');
  await writeFile(file, '');
  await expect(openMetadataStore({ dataDir: file })).rejects.toThrow(
    new RegExp(`^cannot open the embedded metadata database in ${file}/metadata: ENOTDIR`),
  );
});
