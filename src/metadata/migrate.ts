import { createLogger } from '../util/logger';
import type { Migration } from './migrations';
import type { SqlBackend } from './sql-backend';

const log = createLogger('metadata');

/**
 * Apply the migrations not yet recorded in schema_migrations, each atomically,
 * under a lock so gateways starting together never race on the same DDL.
 */
export async function runMigrations(backend: SqlBackend, migrations: readonly Migration[]): Promise<void> {
  await backend.withLock('migrate', 'wait', async () => {
    await backend.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const rows = await backend.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      // One exec, so the DDL and its record commit together (values are our own constants).
      const name = migration.name.replaceAll("'", "''");
      await backend.exec(`${migration.sql};
        INSERT INTO schema_migrations (version, name) VALUES (${Number(migration.version)}, '${name}')`);
      log.info('metadata schema migrated', {
        kind: backend.kind,
        from: Math.max(0, ...applied),
        to: migration.version,
        why: migration.name,
      });
      applied.add(migration.version);
    }
  });
}
