/**
 * Several users of one S3 endpoint (S3_KEYS_FILE), with @aws-sdk/client-s3 against a real
 * cluster: a key uses the buckets it created and those its line grants ('*': every bucket);
 * anything else is AccessDenied, whatever the operation, and ListBuckets shows only its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { METADATA_BACKENDS, startCluster, type Cluster } from '../../helpers/cluster';
import { s3Client, s3ErrorCode, s3ErrorStatus } from '../s3-cluster';

jest.setTimeout(240_000);

const USERS = {
  alice: { accessKeyId: 'alice', secretAccessKey: 'alice-secret-0123456789' },
  bob: { accessKeyId: 'bob', secretAccessKey: 'bob-secret-0123456789' },
  ops: { accessKeyId: 'ops', secretAccessKey: 'ops-secret-0123456789' },
};

describe.each(METADATA_BACKENDS)('S3 bucket access for several users (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let dir: string;
  let alice: S3Client;
  let bob: S3Client;
  let ops: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-s3-users-'));
    const keysFile = path.join(dir, 'keys');
    await writeFile(keysFile, [
      '# bob may also use alice\'s "shared" bucket; ops may use every bucket',
      `alice ${USERS.alice.secretAccessKey}`,
      `bob ${USERS.bob.secretAccessKey} shared`,
      `ops ${USERS.ops.secretAccessKey} *`,
    ].join('\n'));
    cluster = await startCluster({ storageServers: 2, postgresUrl, env: { S3_KEYS_FILE: keysFile } });
    alice = s3Client(cluster, { credentials: USERS.alice });
    bob = s3Client(cluster, { credentials: USERS.bob });
    ops = s3Client(cluster, { credentials: USERS.ops });
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-private' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt', Body: 'dear diary' }));
    await alice.send(new CreateBucketCommand({ Bucket: 'shared' }));
    await bob.send(new CreateBucketCommand({ Bucket: 'bob-own' }));
  });

  afterAll(async () => {
    for (const client of [alice, bob, ops]) client?.destroy();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const bucketNames = async (client: S3Client) => ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name).sort();

  it('lists to each key only the buckets it may use', async () => {
    expect(await bucketNames(alice)).toEqual(['alice-private', 'shared']);
    expect(await bucketNames(bob)).toEqual(['bob-own', 'shared']);
    expect(await bucketNames(ops)).toEqual(['alice-private', 'bob-own', 'shared']);
  });

  it('answers AccessDenied (403) to every operation on another key\'s bucket, and changes nothing', async () => {
    const denied = async (call: Promise<unknown>) => [await s3ErrorCode(call), await s3ErrorStatus(call)];
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['GetObject', () => bob.send(new GetObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt' }))],
      ['PutObject', () => bob.send(new PutObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt', Body: 'overwritten' }))],
      ['DeleteObject', () => bob.send(new DeleteObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt' }))],
      ['DeleteObjects', () => bob.send(new DeleteObjectsCommand({ Bucket: 'alice-private', Delete: { Objects: [{ Key: 'diary.txt' }] } }))],
      ['ListObjectsV2', () => bob.send(new ListObjectsV2Command({ Bucket: 'alice-private' }))],
      ['DeleteBucket', () => bob.send(new DeleteBucketCommand({ Bucket: 'alice-private' }))],
      ['CreateMultipartUpload', () => bob.send(new CreateMultipartUploadCommand({ Bucket: 'alice-private', Key: 'big' }))],
      // A server-side copy out of it into a bucket of bob's own.
      ['CopyObject', () => bob.send(new CopyObjectCommand({ Bucket: 'bob-own', Key: 'stolen', CopySource: 'alice-private/diary.txt' }))],
    ];
    for (const [name, call] of calls) expect([name, ...(await denied(call()))]).toEqual([name, 'AccessDenied', 403]);
    // HEAD answers carry no body, so only the status says it.
    expect(await s3ErrorStatus(bob.send(new HeadBucketCommand({ Bucket: 'alice-private' })))).toBe(403);
    expect(await s3ErrorStatus(bob.send(new HeadObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt' })))).toBe(403);
    // A presigned URL is only as good as its signer's access.
    const url = await getSignedUrl(bob, new GetObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt' }), { expiresIn: 60 });
    expect((await fetch(url)).status).toBe(403);

    const diary = await alice.send(new GetObjectCommand({ Bucket: 'alice-private', Key: 'diary.txt' }));
    expect(await diary.Body!.transformToString()).toBe('dear diary');
    expect(await s3ErrorStatus(bob.send(new HeadObjectCommand({ Bucket: 'bob-own', Key: 'stolen' })))).toBe(404);
  });

  it('tells a key that a taken name is someone else\'s (BucketAlreadyExists), or its own', async () => {
    expect(await s3ErrorCode(bob.send(new CreateBucketCommand({ Bucket: 'alice-private' })))).toBe('BucketAlreadyExists');
    expect(await s3ErrorCode(alice.send(new CreateBucketCommand({ Bucket: 'alice-private' })))).toBe('BucketAlreadyOwnedByYou');
  });

  it('lets a granted key use the bucket (objects, listings, multipart) but not delete it', async () => {
    await bob.send(new PutObjectCommand({ Bucket: 'shared', Key: 'from-bob', Body: 'hello alice' }));
    const upload = await bob.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: 'parts' }));
    const part = await bob.send(new UploadPartCommand({ Bucket: 'shared', Key: 'parts', UploadId: upload.UploadId, PartNumber: 1, Body: 'one part' }));
    await bob.send(new CompleteMultipartUploadCommand({ Bucket: 'shared', Key: 'parts', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const listed = await alice.send(new ListObjectsV2Command({ Bucket: 'shared' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['from-bob', 'parts']);
    expect(await (await alice.send(new GetObjectCommand({ Bucket: 'shared', Key: 'parts' }))).Body!.transformToString()).toBe('one part');
    for (const key of ['from-bob', 'parts']) await bob.send(new DeleteObjectCommand({ Bucket: 'shared', Key: key }));
    expect(await s3ErrorCode(bob.send(new DeleteBucketCommand({ Bucket: 'shared' })))).toBe('AccessDenied');
  });

  it('lets a key granted every bucket read, copy and delete anywhere', async () => {
    await ops.send(new CopyObjectCommand({ Bucket: 'bob-own', Key: 'diary-copy', CopySource: 'alice-private/diary.txt' }));
    expect(await (await bob.send(new GetObjectCommand({ Bucket: 'bob-own', Key: 'diary-copy' }))).Body!.transformToString()).toBe('dear diary');
    await ops.send(new DeleteObjectCommand({ Bucket: 'bob-own', Key: 'diary-copy' }));
    await ops.send(new DeleteBucketCommand({ Bucket: 'shared' }));
    expect(await bucketNames(alice)).toEqual(['alice-private']);
  });
});
