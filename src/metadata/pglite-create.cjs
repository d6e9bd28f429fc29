/**
 * Creates a new embedded metadata database (PGlite's initdb) in the directory given as the
 * first argument, then exits: 0 once it is complete, 1 with the reason on stderr otherwise.
 *
 * A process of its own because initdb leaves ~800 MB of wasm memory resident, and a process
 * cannot give wasm memory back; the database's own process (pglite-child.cjs) then opens the
 * finished database in ~300 MB. That process holds the data directory's lock meanwhile, and
 * this one exits if it goes away.
 */
'use strict';
const { PGlite } = require('@electric-sql/pglite');
const { pgliteStartParams } = require('./pglite-settings.cjs');

const [dir] = process.argv.slice(2);
process.on('disconnect', () => process.exit(1));

PGlite.create({ dataDir: dir, startParams: pgliteStartParams(process.env) })
  .then((db) => db.close())
  .then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${(error && error.message) || String(error)}\n`);
      process.exit(1);
    },
  );
