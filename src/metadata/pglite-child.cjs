/**
 * The embedded metadata database's own process (see pglite-backend.ts for why a process):
 * PGlite on the directory given as the first argument, driven over the IPC channel of
 * child_process.fork. Plain CommonJS so it starts without a TypeScript loader.
 * Messages in: {id, op: 'query'|'exec'|'close', sql, params, prepareAs} (sql '' for a statement prepared here already); out: {id, rows} or {id, error};
 * plus one {ready} or {failed} once PGlite is open, or could not be.
 *
 * It lives and dies with its parent. It ignores SIGINT, SIGTERM and SIGHUP: Ctrl-C reaches the
 * whole process group, and the gateway still needs the database while it drains its requests;
 * the gateway closes it last. When the IPC channel goes away (the parent exited or was killed
 * with -9), it closes the database, releases the directory's lock and exits.
 */
'use strict';
const { fork } = require('node:child_process');
const { existsSync } = require('node:fs');
const fs = require('node:fs/promises');
const path = require('node:path');
const { PGlite } = require('@electric-sql/pglite');
const { lockDataDir } = require('../util/data-dir-lock.cjs');
const { fsyncDir, fsyncTree } = require('../util/fsync-dir.cjs');
const { pgliteStartParams, PGLITE_NODE_FLAGS } = require('./pglite-settings.cjs');
const { DurableNodeFS } = require('./pglite-durable-fs.cjs');

const [dataDir, schema, lockWaitMs] = process.argv.slice(2);
/** The build's empty database (dist/pglite-template, see src/cli/build.cjs); absent in the sources. */
const TEMPLATE = path.join(__dirname, '../../pglite-template');
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
  const startParams = pgliteStartParams(process.env); // a bad PGLITE_SETTINGS fails here, first
  // Before PGlite touches the directory: two instances on one data directory would corrupt it.
  // The holder may be the child of a gateway killed a moment ago, still closing: wait for it.
  unlock = await lockDataDir(dataDir, {
    what: 'directory',
    owner: 'ringstore metadata database (the child process of a gateway on the same DATA_DIR)',
    waitMs: Number(lockWaitMs) || 0,
  });
  try {
    await createIfMissing();
    // A commit that returned is on disk, so survives a power loss, not only a crash of this
    // process: PostgreSQL fsyncs the WAL at commit (fsync=on, wal_sync_method=fsync, see
    // pglite-settings.cjs), and DurableNodeFS makes that fsync reach the disk (PGlite's own NODEFS
    // drops it). The gateway batches concurrent commits, so one fsync serves a batch.
    db = await PGlite.create({ fs: new DurableNodeFS(dataDir), startParams });
  } catch (error) {
    // PGlite says only that it "failed to initialize": name the likely cause when there is one.
    const settings = process.env.PGLITE_SETTINGS?.trim();
    if (settings) error.message += ` (with PGLITE_SETTINGS="${settings}": a setting PostgreSQL does not know, or a value it refuses, stops it from starting)`;
    throw error;
  }
  if (schema) {
    // The single connection keeps this search_path for its whole life.
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
  }
}

/**
 * A directory without a database gets one inside `.creating/`, then moved into place with
 * PG_VERSION last. So a database is complete exactly when PG_VERSION is there: a first start cut
 * short leaves only `.creating/` or a partial move behind, which the next start replaces.
 *
 * The new database is a copy of the build's empty one (TEMPLATE, made by `npm run build`), which
 * takes a fraction of a second where PostgreSQL's initdb takes seconds of CPU; without a build
 * (the sources run through tsx) pglite-create.cjs makes one.
 */
async function createIfMissing() {
  const staging = path.join(dataDir, '.creating');
  await fs.rm(staging, { recursive: true, force: true }); // what a first start cut short left
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return;
  if (existsSync(path.join(TEMPLATE, 'PG_VERSION'))) await fs.cp(TEMPLATE, staging, { recursive: true });
  else await createWithInitdb(staging);
  await fsyncTree(staging); // copied and initdb's files are in the page cache only: on disk before they count
  const moveIn = async (name) => {
    await fs.rm(path.join(dataDir, name), { recursive: true, force: true }); // left by a move cut short
    await fs.rename(path.join(staging, name), path.join(dataDir, name));
  };
  for (const name of await fs.readdir(staging)) if (name !== 'PG_VERSION') await moveIn(name);
  await fsyncDir(dataDir); // everything else is in place on disk before PG_VERSION says so
  await moveIn('PG_VERSION');
  await fsyncDir(dataDir);
  await fs.rmdir(staging);
}

/** initdb by pglite-create.cjs, in a process of its own (see there for why), into `staging`. */
function createWithInitdb(staging) {
  return new Promise((resolve, reject) => {
    const creator = fork(path.join(__dirname, 'pglite-create.cjs'), [staging], { execArgv: PGLITE_NODE_FLAGS, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    creator.stderr.on('data', (text) => (stderr += text));
    creator.on('error', reject);
    creator.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`creating a new database failed (${signal ? `killed by ${signal}` : `exit code ${code}`}): ${stderr.trim() || 'no reason given'}`));
    });
  });
}

/** Send to the parent; if it is gone already, the 'disconnect' handler takes care of the rest. */
function reply(message, then = () => undefined) {
  if (process.connected) process.send(message, then); // errors go to `then`, never thrown
  else then();
}

async function onMessage({ id, op, sql, params, prepareAs }) {
  try {
    if (stopping) throw new Error('the embedded metadata database is closing');
    if (op === 'query') {
      reply({ id, rows: prepareAs ? await executePrepared(prepareAs, sql, params) : (await db.query(sql, params)).rows });
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

/** Names of the statements PREPAREd on this connection (it lives as long as this process). */
const prepared = new Set();

/**
 * A statement by name (the parent checked it is a plain identifier, and every parameter text):
 * PREPAREd the first time it comes, then EXECUTEd with its parameters written as literals, so
 * PostgreSQL parses and plans it once (and the parent stops sending its text). (PGlite's query() sends an unnamed statement, planned
 * again every time; its protocol has no other way to bind parameters to a named one.)
 */
async function executePrepared(name, sql, params) {
  if (!prepared.has(name)) {
    // The parent sends the text until a query by this name has succeeded here, then only the name.
    if (!sql) throw new Error(`statement "${name}" is not prepared in this process, and no text came with it`);
    await db.exec(`PREPARE ${name} AS ${sql}`);
    prepared.add(name);
  }
  const results = await db.exec(params.length === 0 ? `EXECUTE ${name}` : `EXECUTE ${name}(${params.map(textLiteral).join(', ')})`);
  return results[results.length - 1].rows;
}

/** A string as an SQL literal: escape-string syntax reads the same whatever standard_conforming_strings says. */
function textLiteral(text) {
  if (text.includes('\0')) throw new Error('a parameter of a prepared statement holds a NUL character, which PostgreSQL text cannot hold');
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
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
  // Let an open in progress finish, then close cleanly: the next start then finds the
  // database made, instead of making it again.
  await started.catch(() => undefined);
  setTimeout(() => process.exit(1), CLOSE_DEADLINE_MS).unref();
  await closeDatabase().catch((error) => console.error(`ringstore: closing the embedded metadata database in ${dataDir} failed:`, error));
  process.exit(0);
});

started.then(
  () => {
    process.on('message', onMessage);
    reply({ ready: true });
    // Opening leaves garbage outside the heap (the 9 MB of wasm read to compile it, among others)
    // that an idle process would hold until V8's memory reducer ran, seconds later: drop it now.
    // gc is exposed by PGLITE_NODE_FLAGS (--expose-gc), absent in a process started otherwise.
    global.gc?.();
  },
  async (error) => {
    await closeDatabase().catch(() => undefined);
    reply({ failed: plain(error) }, () => process.exit(1));
  },
);
