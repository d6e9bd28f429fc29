import { Client } from 'pg';
import { openMetadataStore } from '../../src/metadata';
import { migrations } from '../../src/metadata/migrations';
import { metadataContract } from './store-contract';
import { newFile } from './store-records';
import { createTestSchema, openTestPostgres } from '../helpers/metadata';

const databaseUrl = process.env.TEST_DATABASE_URL;
// CI sets TEST_DATABASE_URL; without it only the embedded backend is tested.
const describeWithPostgres = databaseUrl ? describe : describe.skip;

describeWithPostgres('PostgreSQL metadata store', () => {
  metadataContract(() => openTestPostgres(databaseUrl!));
});

describeWithPostgres('several gateways on one PostgreSQL', () => {
  test('migrate together, share data and exclude each other from jobs', async () => {
    const { schema, drop } = await createTestSchema(databaseUrl!);
    const open = () => openMetadataStore({ databaseUrl: databaseUrl!, dataDir: '/nonexistent', schema });
    const stores = await Promise.all([open(), open(), open()]);
    try {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      const applied = await client.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`).finally(() => client.end());
      expect(applied.rows.map((row) => row.version)).toEqual(migrations.map((m) => m.version));

      const [one, two] = stores;
      await one.upsertServer({ id: 'shared-server', address: '127.0.0.1:50051' });
      const file = await one.completeUpload(newFile([['shared-server']]));
      expect(await two.getFile(file.fileId)).toEqual(file);
      expect((await two.listServers()).map((s) => s.id)).toEqual(['shared-server']);

      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const first = one.withJobLock('cleanup', async () => {
        entered();
        await held;
        return 'one';
      });
      await inside;
      expect(await two.withJobLock('cleanup', async () => 'two')).toBeUndefined();
      release();
      expect(await first).toBe('one');
      expect(await two.withJobLock('cleanup', async () => 'two')).toBe('two');
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await drop();
    }
  });
});
