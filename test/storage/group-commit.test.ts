import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { GroupCommitter, type PendingChunk } from '../../src/storage/group-commit';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';

/** A chunk whose steps are recorded in `events`, on a real directory. */
function pendingChunk(events: string[], name: string, dir: string, failAt?: 'sync' | 'name'): PendingChunk {
  const file = {
    datasync: async () => {
      events.push(`sync ${name}`);
      if (failAt === 'sync') throw new Error(`disk refused ${name}`);
    },
    close: async () => void events.push(`close ${name}`),
  } as unknown as FileHandle;
  return {
    file,
    name: async () => {
      events.push(`name ${name}`);
      if (failAt === 'name') throw new Error(`${name} is taken`);
      return [dir];
    },
  };
}

describe('GroupCommitter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('ringstore-group-commit-');
  });
  afterAll(removeTempDirs);

  it('commits a lone chunk at once, and chunks that arrive meanwhile together in the next batch', async () => {
    const events: string[] = [];
    const batches: number[] = [];
    const committer = new GroupCommitter((size) => batches.push(size));
    const first = committer.commit(pendingChunk(events, 'a', dir));
    const rest = ['b', 'c', 'd'].map((name) => committer.commit(pendingChunk(events, name, dir)));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([1, 3]);
    // Within a batch: every file synced and closed before any name, so no name points at unsynced bytes.
    const second = events.slice(events.indexOf('sync b'));
    const lastSyncOrClose = Math.max(...second.map((event, i) => (/^(sync|close)/.test(event) ? i : -1)));
    const firstName = second.findIndex((event) => event.startsWith('name'));
    expect(lastSyncOrClose).toBeLessThan(firstName);
    expect(second.filter((event) => event.startsWith('name'))).toEqual(['name b', 'name c', 'name d']);
  });

  it('fails only the chunk whose sync or name failed; a failed sync never gets a name', async () => {
    const events: string[] = [];
    const committer = new GroupCommitter();
    const blocker = committer.commit(pendingChunk(events, 'first', dir));
    const outcomes = await Promise.allSettled([
      committer.commit(pendingChunk(events, 'ok', dir)),
      committer.commit(pendingChunk(events, 'bad-sync', dir, 'sync')),
      committer.commit(pendingChunk(events, 'taken', dir, 'name')),
    ]);
    await blocker;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/disk refused bad-sync/);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/taken is taken/);
    expect(events).toContain('close bad-sync');
    expect(events).not.toContain('name bad-sync');
  });

  it('fails the chunks of a directory that cannot be synced', async () => {
    const committer = new GroupCommitter();
    const missing = path.join(dir, 'gone');
    await fs.mkdir(missing);
    await fs.rmdir(missing);
    await expect(committer.commit(pendingChunk([], 'orphan', missing))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(committer.commit(pendingChunk([], 'fine', dir))).resolves.toBeUndefined();
  });
});
