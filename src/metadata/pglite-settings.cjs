/**
 * How the embedded PostgreSQL (PGlite) is sized: its server settings, shared by the process that
 * creates a database (pglite-create.cjs) and the one that runs it (pglite-child.cjs).
 *
 * PGlite's defaults are those of a PostgreSQL server: shared_buffers=128MB, and the whole buffer
 * pool becomes resident as pages pass through it. A ringstore's metadata is small (a row per
 * file and per chunk) and its files live on the OS page cache as well, so 16MB is enough for
 * one machine: measured 2026-12-06, the process holds ~170 MB after 50,000 rows and 10,000
 * queries instead of ~290 MB at 128MB, at the same CPU per query. Larger installs raise it with
 * PGLITE_SETTINGS (docs/configuration.md), or use PostgreSQL (DATABASE_URL).
 */
'use strict';

/*
 * max_connections=4 and io_max_concurrency=1: PGlite serves one connection (single-user mode,
 * synchronous I/O), but PostgreSQL sizes its shared memory for 100 and for as many I/Os in flight
 * as the buffer pool allows, and PGlite's allocator zeroes, so makes resident, all of it: 24 MB
 * with 16 MB of buffers, 20 MB with these (4 is the least PostgreSQL starts with: it keeps 3
 * connections for superusers). The process idles ~4 MB smaller at the same CPU per query
 * (0.31-0.37 ms against 0.32-0.37 ms, four pairs of 6,000 queries, 2026-12-07).
 */
const DEFAULT_SETTINGS = { shared_buffers: '16MB', max_connections: '4', io_max_concurrency: '1' };

/**
 * A commit that returned is on disk: PGlite starts with -F (fsync=off), and Emscripten's
 * fdatasync() is a no-op, while fsync() reaches the disk through pglite-durable-fs.cjs. Not
 * settable: the 201 of an upload promises its metadata survives a power loss.
 */
const DURABILITY_SETTINGS = { fsync: 'on', wal_sync_method: 'fsync' };

/**
 * PGlite's start parameters: its own defaults (single-user mode, no parallel workers, ...) but -F,
 * and `-c name=value` for each setting, PGLITE_SETTINGS ("name=value name=value") over ours.
 */
function pgliteStartParams(env) {
  const settings = { ...DEFAULT_SETTINGS };
  for (const pair of (env.PGLITE_SETTINGS ?? '').split(/\s+/).filter(Boolean)) {
    const match = /^([a-z_][a-z0-9_.]*)=(.+)$/i.exec(pair);
    if (!match) throw new Error(`PGLITE_SETTINGS: "${pair}" is not name=value (e.g. shared_buffers=256MB)`);
    settings[match[1]] = match[2];
  }
  for (const name of Object.keys(DURABILITY_SETTINGS)) {
    if (name in settings) throw new Error(`PGLITE_SETTINGS: ${name} cannot be set: ringstore answers an upload only once its metadata is on disk (fsync=on, wal_sync_method=fsync)`);
  }
  // Required here: the gateway loads this file for the flags alone, and must not load PGlite.
  const { PGlite } = require('@electric-sql/pglite');
  const pgliteDefaults = PGlite.defaultStartParams.filter((param) => param !== '-F'); // -F is fsync=off
  return [...pgliteDefaults, ...Object.entries({ ...settings, ...DURABILITY_SETTINGS }).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

/**
 * V8 flags of the database's processes. --liftoff-only: V8 otherwise recompiles PGlite's hot
 * wasm functions with its optimising compiler, which held ~65 MB more resident for no measured
 * gain in CPU per query (the time goes to the protocol, in JavaScript).
 * --max-semi-space-size=2: V8's young generation otherwise grows to 16 MiB per semi-space, and
 * holds it: after 6,000 queries the process kept ~117 MB of its own memory, ~86 MB with this, at
 * the same CPU per query (0.275-0.297 ms against 0.305-0.337; 1 MiB cost ~12 % more). Measured
 * 2026-12-07, an insert and a select by key per pair.
 * --expose-gc: pglite-child.cjs collects the garbage of opening once it is open.
 */
const PGLITE_NODE_FLAGS = ['--liftoff-only', '--max-semi-space-size=2', '--expose-gc'];

module.exports = { pgliteStartParams, PGLITE_NODE_FLAGS };
