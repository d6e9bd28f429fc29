/**
 * The embedded metadata database's own process (see pglite-backend.ts for why a process):
 * PGlite on the directory given as the first argument, driven over the IPC channel of
 * child_process.fork. Plain CommonJS so it starts without a TypeScript loader.
 * Messages in: {id, op: 'query'|'exec'|'close', sql, params}; out: {id, rows} or {id, error};
 * plus one {ready} or {failed} once PGlite is open, or could not be.
 *
 * It lives and dies with its parent. It ignores SIGINT, SIGTERM and SIGHUP: Ctrl-C reaches the
 * whole process group, and the gateway still needs the database while it drains its requests;
 * the gateway closes it last. When the IPC channel goes away (the parent exited or was killed
 * with -9), it closes the database, releases the directory's lock and exits.
 */
'use strict';
const { PGlite } = require('@electric-sql/pglite');
const { lockDataDir } = require('../fs/data-dir-lock.cjs');

const [dataDir, schema, lockWaitMs] = process.argv.slice(2);
/** How long a database that will not close may hold up the exit (its lock is then stale). */
const CLOSE_DEADLINE_MS = 10_000;
let db;
let unlock;
let stopping = false;

/** What crosses the process boundary of a database error: enough to read and to branch on. */
function plain(error) {
  const { message, code, detail, constraint, table } = error;
  return { message: message || String(error), code, detail, constraint, table };
}

async function start() {
  // Before PGlite touches the directory: two instances on one data directory would corrupt it.
  // The holder may be the child of a gateway killed a moment ago, still closing: wait for it.
  unlock = await lockDataDir(dataDir, {
    what: 'directory',
    owner: 'ringstore metadata database (the child process of a gateway on the same DATA_DIR)',
    waitMs: Number(lockWaitMs) || 0,
  });
  // A data directory on disk uses Emscripten's NODEFS: every write goes straight to the OS, so a
  // commit that returned survives a crash of this process. (relaxedDurability only changes
  // browser filesystems that sync in batches; it would not buy anything here.)
  db = await PGlite.create({ dataDir });
  if (schema) {
    // The single connection keeps this search_path for its whole life.
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
  }
}

/** Send to the parent; if it is gone already, the 'disconnect' handler takes care of the rest. */
function reply(message, then = () => undefined) {
  if (process.connected) process.send(message, then); // errors go to `then`, never thrown
  else then();
}

async function onMessage({ id, op, sql, params }) {
  try {
    if (stopping) throw new Error('the embedded metadata database is closing');
    if (op === 'query') {
      reply({ id, rows: (await db.query(sql, params)).rows });
    } else if (op === 'exec') {
      await db.exec(sql);
      reply({ id, rows: [] });
    } else {
      stopping = true;
      const failure = await closeDatabase().then(() => undefined, (error) => error); // PGlite flushes before it returns
      reply(failure ? { id, error: plain(failure) } : { id, rows: [] }, () => process.exit(failure ? 1 : 0));
    }
  } catch (error) {
    reply({ id, error: plain(error) });
  }
}

/** Close PGlite, then release the lock; if closing fails, the lock stays until this process is gone. */
async function closeDatabase() {
  const open = db;
  db = undefined;
  await open?.close();
  await unlock?.();
  unlock = undefined;
}

const started = start();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => undefined);
process.on('disconnect', async () => {
  if (stopping) return;
  stopping = true;
  // Let an open in progress finish (a first open runs initdb; cut short, it would leave a
  // broken database), then close cleanly.
  await started.catch(() => undefined);
  setTimeout(() => process.exit(1), CLOSE_DEADLINE_MS).unref();
  await closeDatabase().catch((error) => console.error(`ringstore: closing the embedded metadata database in ${dataDir} failed:`, error));
  process.exit(0);
});

started.then(
  () => {
    process.on('message', onMessage);
    reply({ ready: true });
  },
  async (error) => {
    await closeDatabase().catch(() => undefined);
    reply({ failed: plain(error) }, () => process.exit(1));
  },
);
