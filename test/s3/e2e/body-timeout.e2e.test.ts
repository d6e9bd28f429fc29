/**
 * S3 request bodies that stall: PutObject, UploadPart and an aws-chunked PutObject that send
 * part of their body and then nothing are cut after BODY_IDLE_TIMEOUT_MS (not by the socket's
 * much longer idle timeout) with S3's RequestTimeout, keep nothing, and the gateway goes on serving.
 */
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Cluster } from '../../helpers/cluster';
import { waitFor } from '../../helpers/wait';
import { chunksOnDisk, RawConnection } from '../../http/hostile-http';
import { signWithSmithy, smithySigner } from '../sigv4-signer';
import { S3_KEYS, s3Client, s3ErrorCode, startS3Cluster } from '../s3-cluster';

jest.setTimeout(120_000);

const KiB = 1024;
const IDLE_MS = 1500;
/** The answer must come from the body timer: far sooner than the socket's idle timeout (120 s). */
const ANSWER_DEADLINE_MS = IDLE_MS + 8_000;
const BUCKET = 'stalled';

const codeOf = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('S3 request bodies that stall', () => {
  let cluster: Cluster;
  let s3: S3Client;
  let base: URL;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 2, env: { BODY_IDLE_TIMEOUT_MS: String(IDLE_MS) } });
    s3 = s3Client(cluster);
    base = new URL(cluster.gateway.s3Url);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  /**
   * Sends a signed request's headers and the first `sent` bytes of its body on a raw connection,
   * then nothing; returns the answer's status, S3 code and how long it took after the last byte.
   */
  async function stall(path: string, query: Record<string, string>, body: Buffer, sent: number, headers: Record<string, string> = {}) {
    const signed = await signWithSmithy(
      { method: 'PUT', path, query, headers: { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(body.length), ...headers } },
      new Date(),
      smithySigner('us-east-1', S3_KEYS),
    );
    const head = [`PUT ${signed.url} HTTP/1.1`, ...Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}`), '', ''].join('\r\n');
    const connection = new RawConnection(Number(base.port));
    try {
      connection.write(Buffer.concat([Buffer.from(head), body.subarray(0, sent)]));
      const stalledAt = Date.now();
      const response = await connection.response(ANSWER_DEADLINE_MS);
      const tookMs = Date.now() - stalledAt;
      await connection.serverClosed();
      return { status: response.status, code: codeOf(response.body.toString()), tookMs };
    } finally {
      connection.destroy();
    }
  }

  /** Every chunk a stalled body had stored is deleted again. */
  async function expectNoNewChunks(before: Set<string>): Promise<void> {
    await waitFor(async () => [...(await chunksOnDisk(cluster))].every((id) => before.has(id)), { timeoutMs: 15_000, what: 'the stalled body\'s chunks deleted' });
  }

  it('cuts a PutObject body that stalls with RequestTimeout, stores nothing, and keeps serving', async () => {
    const before = await chunksOnDisk(cluster);
    const answer = await stall(`/${BUCKET}/half`, {}, randomBytes(256 * KiB), 128 * KiB);
    expect(answer).toMatchObject({ status: 400, code: 'RequestTimeout' });
    expect(answer.tookMs).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'half' })))).toBe('NotFound');
    await expectNoNewChunks(before);
    // Still serving, the same key included.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'half', Body: 'whole this time' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'half' }));
    expect(await got.Body!.transformToString()).toBe('whole this time');
  });

  it('cuts an UploadPart body that stalls with RequestTimeout, and records no part', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'parts' }));
    const before = await chunksOnDisk(cluster);
    const answer = await stall(`/${BUCKET}/parts`, { partNumber: '1', uploadId: UploadId! }, randomBytes(64 * KiB), 10 * KiB);
    expect(answer).toMatchObject({ status: 400, code: 'RequestTimeout' });
    expect((await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'parts', UploadId }))).Parts ?? []).toEqual([]);
    await expectNoNewChunks(before);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'parts', UploadId }));
  });

  it('cuts an aws-chunked body that stalls mid-chunk with RequestTimeout', async () => {
    const data = randomBytes(32 * KiB);
    const framed = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n\r\n')]);
    const before = await chunksOnDisk(cluster);
    const answer = await stall(`/${BUCKET}/chunked`, {}, framed, 8 * KiB, {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
    });
    expect(answer).toMatchObject({ status: 400, code: 'RequestTimeout' });
    expect(await s3ErrorCode(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'chunked' })))).toBe('NotFound');
    await expectNoNewChunks(before);
  });
});
