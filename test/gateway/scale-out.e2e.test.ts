import { clusterForTests } from '../helpers/cluster';
import { download, testData, uploadRaw } from '../helpers/files';
import { waitFor } from '../helpers/wait';

const postgresUrl = process.env.TEST_DATABASE_URL;
// Several gateways share metadata only through PostgreSQL; CI always sets TEST_DATABASE_URL.
const describeWithPostgres = postgresUrl ? describe : describe.skip;

describeWithPostgres('two gateways on one PostgreSQL', () => {
  const cluster = clusterForTests({ storageServers: 3, postgresUrl });

  it('serves through one gateway what the other stored, and shares joined servers', async () => {
    const second = await cluster().addGateway();
    await cluster().waitForReady(3, second);
    const data = testData(700_000);
    const up = await uploadRaw(cluster().gateway.url, data, 'shared.bin');
    const got = await download(second.url, up.file_id);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);

    // A server joining through the first gateway is picked up by the second at its ring refresh.
    const added = await cluster().addStorage();
    await cluster().waitForReady(4, second);
    const servers = (await (await fetch(`${second.url}/admin/servers`)).json()) as { servers: Array<{ server_id: string; in_ring: boolean }> };
    expect(servers.servers.find((s) => s.server_id === added.serverId)?.in_ring).toBe(true);

    // Deleted through the second: gone for the first once its cache entry expires.
    expect((await fetch(`${second.url}/files/${up.file_id}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(async () => (await fetch(`${cluster().gateway.url}/files/${up.file_id}/metadata`)).status === 404, {
      timeoutMs: 15_000,
      what: 'the delete to be visible through the first gateway',
    });
  });
});
