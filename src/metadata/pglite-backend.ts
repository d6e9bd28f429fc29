import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createLogger } from '../util/logger';
import { withDeadline } from '../util/deadline';
import { MALLOC_ENV } from '../util/malloc-env';
import { MetadataUnavailableError } from './errors';
import { NamedLocks } from './named-locks';
import { PGLITE_NODE_FLAGS } from './pglite-settings.cjs';
import type { LockMode, QueryOptions, SqlBackend } from './sql-backend';

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
/** A child that died is replaced after this, doubling while reopening fails, up to the max. */
const REOPEN_BACKOFF_BASE_MS = 500;
const REOPEN_BACKOFF_MAX_MS = 30_000;

const log = createLogger('metadata');
/** A prepared statement's name: the child writes it into PREPARE and EXECUTE as it is. */
const PLAIN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

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
 * - Memory. PGlite is PostgreSQL compiled to WebAssembly, and its wasm memory (~300 MB resident
 *   once open; ~800 MB while a new database is created, in a process that then exits) would
 *   count against the gateway; in a child, the gateway stays a small Node process.
 * - Latency. The wasm runs every query synchronously; on the gateway's event loop that would
 *   stall its byte streams. (A worker thread avoided that too, but not the memory.)
 * - PGlite loads itself with import(), which jest's module sandbox refuses; in a plain child it
 *   runs under the project's tests as it does in production.
 * The IPC channel uses 'advanced' serialization (the structured clone of postMessage), so rows
 * keep their Dates, bigints, Uint8Arrays, arrays and JSON objects.
 *
 * The child takes a LOCK on the directory before opening it (two PGlite instances on one
 * directory would corrupt it) and exits when its parent goes away, even by kill -9, so it never
 * lingers holding the database; a gateway restarted at once waits for it. If the child dies (a
 * crash, the kernel's OOM killer), queries fail with MetadataUnavailableError, as they would
 * for an unreachable PostgreSQL, while a new child is started with backoff until one opens.
 *
 * PGlite has one connection and queues queries, so advisory locks would be re-entrant and
 * exclude nobody: locks are in-process instead, which is enough because only one process can
 * open a data directory.
 */
class PgliteBackend implements SqlBackend {
  readonly kind = 'pglite';
  private readonly locks = new NamedLocks();
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  /** The running child; undefined while it is being replaced and once closed. */
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Why queries fail right now (no child), for their error. */
  private unavailable: MetadataUnavailableError | undefined;
  private closed = false;
  private reopenDelayMs = REOPEN_BACKOFF_BASE_MS;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopening: Promise<void> | undefined;
  /**
   * Statements the running child has PREPAREd (a query by that name succeeded): their text is
   * not sent again, only their name and parameters. A new child starts with none.
   */
  private preparedInChild = new Set<string>();

  constructor(
    started: StartedChild,
    private readonly dataDir: string,
    private readonly startOptions: { schema: string | undefined; lockWaitMs: number },
  ) {
    this.adopt(started);
  }

  private adopt({ child, gone }: StartedChild): void {
    this.child = child;
    this.preparedInChild = new Set();
    this.unavailable = undefined;
    child.on('message', (reply: Reply) => {
      const request = this.pending.get(reply.id);
      if (!request) return;
      this.pending.delete(reply.id);
      if ('error' in reply) request.reject(rebuild(reply.error));
      else request.resolve(reply.rows);
    });
    child.on('error', (error) => this.failPending(this.error(`is unreachable: ${error.message}`)));
    this.exited = gone.then((how) => this.childExited(child, how));
  }

  private error(why: string, cause?: unknown): MetadataUnavailableError {
    return new MetadataUnavailableError(`embedded metadata database in ${this.dataDir} ${why}`, cause === undefined ? undefined : { cause });
  }

  private failPending(error: Error): void {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }

  private childExited(child: ChildProcess, how: string): void {
    if (child !== this.child) return;
    this.child = undefined;
    if (this.closed) {
      this.failPending(this.error('is closed'));
      return;
    }
    this.unavailable = this.error(`is not running: its process (pid ${child.pid}) ${how}; reopening it`);
    this.failPending(this.unavailable);
    log.error(`${this.unavailable.message} in ${this.reopenDelayMs} ms`);
    this.scheduleReopen();
  }

  /** Starts a new child after the current backoff; doubles the backoff while opening fails. */
  private scheduleReopen(): void {
    this.reopenTimer = setTimeout(() => {
      this.reopening = startChild(this.dataDir, this.startOptions.schema, this.startOptions.lockWaitMs).then(
        (started) => {
          this.reopening = undefined;
          if (this.closed) return void started.child.disconnect(); // it exits, releasing the lock
          this.adopt(started);
          this.reopenDelayMs = REOPEN_BACKOFF_BASE_MS;
          log.info(`Embedded metadata database in ${this.dataDir} reopened (pid ${started.child.pid})`);
        },
        (error: unknown) => {
          this.reopening = undefined;
          if (this.closed) return;
          this.reopenDelayMs = Math.min(this.reopenDelayMs * 2, REOPEN_BACKOFF_MAX_MS);
          log.error(`${(error as Error).message}; trying again in ${this.reopenDelayMs} ms`);
          this.scheduleReopen();
        },
      );
    }, this.reopenDelayMs);
  }

  private send(op: 'query' | 'exec' | 'close', sql = '', params?: unknown[], prepareAs?: string): Promise<unknown[]> {
    const child = this.child;
    if (!child) return Promise.reject(this.unavailable ?? this.error('is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, op, sql, params, prepareAs }, (error) => {
        if (!error || !this.pending.delete(id)) return;
        reject(this.error(`is unreachable: ${error.message}`, error));
      });
    });
  }

  async query<Row>(sql: string, params?: unknown[], options: QueryOptions = {}): Promise<Row[]> {
    const { prepareAs } = options;
    if (prepareAs !== undefined && (!PLAIN_NAME.test(prepareAs) || !params?.every((param) => typeof param === 'string'))) {
      throw new TypeError(`statement "${prepareAs}": a prepared statement needs a plain lower-case name and text parameters`);
    }
    if (prepareAs === undefined) return (await this.send('query', sql, params)) as Row[];
    // The set of the child this goes to: a reply from it is never counted for a later one.
    const prepared = this.preparedInChild;
    const rows = await this.send('query', prepared.has(prepareAs) ? '' : sql, params, prepareAs);
    prepared.add(prepareAs);
    return rows as Row[];
  }

  async exec(sql: string): Promise<void> {
    await this.send('exec', sql);
  }

  withLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T | undefined> {
    return this.locks.run(name, mode, fn);
  }

  async ping(timeoutMs: number): Promise<void> {
    await withDeadline(this.query('SELECT 1'), timeoutMs, () => this.error(`did not answer within ${timeoutMs} ms`));
  }

  /** Flushes and closes the database, then waits for the child to exit (it releases its lock). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reopenTimer);
    await this.reopening; // a child opened meanwhile is let go of at once
    const child = this.child;
    if (!child) return;
    try {
      await this.send('close');
    } finally {
      if (child.connected) child.disconnect(); // it exits when its channel goes away
      const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

interface StartedChild {
  child: ChildProcess;
  /** Resolves with how it ended once it has exited (see whenGone). */
  gone: Promise<string>;
}

/** Start the child and wait until PGlite is open (first open of a data dir runs initdb, seconds). */
function startChild(dataDir: string, schema: string | undefined, lockWaitMs: number): Promise<StartedChild> {
  const child = fork(CHILD, [dataDir, schema ?? '', String(lockWaitMs)], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The gateway's own flags (a TypeScript loader, --inspect, a profiler) are not the child's.
    execArgv: PGLITE_NODE_FLAGS,
    // PGLITE_SETTINGS among it. Given explicitly: under jest, process.env is the test file's own.
    env: { ...MALLOC_ENV, ...process.env },
  });
  const gone = whenGone(child);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      child.off('message', onStartup).off('error', settle);
      if (!error) return resolve({ child, gone });
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
  const lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  return new PgliteBackend(await startChild(dataDir, schema, lockWaitMs), dataDir, { schema, lockWaitMs });
}
