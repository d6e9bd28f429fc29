/**
 * Authentication and hostile input at the S3 endpoint of a real cluster: presigned URLs (and
 * their expiry), wrong keys and signatures, clock skew, anonymous requests, malformed and
 * oversized XML, unsupported sub-resources; and the S3 requests in /metrics.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { TrafficView } from '../../../src/observability/traffic';
import type { Cluster } from '../../helpers/cluster';
import { waitFor } from '../../helpers/wait';
import { signWithSmithy, smithySigner } from '../sigv4-signer';
import { S3_KEYS, s3Client, s3ErrorCode, startS3Cluster } from '../s3-cluster';

jest.setTimeout(180_000);

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(url: URL, method: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(pieces).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('S3 authentication and hostile input', () => {
  let cluster: Cluster;
  let s3: S3Client;
  let base: URL;

  /** A request signed as the SDK signs, with a body of our choosing (SHA-256 signed). */
  async function signed(method: string, path: string, query: Record<string, string>, body = Buffer.alloc(0), headers: Record<string, string> = {}) {
    const request = await signWithSmithy(
      { method, path, query, headers: { host: base.host, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'), ...headers } },
      new Date(),
      smithySigner('us-east-1', S3_KEYS),
    );
    return send(new URL(request.url, base), method, request.headers, body);
  }

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 2, env: { MAX_CONCURRENT_UPLOADS: '2' } });
    s3 = s3Client(cluster);
    base = new URL(cluster.gateway.s3Url);
    await s3.send(new CreateBucketCommand({ Bucket: 'hostile' }));
    await s3.send(new PutObjectCommand({ Bucket: 'hostile', Key: 'object', Body: 'the content' }));
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
  });

  it('serves presigned GET and PUT URLs until they expire', async () => {
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'hostile', Key: 'object' }), { expiresIn: 60 });
    const got = await fetch(getUrl);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('the content');
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'hostile', Key: 'presigned-put' }), { expiresIn: 60 });
    expect((await fetch(putUrl, { method: 'PUT', body: 'sent by a browser' })).status).toBe(200);
    const back = await s3.send(new GetObjectCommand({ Bucket: 'hostile', Key: 'presigned-put' }));
    expect(await back.Body!.transformToString()).toBe('sent by a browser');

    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'hostile', Key: 'object' }), { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const refused = await fetch(expired);
    expect(refused.status).toBe(403);
    expect(codeOf(await refused.text())).toBe('AccessDenied');
    const tampered = getUrl.replace('/hostile/object', '/hostile/other');
    const mismatch = await fetch(tampered);
    expect(mismatch.status).toBe(403);
    expect(codeOf(await mismatch.text())).toBe('SignatureDoesNotMatch');
  });

  it('refuses anonymous requests, unknown keys, wrong secrets and skewed clocks', async () => {
    const anonymous = await fetch(new URL('/hostile/object', base));
    expect(anonymous.status).toBe(403);
    expect(codeOf(await anonymous.text())).toBe('AccessDenied');
    const other = (credentials: { accessKeyId: string; secretAccessKey: string }, config = {}) => s3Client(cluster, { credentials, ...config });
    expect(await s3ErrorCode(other({ accessKeyId: 'nobody', secretAccessKey: S3_KEYS.secretAccessKey }).send(new ListBucketsCommand({})))).toBe('InvalidAccessKeyId');
    expect(await s3ErrorCode(other({ ...S3_KEYS, secretAccessKey: 'not-the-secret-at-all' }).send(new ListBucketsCommand({})))).toBe('SignatureDoesNotMatch');
    expect(await s3ErrorCode(other(S3_KEYS, { systemClockOffset: -20 * 60_000 }).send(new ListBucketsCommand({})))).toBe('RequestTimeTooSkewed');
  });

  it('answers malformed, hostile and oversized XML bodies with S3 errors, and keeps serving', async () => {
    const malformed = await signed('POST', '/hostile', { delete: '' }, Buffer.from('<Delete><Object><Key>object</Key></Object>'));
    expect([malformed.status, codeOf(malformed.body)]).toEqual([400, 'MalformedXML']);
    const entity = Buffer.from('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Delete><Object><Key>&e;</Key></Object></Delete>');
    const doctype = await signed('POST', '/hostile', { delete: '' }, entity);
    expect([doctype.status, codeOf(doctype.body)]).toEqual([400, 'MalformedXML']);
    const huge = Buffer.concat([Buffer.from('<Delete>'), Buffer.alloc(9 * 1024 * 1024, ' '), Buffer.from('</Delete>')]);
    const oversized = await signed('POST', '/hostile', { delete: '' }, huge);
    expect([oversized.status, codeOf(oversized.body)]).toEqual([400, 'MaxMessageLengthExceeded']);
    const badComplete = await signed('POST', '/hostile/object', { uploadId: 'nope' }, Buffer.from('<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>'));
    expect(badComplete.status).toBe(400);
    const badBucketBody = await signed('PUT', '/new-bucket', {}, Buffer.from('<CreateBucketConfiguration><LocationConstraint>'));
    expect(codeOf(badBucketBody.body)).toBe('MalformedXML');
    const wrongSha = await signed('PUT', '/hostile/sha', {}, Buffer.from('body'), { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') });
    expect(codeOf(wrongSha.body)).toBe('XAmzContentSHA256Mismatch');
    expect(await s3ErrorCode(s3.send(new GetObjectCommand({ Bucket: 'hostile', Key: 'sha' })))).toBe('NoSuchKey');
    const chunked = (body: string) => signed('PUT', '/hostile/chunked', {}, Buffer.from(body), {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '5',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    });
    const wrongTrailer = await chunked(`5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${Buffer.from([1, 2, 3, 4]).toString('base64')}\r\n\r\n`);
    expect([wrongTrailer.status, codeOf(wrongTrailer.body)]).toEqual([400, 'BadDigest']);
    const badFraming = await chunked('zz\r\nhello\r\n0\r\n\r\n');
    expect([badFraming.status, codeOf(badFraming.body)]).toEqual([400, 'InvalidRequest']);
    const goodTrailer = await chunked('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n');
    expect(goodTrailer.status).toBe(200);
    expect(goodTrailer.headers['x-amz-checksum-crc32']).toBe('NhCmhg==');
    const acl = await signed('GET', '/hostile', { acl: '' });
    expect([acl.status, codeOf(acl.body)]).toEqual([501, 'NotImplemented']);
    const badKey = await signed('PUT', '/hostile/%FF', {}, Buffer.from('x'));
    expect(badKey.status).toBe(400);
    // Still serving.
    const got = await s3.send(new GetObjectCommand({ Bucket: 'hostile', Key: 'object' }));
    expect(await got.Body!.transformToString()).toBe('the content');
  });

  it('checks a 10,000-part completion plan against the parts, and refuses 10,001', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'hostile', Key: 'plan' }));
    const plan = (count: number) =>
      Buffer.from(`<CompleteMultipartUpload>${Array.from({ length: count }, (_, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>"${'0'.repeat(32)}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`);
    const tenThousand = await signed('POST', '/hostile/plan', { uploadId: UploadId! }, plan(10_000));
    expect([tenThousand.status, codeOf(tenThousand.body)]).toEqual([400, 'InvalidPart']);
    const tooMany = await signed('POST', '/hostile/plan', { uploadId: UploadId! }, plan(10_001));
    expect([tooMany.status, codeOf(tooMany.body)]).toEqual([400, 'MalformedXML']);
    const part = await s3.send(new UploadPartCommand({ Bucket: 'hostile', Key: 'plan', UploadId, PartNumber: 10_000, Body: 'last' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'hostile', Key: 'plan', UploadId, MultipartUpload: { Parts: [{ PartNumber: 10_000, ETag: part.ETag }] } }));
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-1"$/);
  });

  it('answers SlowDown past MAX_CONCURRENT_UPLOADS before reading the body, and takes uploads again after', async () => {
    const slow = await Promise.all([1, 2].map(async (n) => {
      const request = await signWithSmithy(
        { method: 'PUT', path: `/hostile/slow-${n}`, headers: { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '20' } },
        new Date(),
        smithySigner('us-east-1', S3_KEYS),
      );
      let answered!: Promise<number>;
      const req = http.request(new URL(request.url, base), { method: 'PUT', headers: request.headers });
      answered = new Promise((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
      });
      // Headers and the first bytes are on their way before the third upload starts.
      await new Promise<void>((resolve, reject) => req.write('first ten.', (error) => (error ? reject(error) : resolve())));
      return { req, answered };
    }));
    // Until both slow uploads hold their slot, a third one may still get through.
    await waitFor(async () => {
      try {
        await s3.send(new PutObjectCommand({ Bucket: 'hostile', Key: 'third', Body: 'x' }));
        return false;
      } catch (error) {
        const { name, $metadata } = error as { name: string; $metadata?: { httpStatusCode?: number } };
        if (name === 'SlowDown' && $metadata?.httpStatusCode === 503) return true;
        throw error;
      }
    }, { timeoutMs: 20_000, what: 'a third upload refused with SlowDown' });
    for (const { req } of slow) req.end('last ten..');
    expect(await Promise.all(slow.map((s) => s.answered))).toEqual([200, 200]);
    await s3.send(new PutObjectCommand({ Bucket: 'hostile', Key: 'third', Body: 'x' }));
  });

  it('counts S3 requests by operation and status in /metrics', async () => {
    const metrics = await (await fetch(`${cluster.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/ringstore_s3_requests_total\{operation="PutObject",status="200"\} [1-9]/);
    expect(metrics).toMatch(/ringstore_s3_requests_total\{operation="DeleteObjects",status="400"\} [1-9]/);
    expect(metrics).toMatch(/ringstore_s3_request_duration_seconds_count\{operation="GetObject"\} [1-9]/);
    expect(metrics).toMatch(/ringstore_s3_requests_total\{operation="PutObject",status="503"\} [1-9]/);
    // The dashboard's traffic card reads the same counts.
    const traffic = (await (await fetch(`${cluster.gateway.url}/admin/traffic`)).json()) as TrafficView;
    const s3 = traffic.apis.find((api) => api.api === 's3')!.operations;
    const put = s3.find((operation) => operation.operation === 'PutObject')!;
    expect(put.requests).toBeGreaterThanOrEqual(put.server_errors + 1);
    expect(put.server_errors).toBeGreaterThanOrEqual(1); // the SlowDown above
    expect(put.mean_ms).toBeGreaterThan(0);
    expect(s3.find((operation) => operation.operation === 'DeleteObjects')!.client_errors).toBeGreaterThanOrEqual(1);
  });
});
