import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openMetadataStore } from '../../src/metadata';
import type { MetadataStore } from '../../src/metadata/types';

export interface TestStore {
  name: 'pglite' | 'postgres';
  /** The open store (replaced by reopen). */
  store: MetadataStore;
  /** Close the store and open it again on the same data, as a restarted gateway would. */
  reopen(): Promise<MetadataStore>;
  /** Close the store and remove everything it made (temp dir, or schema). */
  cleanup(): Promise<void>;
}

/** A TestStore over whatever `open` opens, removing its data with `remove` at cleanup. */
async function testStore(
  name: TestStore['name'],
  open: () => Promise<MetadataStore>,
  remove: () => Promise<void>,
): Promise<TestStore> {
  const opened: TestStore = {
    name,
    store: await open().catch(async (error) => {
      await remove();
      throw error;
    }),
    async reopen() {
      await opened.store.close();
      opened.store = await open();
      return opened.store;
    },
    async cleanup() {
      await opened.store.close();
      await remove();
    },
  };
  return opened;
}

/** A fresh PGlite store in its own temp dir. */
export async function openTestPglite(): Promise<TestStore> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-metadata-'));
  return testStore(
    'pglite',
    () => openMetadataStore({ dataDir }),
    () => rm(dataDir, { recursive: true, force: true }),
  );
}

export interface TestSchema {
  schema: string;
  /** TEST_DATABASE_URL with search_path set to the schema, for gateways started as child processes. */
  databaseUrl: string;
  drop(): Promise<void>;
}

async function onDatabase<T>(databaseUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty schema on the given PostgreSQL, so parallel suites and runs never collide. */
export async function createTestSchema(databaseUrl: string): Promise<TestSchema> {
  const schema = `ringstore_test_${randomBytes(6).toString('hex')}`;
  await onDatabase(databaseUrl, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    schema,
    databaseUrl: url.toString(),
    drop: () => onDatabase(databaseUrl, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`)).then(() => undefined),
  };
}

/** A fresh PostgreSQL store in its own schema of TEST_DATABASE_URL. */
export async function openTestPostgres(databaseUrl: string): Promise<TestStore> {
  const { schema, drop } = await createTestSchema(databaseUrl);
  const dataDir = os.tmpdir(); // unused by PostgreSQL
  return testStore('postgres', () => openMetadataStore({ databaseUrl, dataDir, schema }), drop);
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set (CI). Call cleanup() on each. */
export async function openTestStores(): Promise<TestStore[]> {
  const stores = [await openTestPglite()];
  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (databaseUrl) stores.push(await openTestPostgres(databaseUrl));
  return stores;
}
