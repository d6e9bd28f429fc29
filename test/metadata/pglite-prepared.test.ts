/**
 * Prepared statements of the embedded database: the child PREPAREs a statement the first time
 * its name comes, and the gateway sends its text only until a query by that name has succeeded
 * in the running child (a new child gets it again).
 */
import type { ChildProcess } from 'node:child_process';
import { openPgliteBackend } from '../../src/metadata/pglite-backend';
import type { SqlBackend } from '../../src/metadata/sql-backend';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';

afterAll(removeTempDirs);

const ADD = 'SELECT ($1::int + $2::int)::text AS sum';

/** The texts the gateway sent with each query to the running child, from now on. */
function sentTexts(backend: SqlBackend): string[] {
  const child = (backend as unknown as { child: ChildProcess }).child;
  const texts: string[] = [];
  const send = child.send.bind(child);
  child.send = ((message: { sql?: string }, ...rest: unknown[]) => {
    texts.push(message.sql ?? '');
    return (send as (...args: unknown[]) => boolean)(message, ...rest);
  }) as typeof child.send;
  return texts;
}

test('a prepared statement is sent with its text until it ran once in the child, and again to a new child', async () => {
  const backend = await openPgliteBackend(await makeTempDir('ringstore-pglite-prepared-'));
  try {
    const texts = sentTexts(backend);
    for (const [a, b] of [['1', '2'], ['3', '4'], ['5', '6']]) {
      expect(await backend.query(ADD, [a, b], { prepareAs: 'add_two' })).toEqual([{ sum: String(Number(a) + Number(b)) }]);
    }
    expect(texts).toEqual([ADD, '', '']);

    const first = (backend as unknown as { child: ChildProcess }).child;
    first.kill('SIGKILL');
    await waitFor(() => (backend as unknown as { child?: ChildProcess }).child !== undefined && (backend as unknown as { child: ChildProcess }).child !== first, { timeoutMs: 30_000, what: 'a new database child' });
    const again = sentTexts(backend);
    expect(await backend.query(ADD, ['7', '8'], { prepareAs: 'add_two' })).toEqual([{ sum: '15' }]);
    expect(await backend.query(ADD, ['9', '10'], { prepareAs: 'add_two' })).toEqual([{ sum: '19' }]);
    expect(again).toEqual([ADD, '']);
  } finally {
    await backend.close();
  }
}, 60_000);
