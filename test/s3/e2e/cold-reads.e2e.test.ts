/**
 * Small GetObjects that miss the small-file cache: the object's row and chunks come from one
 * batched query, or from memory (the row where the gateway is its database's only writer, the
 * chunk list by file id), and never serve a replaced or deleted object, also when another
 * gateway on the same PostgreSQL replaced it.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { s3Client, s3ErrorCode, startS3Cluster } from '../s3-cluster';

jest.setTimeout(240_000);

const SIZE = 4096;
/** Room for two 4 KiB bodies: reading three keys in turn, every read misses it. */
const SMALL_FILE_CACHE_BYTES = String(2 * SIZE);

async function get(s3: S3Client, key: string): Promise<Buffer> {
  const reply = await s3.send(new GetObjectCommand({ Bucket: 'cold', Key: key }));
  return Buffer.from(await reply.Body!.transformToByteArray());
}

describe.each(METADATA_BACKENDS)('small S3 GETs that miss the small-file cache (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let s3: S3Client;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 3, postgresUrl, env: { SMALL_FILE_CACHE_BYTES } });
    s3 = s3Client(cluster);
    await s3.send(new CreateBucketCommand({ Bucket: 'cold' }));
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  it('serves each key its own bytes, concurrently and after an overwrite or delete', async () => {
    const bodies = new Map(['a', 'b', 'c', 'd', 'e'].map((key) => [key, randomBytes(SIZE)]));
    for (const [key, body] of bodies) await s3.send(new PutObjectCommand({ Bucket: 'cold', Key: key, Body: body }));
    for (let round = 0; round < 3; round++) {
      const reads = [...bodies.keys()].flatMap((key) => [key, key]).map(async (key) => ({ key, got: await get(s3, key) }));
      for (const { key, got } of await Promise.all(reads)) expect(got.equals(bodies.get(key)!)).toBe(true);
    }

    const replaced = randomBytes(SIZE); // same size, other bytes: only the key's new file tells them apart
    await s3.send(new PutObjectCommand({ Bucket: 'cold', Key: 'b', Body: replaced }));
    for (const key of ['a', 'c', 'd', 'e']) expect((await get(s3, key)).equals(bodies.get(key)!)).toBe(true); // b's body leaves the cache
    expect((await get(s3, 'b')).equals(replaced)).toBe(true);

    await s3.send(new DeleteObjectCommand({ Bucket: 'cold', Key: 'c' }));
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'cold', Key: 'c' })))).toBe('NoSuchKey');
  });

  if (postgresUrl) {
    it('serves at once what another gateway on the same database overwrote or deleted', async () => {
      const second = await cluster.addGateway();
      await cluster.waitForReady(3, second);
      const other = s3Client(cluster, { endpoint: second.s3Url });
      try {
        const first = randomBytes(SIZE);
        await other.send(new PutObjectCommand({ Bucket: 'cold', Key: 'shared', Body: first }));
        for (let i = 0; i < 2; i++) expect((await get(s3, 'shared')).equals(first)).toBe(true);
        const replaced = randomBytes(SIZE);
        await other.send(new PutObjectCommand({ Bucket: 'cold', Key: 'shared', Body: replaced }));
        expect((await get(s3, 'shared')).equals(replaced)).toBe(true);
        await other.send(new DeleteObjectCommand({ Bucket: 'cold', Key: 'shared' }));
        expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'cold', Key: 'shared' })))).toBe('NoSuchKey');
      } finally {
        other.destroy();
      }
    });
  }
});
