import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { withDeadline } from './deadline';
import { MetadataUnavailableError } from './errors';
import { NamedLocks } from './named-locks';
import type { LockMode, SqlBackend } from './sql-backend';

type Reply = { id: number; rows: unknown[] } | { id: number; error: WorkerError };
type Startup = { ready: true } | { failed: WorkerError };
interface WorkerError {
  message: string;
  code?: string;
  detail?: string;
  constraint?: string;
  table?: string;
}

/** A database error from the worker, with the fields callers branch on (code, constraint). */
function rebuild(error: WorkerError): Error {
  return Object.assign(new Error(error.message), error);
}

/**
 * Embedded PostgreSQL (PGlite) in a worker thread. Why a thread: PGlite's wasm runs every
 * query synchronously, which would stall the gateway's byte streams on the main thread; and
 * PGlite loads itself with import(), which jest's module sandbox refuses, so in-process it
 * could not run under the project's tests. PGlite has one connection and queues queries, so
 * advisory locks would be re-entrant and exclude nobody: locks are in-process instead, which
 * is enough because only one process can open a data directory.
 */
class PgliteBackend implements SqlBackend {
  readonly kind = 'pglite';
  private readonly locks = new NamedLocks();
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private stopped: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const request = this.pending.get(reply.id);
      if (!request) return;
      this.pending.delete(reply.id);
      if ('error' in reply) request.reject(rebuild(reply.error));
      else request.resolve(reply.rows);
    });
    worker.on('error', (error) => this.stop(`failed: ${error.message}`));
    worker.on('exit', (code) => this.stop(`stopped (exit code ${code})`));
  }

  private stop(why: string): void {
    this.stopped ??= new MetadataUnavailableError(`embedded metadata database ${why}`);
    for (const request of this.pending.values()) request.reject(this.stopped);
    this.pending.clear();
  }

  private send(op: 'query' | 'exec' | 'close', sql = '', params?: unknown[]): Promise<unknown[]> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, sql, params });
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

  async close(): Promise<void> {
    if (this.stopped) return;
    await this.send('close'); // PGlite flushes to disk before answering
    await this.worker.terminate();
  }
}

/** Start the worker and wait until PGlite is open (first open of a data dir runs initdb, seconds). */
function startWorker(dataDir: string, schema: string | undefined): Promise<Worker> {
  const worker = new Worker(path.join(__dirname, 'pglite-worker.cjs'), { workerData: { dataDir, schema } });
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      worker.off('message', onStartup).off('error', settle).off('exit', onExit);
      if (!error) return resolve(worker);
      void worker.terminate();
      reject(new Error(`cannot open the embedded metadata database in ${dataDir}: ${error.message}`, { cause: error }));
    };
    const onStartup = (startup: Startup) => settle('failed' in startup ? rebuild(startup.failed) : undefined);
    const onExit = (code: number) => settle(new Error(`its worker exited with code ${code}`));
    worker.on('message', onStartup).on('error', settle).on('exit', onExit);
  });
}

export async function openPgliteBackend(dataDir: string, schema?: string): Promise<SqlBackend> {
  return new PgliteBackend(await startWorker(dataDir, schema));
}
