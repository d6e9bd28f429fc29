/**
 * With no S3 keys configured, the first start makes a random pair, keeps it under the data
 * directory readable only by its owner, prints it once to the terminal (never to the log),
 * and uses the same pair after a restart. A taken S3_PORT stops the start with one line.
 */
import { stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { startCluster, type Cluster } from '../../helpers/cluster';
import { freePort } from '../../helpers/ports';
import { RingstoreProcess } from '../../helpers/process';
import { s3Client } from '../s3-cluster';

jest.setTimeout(180_000);

function printedKeys(proc: RingstoreProcess): { accessKeyId: string; secretAccessKey: string } | undefined {
  const text = proc.lines.map((l) => String(l.message ?? '')).join('\n');
  const accessKeyId = /Access key: (\S+)/.exec(text)?.[1];
  const secretAccessKey = /Secret key: (\S+)/.exec(text)?.[1];
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

describe('S3 keys made on first start', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ storageServers: 1 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('are printed once, kept with mode 0600, never logged, and still valid after a restart', async () => {
    const keys = printedKeys(cluster.gateway.proc);
    expect(keys).toBeDefined();
    const file = path.join(cluster.gateway.dataDir, 's3-credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const logged = cluster.gateway.proc.lines.filter((line) => line.level !== undefined);
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged)).not.toContain(keys!.secretAccessKey);

    const s3 = s3Client(cluster, { credentials: keys });
    await s3.send(new CreateBucketCommand({ Bucket: 'first-start' }));
    await cluster.restartGateway();
    expect(printedKeys(cluster.gateway.proc)).toBeUndefined();
    await s3.send(new HeadBucketCommand({ Bucket: 'first-start' }));
    s3.destroy();
  });
});

describe('S3_PORT taken', () => {
  it('stops the gateway with one line naming S3_PORT', async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-s3-port-'));
    try {
      const proc = new RingstoreProcess(['gateway', '--port', '0', '--data', dataDir], { S3_PORT: String(port) });
      const { code } = await proc.exited();
      expect(code).not.toBe(0);
      expect(proc.lines.map((l) => l.message).join('\n')).toContain(`port ${port} on 127.0.0.1 is already in use (by another program, or a ringstore already running): stop it, or choose another port for the S3 endpoint with S3_PORT=N`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
