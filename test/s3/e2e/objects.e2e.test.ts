/**
 * The S3 endpoint with @aws-sdk/client-s3 against a real cluster: buckets, objects (PUT from a
 * buffer and from a stream, GET with Range and conditions, HEAD, copy, deletes), listings.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { waitFor } from '../../helpers/wait';
import { chunksOnDisk } from '../../http/hostile-http';
import { s3Client, s3ErrorCode, s3ErrorStatus, startS3Cluster } from '../s3-cluster';

jest.setTimeout(240_000);

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

describe.each(METADATA_BACKENDS)('S3 objects (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let s3: S3Client;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 3, postgresUrl });
    s3 = s3Client(cluster);
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  it('creates, lists, locates, heads and deletes buckets, with S3 errors', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'buckets-a' }));
    expect(await s3ErrorCode(s3.send(new CreateBucketCommand({ Bucket: 'buckets-a' })))).toBe('BucketAlreadyOwnedByYou');
    expect(await s3ErrorCode(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toBe('InvalidBucketName');
    const listed = await s3.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toContain('buckets-a');
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: 'buckets-a' }))).LocationConstraint).toBeUndefined();
    await s3.send(new HeadBucketCommand({ Bucket: 'buckets-a' }));
    await s3.send(new PutObjectCommand({ Bucket: 'buckets-a', Key: 'k', Body: 'x' }));
    expect(await s3ErrorCode(s3.send(new DeleteBucketCommand({ Bucket: 'buckets-a' })))).toBe('BucketNotEmpty');
    await s3.send(new DeleteObjectCommand({ Bucket: 'buckets-a', Key: 'k' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'buckets-a' }));
    expect(await s3ErrorStatus(s3.send(new HeadBucketCommand({ Bucket: 'buckets-a' })))).toBe(404);
    expect(await s3ErrorCode(s3.send(new DeleteBucketCommand({ Bucket: 'buckets-a' })))).toBe('NoSuchBucket');
    // A small body is stored before its bucket is looked up: the commit refuses it, and its chunks go.
    const before = await chunksOnDisk(cluster);
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: 'buckets-a', Key: 'k', Body: 'x' })))).toBe('NoSuchBucket');
    await waitFor(async () => [...(await chunksOnDisk(cluster))].every((id) => before.has(id)), { timeoutMs: 15_000, what: 'the refused body\'s chunks deleted' });
  });

  it('stores an object from a buffer and from a stream, and serves it whole, by range and under conditions', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'objects' }));
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const put = await s3.send(new PutObjectCommand({
      Bucket: 'objects',
      Key: 'dir/file one+€.bin',
      Body: body,
      ContentType: 'application/x-test',
      ContentDisposition: 'attachment; filename="a.bin"',
      CacheControl: 'max-age=60',
      ContentEncoding: 'identity',
      Metadata: { colour: 'blue', 'x-thing': 'two words' },
      ChecksumAlgorithm: 'CRC32C',
    }));
    expect(put.ETag).toBe(`"${md5(body)}"`);
    expect(put.ChecksumCRC32C).toBeDefined();

    const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', ChecksumMode: 'ENABLED' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.equals(body)).toBe(true);
    expect(got.ETag).toBe(put.ETag);
    expect(got.ContentType).toBe('application/x-test');
    expect(got.ContentDisposition).toBe('attachment; filename="a.bin"');
    expect(got.CacheControl).toBe('max-age=60');
    expect(got.ContentEncoding).toBe('identity');
    expect(got.Metadata).toEqual({ colour: 'blue', 'x-thing': 'two words' });
    expect(got.ChecksumCRC32C).toBe(put.ChecksumCRC32C);

    const ranged = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', Range: 'bytes=1000-2999999' }));
    expect(ranged.ContentRange).toBe(`bytes 1000-2999999/${body.length}`);
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(1000, 3_000_000))).toBe(true);
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', Range: `bytes=${body.length}-` })))).toBe('InvalidRange');

    expect(await s3ErrorStatus(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', IfNoneMatch: put.ETag })))).toBe(304);
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', IfMatch: '"0123"' })))).toBe('PreconditionFailed');
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', IfModifiedSince: new Date(Date.now() + 60_000) })))).toBe(304);
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', IfUnmodifiedSince: new Date(Date.now() - 3_600_000) })))).toBe('PreconditionFailed');
    const overridden = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'dir/file one+€.bin', ResponseContentType: 'text/plain', ResponseCacheControl: 'no-store' }));
    await overridden.Body!.transformToByteArray();
    expect(overridden.ContentType).toBe('text/plain');
    expect(overridden.CacheControl).toBe('no-store');

    // A stream of unknown length: the SDK sends aws-chunked with a trailing CRC32.
    const streamed = randomBytes(1024 * 1024 + 5);
    const streamPut = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'streamed', Body: Readable.from([streamed.subarray(0, 1000), streamed.subarray(1000)]), ContentLength: streamed.length }));
    expect(streamPut.ETag).toBe(`"${md5(streamed)}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'streamed' }));
    expect(head.ContentLength).toBe(streamed.length);

    const empty = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'empty', Body: Buffer.alloc(0) }));
    expect(empty.ETag).toBe(`"${md5(Buffer.alloc(0))}"`);
    expect((await (await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'empty' }))).Body!.transformToByteArray()).length).toBe(0);

    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'missing' })))).toBe('NoSuchKey');
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'missing' })))).toBe(404);
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'k'.repeat(1025), Body: 'x' })))).toBe('KeyTooLongError');
  });

  it('refuses a body whose Content-MD5 or checksum does not match, and keeps nothing of it', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'digests' }));
    const wrongMd5 = createHash('md5').update('other').digest('base64');
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: 'digests', Key: 'a', Body: 'content', ContentMD5: wrongMd5 })))).toBe('BadDigest');
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: 'digests', Key: 'a', Body: 'content', ChecksumSHA256: createHash('sha256').update('other').digest('base64') })))).toBe('BadDigest');
    expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: 'digests', Key: 'a' })))).toBe('NotFound');
    const right = createHash('md5').update('content').digest('base64');
    await s3.send(new PutObjectCommand({ Bucket: 'digests', Key: 'a', Body: 'content', ContentMD5: right }));
  });

  it('copies server-side, keeping or replacing the metadata', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'copies' }));
    const body = randomBytes(200_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'source key', Body: body, ContentType: 'image/png', Metadata: { a: '1' }, ChecksumAlgorithm: 'SHA256' }));
    const kept = await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy-1', CopySource: `copies/${encodeURIComponent('source key')}` }));
    expect(kept.CopyObjectResult?.ETag).toBe(`"${md5(body)}"`);
    expect(kept.CopyObjectResult?.ChecksumSHA256).toBe(put.ChecksumSHA256);
    expect(put.ChecksumSHA256).toBe(createHash('sha256').update(body).digest('base64'));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'copy-1' }));
    expect(head.ContentType).toBe('image/png');
    expect(head.Metadata).toEqual({ a: '1' });
    await s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy-2', CopySource: 'copies/source%20key', MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { b: '2' } }));
    const replaced = await s3.send(new GetObjectCommand({ Bucket: 'copies', Key: 'copy-2' }));
    expect(Buffer.from(await replaced.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(replaced.ContentType).toBe('text/plain');
    expect(replaced.Metadata).toEqual({ b: '2' });
    expect(await s3ErrorCode(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy-3', CopySource: 'copies/nothing' })))).toBe('NoSuchKey');
    expect(await s3ErrorCode(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy-3', CopySource: 'copies/source%20key', CopySourceIfMatch: '"abc"' })))).toBe('PreconditionFailed');
    expect(await s3ErrorCode(s3.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'copy-1', CopySource: 'copies/copy-1' })))).toBe('InvalidRequest');
  });

  it('lists keys by prefix and delimiter, page by page, V2 and V1, URL-encoded on request', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
    const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'c d/e', 'c+d', 'z'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: key }));
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'listing' }));
    expect(all.Contents?.map((o) => o.Key)).toEqual(keys);
    expect(all.KeyCount).toBe(keys.length);
    expect(all.Contents?.[0].ETag).toBe(`"${md5(Buffer.from('a/1'))}"`);
    const root = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    expect(root.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c d/']);
    expect(root.Contents?.map((o) => o.Key)).toEqual(['b', 'c+d', 'z']);
    const under = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'a/', Delimiter: '/' }));
    expect(under.Contents?.map((o) => o.Key)).toEqual(['a/1', 'a/2']);
    expect(under.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/']);

    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 2, ContinuationToken: token }));
      paged.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
      expect(page.IsTruncated).toBe(token !== undefined);
    } while (token);
    expect(paged).toEqual(keys);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'b' }))).Contents?.map((o) => o.Key)).toEqual(['c d/e', 'c+d', 'z']);

    const v1: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: 'listing', MaxKeys: 3, Marker: marker }));
      v1.push(...(page.Contents ?? []).map((o) => o.Key!));
      if (!page.IsTruncated) break;
      marker = page.NextMarker ?? page.Contents!.at(-1)!.Key;
    }
    expect(v1).toEqual(keys);
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'c', EncodingType: 'url' }));
    // The SDK hands url-encoded values over as sent ('/' stays, a space is '+', '+' is %2B).
    expect(encoded.Contents?.map((o) => o.Key)).toEqual(['c+d/e', 'c%2Bd']);
    expect(await s3ErrorCode(s3.send(new ListObjectsV2Command({ Bucket: 'listing', ContinuationToken: 'not-a-token' })))).toBe('InvalidArgument');
    expect(await s3ErrorCode(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toBe('NoSuchBucket');
  });

  it('deletes one key, and many at once', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'deletes' }));
    for (const key of ['x', 'y', 'z']) await s3.send(new PutObjectCommand({ Bucket: 'deletes', Key: key, Body: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'deletes', Key: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'deletes', Key: 'x' })); // gone already: no error
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: 'deletes', Delete: { Objects: [{ Key: 'y' }, { Key: 'z' }, { Key: 'never' }] } }));
    expect(result.Deleted?.map((d) => d.Key).sort()).toEqual(['never', 'y', 'z']);
    expect(result.Errors ?? []).toEqual([]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'deletes' }))).KeyCount).toBe(0);
  });

  it('serves a small object read again from memory, never the bytes of a replaced or deleted one', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'hot' }));
    const get = async (range?: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'hot', Key: 'k', Range: range }))).Body!.transformToByteArray());
    const first = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: 'hot', Key: 'k', Body: first }));
    expect((await get()).equals(first)).toBe(true); // kept in memory by the PUT
    expect((await get()).equals(first)).toBe(true);
    expect((await get('bytes=100-199')).equals(first.subarray(100, 200))).toBe(true);
    // A restarted gateway has an empty cache: the body is read from the storage servers, checked and kept.
    await cluster.restartGateway();
    await cluster.waitForReady();
    s3.destroy();
    s3 = s3Client(cluster);
    expect((await get()).equals(first)).toBe(true);
    expect((await get('bytes=4000-')).equals(first.subarray(4000))).toBe(true);
    await s3.send(new CopyObjectCommand({ Bucket: 'hot', Key: 'copy', CopySource: 'hot/k' }));
    const copied = await s3.send(new GetObjectCommand({ Bucket: 'hot', Key: 'copy' }));
    expect(Buffer.from(await copied.Body!.transformToByteArray()).equals(first)).toBe(true);

    const second = randomBytes(4096); // same size, other bytes: only the key's new file tells them apart
    const put = await s3.send(new PutObjectCommand({ Bucket: 'hot', Key: 'k', Body: second }));
    expect(put.ETag).toBe(`"${md5(second)}"`);
    const replaced = await s3.send(new GetObjectCommand({ Bucket: 'hot', Key: 'k' }));
    expect(replaced.ETag).toBe(`"${md5(second)}"`);
    expect(Buffer.from(await replaced.Body!.transformToByteArray()).equals(second)).toBe(true);
    expect((await get()).equals(second)).toBe(true);

    await s3.send(new DeleteObjectCommand({ Bucket: 'hot', Key: 'k' }));
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'hot', Key: 'k' })))).toBe('NoSuchKey');
    expect(await s3ErrorStatus(s3.send(new HeadObjectCommand({ Bucket: 'hot', Key: 'k' })))).toBe(404);
  });

  // Tools read these before acting (aws s3 cp/mv of a multipart object between buckets, rclone purge).
  it('answers versioning and tag reads as S3 does where none were set, and refuses to set them', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'unconfigured' }));
    await s3.send(new PutObjectCommand({ Bucket: 'unconfigured', Key: 'k', Body: 'x' }));
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: 'unconfigured' }));
    expect([versioning.$metadata.httpStatusCode, versioning.Status]).toEqual([200, undefined]);
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: 'unconfigured', Key: 'k' }))).TagSet).toEqual([]);
    expect(await s3ErrorCode(s3.send(new GetBucketVersioningCommand({ Bucket: 'no-such-bucket' })))).toBe('NoSuchBucket');
    expect(await s3ErrorCode(s3.send(new GetObjectTaggingCommand({ Bucket: 'unconfigured', Key: 'missing' })))).toBe('NoSuchKey');
    expect(await s3ErrorCode(s3.send(new PutBucketVersioningCommand({ Bucket: 'unconfigured', VersioningConfiguration: { Status: 'Enabled' } })))).toBe('NotImplemented');
    expect(await s3ErrorCode(s3.send(new PutObjectTaggingCommand({ Bucket: 'unconfigured', Key: 'k', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })))).toBe('NotImplemented');
    expect(await s3ErrorCode(s3.send(new PutObjectCommand({ Bucket: 'unconfigured', Key: 'tagged', Body: 'x', Tagging: 'a=b' })))).toBe('NotImplemented');
    expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: 'unconfigured', Key: 'tagged' })))).toBe('NotFound');
  });
});
