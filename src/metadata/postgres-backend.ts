import { Pool, type PoolClient } from 'pg';
import { createLogger } from '../util/logger';
import { MetadataUnavailableError } from './errors';
import { withDeadline } from '../util/deadline';
import type { LockMode, SqlBackend } from './sql-backend';

const log = createLogger('metadata');

/** Error codes meaning "the database is not there", as opposed to a bad query. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
  '57P01', '57P02', '57P03', // server shutting down / not yet accepting connections
  '3D000', // database does not exist
  '28000', '28P01', // authentication refused
]);

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node's happy-eyeballs connect (::1 and 127.0.0.1) reports an AggregateError with no message.
    return error.errors.map(describe).join('; ');
  }
  const { message, code } = error as { message?: string; code?: string };
  return message || code || String(error);
}

function isUnreachable(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  if (error instanceof AggregateError) return error.errors.some(isUnreachable);
  if (code && UNREACHABLE_CODES.has(code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connection is closed/i.test(message ?? '');
}

/** The URL as it may appear in logs and errors: without its password. */
function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'the configured DATABASE_URL';
  }
}

class PostgresBackend implements SqlBackend {
  readonly kind = 'postgres';
  private readonly pool: Pool;
  private readonly where: string;

  constructor(databaseUrl: string, schema: string | undefined) {
    this.where = redactUrl(databaseUrl);
    this.pool = new Pool({
      connectionString: databaseUrl,
      // Unset: the server's search_path, or the URL's own ?options=-c search_path=...
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
      max: 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its server (restart, network) must not take the process down;
    // the next query reports the problem instead.
    this.pool.on('error', (error) => log.warn('idle PostgreSQL connection lost', { error: describe(error) }));
  }

  private explain(error: unknown): unknown {
    if (error instanceof MetadataUnavailableError || !isUnreachable(error)) return error;
    return new MetadataUnavailableError(`metadata database ${this.where} is unreachable: ${describe(error)}`, { cause: error });
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Run fn on one dedicated connection; a connection that failed is discarded, not reused. */
  private async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    // A checked-out client idle while a long job runs emits 'error' when its connection drops;
    // unheard, that would crash the process. The lock it held died with the session anyway.
    const onError = (error: Error) => {
      broken = error;
      log.warn('PostgreSQL connection lost while held', { error: describe(error) });
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (error) {
      if (isUnreachable(error)) broken ??= error as Error;
      throw this.explain(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async query<Row>(sql: string, params?: unknown[]): Promise<Row[]> {
    try {
      const result = await this.pool.query(sql, params);
      return result.rows as Row[];
    } catch (error) {
      throw this.explain(error);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  /**
   * Session-level advisory lock on a dedicated connection, so it lives exactly as long as fn.
   * Advisory locks are database-wide: the key includes the schema so stores in different
   * schemas of one database (parallel test runs) never exclude each other.
   */
  withLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T | undefined> {
    const key = `hashtextextended('ringstore:' || current_schema() || ':' || $1, 0)`;
    return this.withClient(async (client) => {
      if (mode === 'wait') {
        await client.query(`SELECT pg_advisory_lock(${key})`, [name]);
      } else {
        const { rows } = await client.query(`SELECT pg_try_advisory_lock(${key}) AS locked`, [name]);
        if (!rows[0].locked) return undefined;
      }
      try {
        return await fn();
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${key})`, [name]);
      }
    });
  }

  async ping(timeoutMs: number): Promise<void> {
    await withDeadline(this.query('SELECT 1'), timeoutMs, () => new MetadataUnavailableError(`metadata database ${this.where} did not answer within ${timeoutMs} ms`));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** schema, when given, must already exist (creating it here would race between gateways). */
export function openPostgresBackend(databaseUrl: string, schema?: string): SqlBackend {
  return new PostgresBackend(databaseUrl, schema);
}
