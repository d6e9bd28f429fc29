import path from 'node:path';
import { openPgliteBackend } from './pglite-backend';
import { SqlMetadataStore } from './sql-store';
import type { MetadataStore } from './types';

export { MetadataUnavailableError } from './errors';
export type * from './types';

export interface MetadataStoreOptions {
  /** postgres://... selects PostgreSQL; unset selects embedded PGlite under dataDir. */
  databaseUrl?: string;
  /** The node's DATA_DIR; PGlite keeps its files in <dataDir>/metadata. */
  dataDir: string;
  /**
   * Schema for the tables (default: the connection's search_path, normally public). Tests use
   * a fresh one per run so runs never collide; on PostgreSQL it must already exist.
   */
  schema?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The PostgreSQL driver is loaded only when used: it is ~15 MB of a gateway's memory. */
function postgres(): typeof import('./postgres-backend') {
  return require('./postgres-backend') as typeof import('./postgres-backend');
}

/** Open the configured backend and bring its schema up to date before handing it out. */
export async function openMetadataStore(options: MetadataStoreOptions): Promise<MetadataStore> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`metadata schema "${schema}" is not a plain lower-case SQL identifier`);
  }
  const { databaseUrl } = options;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const backend = databaseUrl
    ? postgres().openPostgresBackend(databaseUrl, schema)
    : await openPgliteBackend(path.join(options.dataDir, 'metadata'), schema);
  const store = new SqlMetadataStore(backend);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
