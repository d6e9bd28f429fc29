/**
 * Makes a rename, link or unlink in a directory durable: fsync of the directory itself.
 * Plain CommonJS, like data-dir-lock.cjs, so the storage server and the embedded metadata
 * database's child process (which runs without a TypeScript loader) share it. Types are in
 * fsync-dir.d.cts.
 */
'use strict';
const fs = require('node:fs/promises');

async function fsyncDir(dir) {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

module.exports = { fsyncDir };
