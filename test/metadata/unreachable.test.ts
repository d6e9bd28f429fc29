/**
 * A PostgreSQL that is absent, silent, or goes away under a running store: errors must say so
 * plainly, ping must give up quickly, and the process must survive.
 */
import net from 'node:net';
import { MetadataUnavailableError, openMetadataStore } from '../../src/metadata';
import { openPostgresBackend } from '../../src/metadata/postgres-backend';
import { SqlMetadataStore } from '../../src/metadata/sql-store';
import { createTestSchema } from '../helpers/metadata';
import { freePort } from '../helpers/ports';

/** A TCP server on loopback that passes connections to `target` while up, and cuts them while down. */
async function flakyProxy(target?: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let up = true;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (!up) return void client.destroy();
    if (!target) return; // silent: accept and never answer
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    down() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      up = true;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('opening a store on a PostgreSQL that is not there fails with a clear error, password hidden', async () => {
  const url = `postgres://ringstore:s3cret@127.0.0.1:${await freePort()}/ringstore`;
  const failure = openMetadataStore({ databaseUrl: url, dataDir: '/nonexistent' });
  await expect(failure).rejects.toThrow(MetadataUnavailableError);
  await expect(failure).rejects.toThrow(/metadata database postgres:\/\/ringstore:\*\*\*@127\.0\.0\.1:\d+\/ringstore is unreachable: .*ECONNREFUSED/);
});

test('a malformed DATABASE_URL is refused before anything connects', async () => {
  await expect(openMetadataStore({ databaseUrl: 'mysql://localhost/db', dataDir: '/nonexistent' })).rejects.toThrow(
    'DATABASE_URL must start with postgres://',
  );
});

test('ping gives up on a database that accepts connections but never answers', async () => {
  const silent = await flakyProxy();
  const store = new SqlMetadataStore(openPostgresBackend(`postgres://postgres@127.0.0.1:${silent.port}/test`));
  try {
    await expect(store.ping()).rejects.toThrow(/did not answer within 2000 ms/);
  } finally {
    await silent.close();
    await store.close();
  }
});

const databaseUrl = process.env.TEST_DATABASE_URL;
(databaseUrl ? test : test.skip)('a store survives its PostgreSQL going away and works again once it is back', async () => {
  const real = new URL(databaseUrl!);
  const proxy = await flakyProxy({ host: real.hostname, port: Number(real.port || 5432) });
  const { schema, drop } = await createTestSchema(databaseUrl!);
  const viaProxy = new URL(databaseUrl!);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const store = await openMetadataStore({ databaseUrl: viaProxy.toString(), dataDir: '/nonexistent', schema });
  try {
    await store.upsertServer({ id: 's1', address: '127.0.0.1:50051' });

    proxy.down(); // idle pooled connections drop: the process must not crash
    await expect(store.ping()).rejects.toThrow(MetadataUnavailableError);
    await expect(store.listServers()).rejects.toThrow(/is unreachable/);

    proxy.up();
    await store.ping();
    expect((await store.listServers()).map((s) => s.id)).toEqual(['s1']);
  } finally {
    await store.close();
    await proxy.close();
    await drop();
  }
});
