/**
 * Multipart uploads through @aws-sdk/client-s3 and @aws-sdk/lib-storage against a real
 * cluster: parts, listings, completion (MD5-of-MD5s ETag, stitched by metadata), its errors,
 * part copies, abort, abandoned uploads cleaned up, and a storage server killed -9 mid-upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { digestOf } from '../../../src/s3/checksums';
import { waitFor } from '../../helpers/wait';
import { s3Client, s3ErrorCode, startS3Cluster } from '../s3-cluster';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const md5 = (data: Buffer) => createHash('md5').update(data).digest();
const multipartEtag = (parts: Buffer[]) => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

async function readAll(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

describe.each(METADATA_BACKENDS)('S3 multipart uploads (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let s3: S3Client;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 4, postgresUrl });
    s3 = s3Client(cluster);
    await s3.send(new CreateBucketCommand({ Bucket: 'multi' }));
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  it('uploads with lib-storage and reads back byte for byte, with the MD5-of-MD5s ETag', async () => {
    const body = randomBytes(11 * MiB + 123);
    const upload = new Upload({ client: s3, params: { Bucket: 'multi', Key: 'big/lib-storage.bin', Body: body, ContentType: 'application/x-big' }, partSize: 5 * MiB, queueSize: 2 });
    const result = await upload.done();
    const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)];
    expect(result.ETag).toBe(multipartEtag(parts));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'big/lib-storage.bin' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ContentType).toBe('application/x-big');
    expect(head.ETag).toBe(result.ETag);
    expect((await readAll(s3, 'multi', 'big/lib-storage.bin')).equals(body)).toBe(true);
  });

  it.each([['CRC64NVME', undefined], ['CRC32', 'FULL_OBJECT'], ['CRC32C', 'FULL_OBJECT']] as const)(
    'keeps a FULL_OBJECT %s of the whole object (type %s), combined from its parts, and refuses a wrong one',
    async (algorithm, checksumType) => {
      const key = `full/${algorithm}.bin`;
      const parts = [randomBytes(5 * MiB + 7), randomBytes(1234)];
      const whole = Buffer.concat(parts);
      const field = `Checksum${algorithm}` as const;
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: key, ChecksumAlgorithm: algorithm, ChecksumType: checksumType }));
      expect(created.ChecksumType).toBe('FULL_OBJECT'); // CRC64NVME is FULL_OBJECT when no type is named
      const uploaded: Array<{ PartNumber: number; ETag?: string }> = [];
      for (const [index, body] of parts.entries()) {
        const part = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId: created.UploadId, PartNumber: index + 1, Body: body, ChecksumAlgorithm: algorithm }));
        expect(part[field]).toBe(digestOf(algorithm, body).toString('base64'));
        uploaded.push({ PartNumber: index + 1, ETag: part.ETag, [field]: part[field] });
      }
      const complete = (wholeChecksum: string) =>
        s3.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: key, UploadId: created.UploadId, ChecksumType: 'FULL_OBJECT', [field]: wholeChecksum, MultipartUpload: { Parts: uploaded } }));
      // The checksum of another body: refused, and the upload stays open.
      expect(await s3ErrorCode(complete(digestOf(algorithm, parts[0]).toString('base64')))).toBe('BadDigest');
      const expected = digestOf(algorithm, whole).toString('base64');
      const done = await complete(expected);
      expect([done[field], done.ChecksumType]).toEqual([expected, 'FULL_OBJECT']);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'multi', Key: key, ChecksumMode: 'ENABLED' }));
      expect([got[field], got.ChecksumType]).toEqual([expected, 'FULL_OBJECT']);
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(whole)).toBe(true);
    },
  );

  it('refuses checksum types S3 does not allow for an algorithm', async () => {
    expect(await s3ErrorCode(s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'bad', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' })))).toBe('InvalidRequest');
    expect(await s3ErrorCode(s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'bad', ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'COMPOSITE' })))).toBe('InvalidRequest');
  });

  it('lists parts and uploads, refuses bad completions, copies parts, completes and aborts', async () => {
    const key = 'manual/object';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: key, Metadata: { kind: 'manual' } }));
    const first = randomBytes(5 * MiB);
    const second = randomBytes(1000);
    const p1 = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: 1, Body: first }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: 2, Body: second }));
    expect(p1.ETag).toBe(`"${md5(first).toString('hex')}"`);

    const listed = await s3.send(new ListPartsCommand({ Bucket: 'multi', Key: key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([[1, first.length, p1.ETag], [2, second.length, p2.ETag]]);
    const page = await s3.send(new ListPartsCommand({ Bucket: 'multi', Key: key, UploadId, MaxParts: 1 }));
    expect(page.IsTruncated).toBe(true);
    expect(page.NextPartNumberMarker).toBe('1');
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'multi', Prefix: 'manual/' }));
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, UploadId]]);

    for (const bad of [0, 10_001]) {
      expect(await s3ErrorCode(s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: bad, Body: 'x' })))).toBe('InvalidArgument');
    }
    const complete = (parts: { PartNumber: number; ETag?: string }[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: 'multi', Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    expect(await s3ErrorCode(complete([{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }]))).toBe('InvalidPart');
    expect(await s3ErrorCode(complete([{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 3, ETag: p2.ETag }]))).toBe('InvalidPart');
    expect(await s3ErrorCode(complete([{ PartNumber: 2, ETag: p2.ETag }, { PartNumber: 1, ETag: p1.ETag }]))).toBe('InvalidPartOrder');
    expect(await s3ErrorCode(complete([{ PartNumber: 2, ETag: p2.ETag }, { PartNumber: 3, ETag: p2.ETag }]))).toBe('InvalidPart');

    // A part copied server-side from a range of an object, and a too-small part before the last.
    await s3.send(new PutObjectCommand({ Bucket: 'multi', Key: 'copy-source', Body: second }));
    const p3 = await s3.send(new UploadPartCopyCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: 3, CopySource: 'multi/copy-source', CopySourceRange: 'bytes=0-99' }));
    expect(p3.CopyPartResult?.ETag).toBe(`"${md5(second.subarray(0, 100)).toString('hex')}"`);
    expect(await s3ErrorCode(complete([{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }, { PartNumber: 3, ETag: p3.CopyPartResult?.ETag }]))).toBe('EntityTooSmall');

    const done = await complete([{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 3, ETag: p3.CopyPartResult?.ETag }]);
    expect(done.ETag).toBe(multipartEtag([first, second.subarray(0, 100)]));
    expect((await readAll(s3, 'multi', key)).equals(Buffer.concat([first, second.subarray(0, 100)]))).toBe(true);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: key }))).Metadata).toEqual({ kind: 'manual' });
    expect(await s3ErrorCode(s3.send(new ListPartsCommand({ Bucket: 'multi', Key: key, UploadId })))).toBe('NoSuchUpload');

    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'aborted' }));
    await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'aborted', UploadId: aborted.UploadId, PartNumber: 1, Body: 'part' }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'multi', Key: 'aborted', UploadId: aborted.UploadId }));
    expect(await s3ErrorCode(s3.send(new UploadPartCommand({ Bucket: 'multi', Key: 'aborted', UploadId: aborted.UploadId, PartNumber: 2, Body: 'x' })))).toBe('NoSuchUpload');
    expect(await s3ErrorCode(s3.send(new AbortMultipartUploadCommand({ Bucket: 'multi', Key: 'aborted', UploadId: aborted.UploadId })))).toBe('NoSuchUpload');
    expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: 'multi', Key: 'aborted' })))).toBe('NotFound');
  });

  it('completes an upload whose storage server was killed -9 between its parts, and reads it back whole', async () => {
    const key = 'survives/kill';
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(2 * MiB)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'multi', Key: key }));
    const etags: string[] = [];
    etags.push((await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: 1, Body: parts[0] }))).ETag!);
    await cluster.storage[1].proc.kill('SIGKILL');
    for (const [index, body] of parts.slice(1).entries()) {
      etags.push((await s3.send(new UploadPartCommand({ Bucket: 'multi', Key: key, UploadId, PartNumber: index + 2, Body: body }))).ETag!);
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({
      Bucket: 'multi', Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
    }));
    expect(done.ETag).toBe(multipartEtag(parts));
    expect((await readAll(s3, 'multi', key)).equals(Buffer.concat(parts))).toBe(true);
    await cluster.storage[1].start(cluster.storage[1].port);
  });
});

describe('S3 abandoned multipart uploads', () => {
  let cluster: Cluster;
  let s3: S3Client;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 1, env: { S3_MULTIPART_MAX_AGE_MS: '2000', CLEANUP_INTERVAL_MS: '500' } });
    s3 = s3Client(cluster);
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  it('are aborted by cleanup once older than S3_MULTIPART_MAX_AGE_MS', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'left' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'left', Key: 'forgotten' }));
    await s3.send(new UploadPartCommand({ Bucket: 'left', Key: 'forgotten', UploadId, PartNumber: 1, Body: 'abandoned' }));
    await waitFor(async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'left' }))).Uploads ?? []).length === 0, {
      timeoutMs: 30_000,
      what: 'the abandoned upload aborted by cleanup',
    });
    expect(await s3ErrorCode(s3.send(new ListPartsCommand({ Bucket: 'left', Key: 'forgotten', UploadId })))).toBe('NoSuchUpload');
  });
});
