/**
 * Makes a rename, link or unlink in a directory durable: fsync of the directory itself.
 * Plain CommonJS, like data-dir-lock.cjs, so the storage server and the embedded metadata
 * database's child process (which runs without a TypeScript loader) share it. Types are in
 * fsync-dir.d.cts.
 */
'use strict';
const fs = require('node:fs/promises');
const path = require('node:path');

/** fsync of a file or a directory, by path. */
async function fsyncPath(fileOrDir) {
  const handle = await fs.open(fileOrDir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDir(dir) {
  await fsyncPath(dir);
}

/** How many fsyncs fsyncTree keeps in flight: together they cost about one, without running out of descriptors. */
const TREE_FSYNCS_IN_FLIGHT = 32;

/**
 * fsync of everything under `dir` and of `dir` itself, so a tree written without fsyncs (a copy)
 * is on disk. Many at once: ~0.1 s for the ~1,000 files of PGlite's empty database, where one at
 * a time took 0.8-1.7 s (ext4 commits concurrent fsyncs together).
 */
async function fsyncTree(dir) {
  const paths = [dir, ...(await fs.readdir(dir, { recursive: true })).map((name) => path.join(dir, name))];
  let next = 0;
  const syncUntilDone = async () => {
    while (next < paths.length) await fsyncPath(paths[next++]);
  };
  await Promise.all(Array.from({ length: TREE_FSYNCS_IN_FLIGHT }, syncUntilDone));
}

module.exports = { fsyncDir, fsyncTree };
