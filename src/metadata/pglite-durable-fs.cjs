/**
 * PGlite's file system for a data directory on disk, with an fsync that reaches the disk.
 *
 * PGlite mounts the directory with Emscripten's NODEFS, whose file streams have no fsync: the
 * fsync() PostgreSQL calls (at commit for the WAL with wal_sync_method=fsync, at a checkpoint for
 * the data files, on pg_wal/ for a new segment) returns success without doing anything, so a
 * commit is in the OS page cache only and a power loss could drop it. (fdatasync() is a no-op of
 * Emscripten's own that never reaches the stream: pglite-settings.cjs sets wal_sync_method=fsync.)
 * Here the streams get an fsync on their Node file descriptor, directories included (a new WAL
 * segment: the segment, then pg_wal/, checked on 2026-12-07).
 *
 * This patches PGlite's internals (the version is pinned exactly in package.json): assertShape
 * refuses to start on a version whose NODEFS no longer looks like the one patched, and
 * test/metadata/pglite-durable-fs.test.ts checks that a commit fsyncs the WAL.
 */
'use strict';
const fs = require('node:fs');
const { NodeFS } = require('@electric-sql/pglite/nodefs');

/** Emscripten's NODEFS stream operations as PGlite 0.5.17 has them: by Node descriptor (stream.nfd), no fsync. */
function assertShape(NODEFS) {
  const ops = NODEFS?.stream_ops;
  const shaped = ops && typeof ops.open === 'function' && typeof ops.write === 'function' && ops.fsync === undefined;
  if (!shaped) {
    throw new Error('the embedded metadata database cannot be made durable: this PGlite version\'s NODEFS stream operations are not the ones pglite-durable-fs.cjs patches (open and write by Node file descriptor, no fsync); check what its fsync does now and update that file');
  }
}

/**
 * A NodeFS whose streams fsync for real. `onFsync(path)` (tests) is told of each one after it
 * reached the OS.
 */
class DurableNodeFS extends NodeFS {
  constructor(dataDir, { onFsync } = {}) {
    super(dataDir);
    this.onFsync = onFsync;
  }

  async init(pg, opts) {
    const { emscriptenOpts } = await super.init(pg, opts);
    // Before PostgreSQL runs (preRun): its start-up may already recover and checkpoint.
    const makeDurable = (mod) => {
      assertShape(mod.NODEFS);
      mod.NODEFS.stream_ops.fsync = (stream) => {
        // A failure goes back to PostgreSQL as its errno; a failed WAL fsync PANICs it, as it should.
        mod.NODEFS.tryFSOperation(() => fs.fsyncSync(stream.nfd));
        this.onFsync?.(mod.NODEFS.realPath(stream.node));
        return 0;
      };
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun || []), makeDurable] } };
  }
}

module.exports = { DurableNodeFS, assertShape };
