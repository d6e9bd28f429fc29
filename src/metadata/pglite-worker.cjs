/**
 * Runs embedded PGlite in its own thread (see pglite-backend.ts for why). Plain CommonJS so it
 * starts without a TypeScript loader. Messages in: {id, op: 'query'|'exec'|'close', sql, params};
 * out: {id, rows} or {id, error}; plus one {ready} or {failed} once PGlite is open.
 */
const { parentPort, workerData } = require('node:worker_threads');
const { mkdirSync } = require('node:fs');
const { PGlite } = require('@electric-sql/pglite');

/** What crosses the thread boundary of a database error: enough to read and to branch on. */
function plain(error) {
  const { message, code, detail, constraint, table } = error;
  return { message: message || String(error), code, detail, constraint, table };
}

async function start() {
  mkdirSync(workerData.dataDir, { recursive: true });
  // A data directory on disk uses Emscripten's NODEFS: every write goes straight to the OS, so a
  // commit that returned survives a crash of this process. (relaxedDurability only changes
  // browser filesystems that sync in batches; it would not buy anything here.)
  const db = await PGlite.create({ dataDir: workerData.dataDir });
  if (workerData.schema) {
    // The single connection keeps this search_path for its whole life.
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${workerData.schema}; SET search_path TO ${workerData.schema}`);
  }
  parentPort.on('message', async ({ id, op, sql, params }) => {
    try {
      if (op === 'query') {
        parentPort.postMessage({ id, rows: (await db.query(sql, params)).rows });
      } else if (op === 'exec') {
        await db.exec(sql);
        parentPort.postMessage({ id, rows: [] });
      } else {
        await db.close();
        parentPort.postMessage({ id, rows: [] });
        parentPort.close();
      }
    } catch (error) {
      parentPort.postMessage({ id, error: plain(error) });
    }
  });
  parentPort.postMessage({ ready: true });
}

start().catch((error) => parentPort.postMessage({ failed: plain(error) }));
