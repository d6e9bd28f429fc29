import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { withDeadline } from './deadline';
import { MetadataUnavailableError } from './errors';
import { NamedLocks } from './named-locks';
import type { LockMode, SqlBackend } from './sql-backend';

type Reply = { id: number; rows: unknown[] } | { id: number; error: ChildError };
type Startup = { ready: true } | { failed: ChildError };
interface ChildError {
  message: string;
  code?: string;
  detail?: string;
  constraint?: string;
  table?: string;
}

const CHILD = path.join(__dirname, 'pglite-child.cjs');
/**
 * How long a new child waits for the directory's lock while another process holds it: that is
 * normally the child of a gateway killed a moment ago, which closes its database and exits.
 */
const LOCK_WAIT_MS = 10_000;
/** How long close() waits for the child to exit once the database is closed, before killing it. */
const EXIT_DEADLINE_MS = 10_000;

/** A database error from the child, with the fields callers branch on (code, constraint). */
function rebuild(error: ChildError): Error {
  return Object.assign(new Error(error.message), error);
}

/**
 * Resolves, with how it ended, once the child has exited and its channel has closed: the
 * channel closes after the last message has been delivered, so a reply the child sent just
 * before it exited is never taken for a lost one. (Not the 'close' event: it never comes when
 * the parent disconnected the channel itself.)
 */
function whenGone(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (child.connected) child.once('disconnect', () => resolve(how));
      else resolve(how);
    });
  });
}

/**
 * Embedded PostgreSQL (PGlite) in a child process of its own (pglite-child.cjs), spoken to over
 * the IPC channel of child_process.fork. Why a process:
 * - Memory. PGlite is PostgreSQL compiled to WebAssembly, and its wasm memory (~800 MB resident
 *   once open) would count against the gateway; in a child, the gateway stays a small Node process.
 * - Latency. The wasm runs every query synchronously; on the gateway's event loop that would
 *   stall its byte streams. (A worker thread avoided that too, but not the memory.)
 * - PGlite loads itself with import(), which jest's module sandbox refuses; in a plain child it
 *   runs under the project's tests as it does in production.
 * The IPC channel uses 'advanced' serialization (the structured clone of postMessage), so rows
 * keep their Dates, bigints, Uint8Arrays, arrays and JSON objects.
 *
 * The child takes a LOCK on the directory before opening it (two PGlite instances on one
 * directory would corrupt it) and exits when its parent goes away, even by kill -9, so it never
 * lingers holding the database; a gateway restarted at once waits for it. If the child dies,
 * every query fails with MetadataUnavailableError, as it would for an unreachable PostgreSQL.
 *
 * PGlite has one connection and queues queries, so advisory locks would be re-entrant and
 * exclude nobody: locks are in-process instead, which is enough because only one process can
 * open a data directory.
 */
class PgliteBackend implements SqlBackend {
  readonly kind = 'pglite';
  private readonly locks = new NamedLocks();
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;
  private nextId = 1;
  private stopped: Error | undefined;

  constructor(
    private readonly child: ChildProcess,
    gone: Promise<string>,
    private readonly dataDir: string,
  ) {
    child.on('message', (reply: Reply) => {
      const request = this.pending.get(reply.id);
      if (!request) return;
      this.pending.delete(reply.id);
      if ('error' in reply) request.reject(rebuild(reply.error));
      else request.resolve(reply.rows);
    });
    child.on('error', (error) => this.stop(`is unreachable: ${error.message}`));
    this.exited = gone.then((how) => this.stop(`is not running: its process (pid ${child.pid}) ${how}; restart the gateway to reopen it`));
  }

  private stop(why: string): void {
    this.stopped ??= new MetadataUnavailableError(`embedded metadata database in ${this.dataDir} ${why}`);
    for (const request of this.pending.values()) request.reject(this.stopped);
    this.pending.clear();
  }

  private send(op: 'query' | 'exec' | 'close', sql = '', params?: unknown[]): Promise<unknown[]> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, sql, params }, (error) => {
        if (!error || !this.pending.delete(id)) return;
        reject(new MetadataUnavailableError(`embedded metadata database in ${this.dataDir} is unreachable: ${error.message}`, { cause: error }));
      });
    });
  }

  async query<Row>(sql: string, params?: unknown[]): Promise<Row[]> {
    return (await this.send('query', sql, params)) as Row[];
  }

  async exec(sql: string): Promise<void> {
    await this.send('exec', sql);
  }

  withLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T | undefined> {
    return this.locks.run(name, mode, fn);
  }

  async ping(timeoutMs: number): Promise<void> {
    await withDeadline(this.query('SELECT 1'), timeoutMs, () => new MetadataUnavailableError(`embedded metadata database did not answer within ${timeoutMs} ms`));
  }

  /** Flushes and closes the database, then waits for the child to exit (it releases its lock). */
  async close(): Promise<void> {
    try {
      if (!this.stopped) await this.send('close');
    } finally {
      this.stopped ??= new MetadataUnavailableError(`embedded metadata database in ${this.dataDir} is closed`);
      if (this.child.connected) this.child.disconnect(); // it exits when its channel goes away
      const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_DEADLINE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/** Start the child and wait until PGlite is open (first open of a data dir runs initdb, seconds). */
function startChild(dataDir: string, schema: string | undefined, lockWaitMs: number): Promise<[ChildProcess, Promise<string>]> {
  const child = fork(CHILD, [dataDir, schema ?? '', String(lockWaitMs)], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The gateway's own flags (a TypeScript loader, --inspect, a profiler) are not the child's.
    execArgv: [],
  });
  const gone = whenGone(child);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      child.off('message', onStartup).off('error', settle);
      if (!error) return resolve([child, gone]);
      if (child.connected) child.disconnect(); // it exits (releasing the lock) when its channel goes away
      reject(new Error(`cannot open the embedded metadata database in ${dataDir}: ${error.message}`, { cause: error }));
    };
    const onStartup = (startup: Startup) => settle('failed' in startup ? rebuild(startup.failed) : undefined);
    child.on('message', onStartup).on('error', settle);
    void gone.then((how) => settle(new Error(`its process ${how}`)));
  });
}

export interface PgliteOptions {
  /** How long to wait for another process to let go of the directory (default 10 s). */
  lockWaitMs?: number;
}

export async function openPgliteBackend(dataDir: string, schema?: string, options: PgliteOptions = {}): Promise<SqlBackend> {
  const [child, gone] = await startChild(dataDir, schema, options.lockWaitMs ?? LOCK_WAIT_MS);
  return new PgliteBackend(child, gone, dataDir);
}
