/**
 * The tiny query interface both backends (PostgreSQL via `pg`, embedded PGlite) implement, so
 * every query of the metadata store is written once. There is no multi-statement transaction
 * API on purpose: every write of the store is one statement (data-modifying CTEs), atomic by
 * itself and one round trip, which matters most on PGlite.
 */
export type LockMode = 'wait' | 'try';

export interface QueryOptions {
  /**
   * A statement run on every upload or lookup, planned once under this name (a plain SQL
   * identifier, one per statement text) and then only executed: PGlite plans every unnamed
   * statement again, and for the completion's statement of four CTEs that was ~80 % of its CPU
   * (2.1 of 2.6 ms). Its parameters must all be strings. PostgreSQL runs it unnamed, as before.
   */
  prepareAs?: string;
}

export interface SqlBackend {
  readonly kind: 'postgres' | 'pglite';
  /** One statement with $1.. parameters; returns its rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Row[]>;
  /**
   * Several statements without parameters, sent as one simple-protocol message, which both
   * backends run as a single implicit transaction: all of them apply, or none.
   */
  exec(sql: string): Promise<void>;
  /**
   * Run fn holding a lock that excludes every other holder of the same name, across
   * processes where the backend allows several. 'wait' blocks until it is free; 'try' returns
   * undefined at once, without running fn, when someone else holds it.
   */
  withLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T | undefined>;
  /** select 1 within timeoutMs, else throws MetadataUnavailableError. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
