/**
 * What @aws-sdk/client-s3 really sends, through node:http as the phase-2 router will receive
 * it, verified by the SigV4 verifier and decoded by the aws-chunked decoder. The server here is
 * only a recorder answering the minimum the SDK needs to carry on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { AwsChunkedDecoder, awsChunkedOptions, type AwsChunkedOptions } from '../../src/s3/aws-chunked';
import { BodyDigests, checkDigest } from '../../src/s3/checksums';
import { S3Credentials } from '../../src/s3/credentials';
import { S3Error } from '../../src/s3/errors';
import { createPayloadHashCheck, isStreamingPayload } from '../../src/s3/payload-hash';
import { SigV4Verifier } from '../../src/s3/sigv4-verifier';

interface Received {
  method: string;
  url: string;
  body: Buffer;
  payloadKind: string;
  trailer?: string;
}

const credentials = { accessKeyId: 'ringstore-test', secretAccessKey: 'a-secret-of-forty-characters-0123456789ab' };
let server: http.Server;
let endpoint: string;
const received: Received[] = [];
const refused: { url: string; code: string }[] = [];

async function handle(req: http.IncomingMessage, res: http.ServerResponse, verifier: SigV4Verifier): Promise<void> {
  try {
    const verified = verifier.verify({ method: req.method!, url: req.url!, headers: req.headersDistinct });
    const digests = new BodyDigests(['CRC32']);
    const hashCheck = createPayloadHashCheck(verified.payload);
    const chunks: Buffer[] = [];
    const decoder = isStreamingPayload(verified.payload)
      ? new AwsChunkedDecoder(awsChunkedOptions(req.headersDistinct, verified.payload as AwsChunkedOptions['payload'], verified.signing))
      : undefined;
    const collect = async (data: AsyncIterable<Buffer>) => {
      for await (const chunk of data) {
        hashCheck.update(chunk);
        digests.update(chunk);
        chunks.push(chunk);
      }
    };
    await (decoder ? pipeline(req, decoder, collect) : pipeline(req, collect));
    hashCheck.verify();
    const computed = digests.finish();
    if (decoder?.trailerChecksum) checkDigest(decoder.trailerChecksum.algorithm, decoder.trailerChecksum.digest, computed.checksums.CRC32!);
    received.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks), payloadKind: verified.payload.kind, trailer: decoder?.trailerChecksum?.value });
    answer(req, res);
  } catch (error) {
    const s3 = S3Error.from(error);
    refused.push({ url: req.url!, code: s3.code });
    res.writeHead(s3.status, { 'content-type': 'application/xml' }).end(s3.toXml(req.url!, 'test'));
  }
}

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const xml = (body: string) => void res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
  if (req.url!.includes('uploads')) return xml('<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>');
  if (req.url!.includes('delete')) return xml('<DeleteResult></DeleteResult>');
  if (req.method === 'POST') return xml('<CompleteMultipartUploadResult><ETag>"e-2"</ETag></CompleteMultipartUploadResult>');
  if (req.url!.includes('list-type=2')) return xml('<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
  if (req.method === 'GET') return void res.writeHead(200, { 'content-length': '2', etag: '"x"' }).end('ok');
  res.writeHead(200, { etag: '"x"' }).end();
}

function client(overrides: Partial<typeof credentials> = {}): S3Client {
  return new S3Client({ endpoint, region: 'eu-west-3', forcePathStyle: true, credentials: { ...credentials, ...overrides }, maxAttempts: 1 });
}

beforeAll(async () => {
  const verifier = new SigV4Verifier({ keys: new S3Credentials([credentials], 'environment') });
  server = http.createServer((req, res) => void handle(req, res, verifier));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
  refused.length = 0;
});

const awkwardKeys = ['plain.txt', 'dir/sub dir/file name.txt', "caf\u00e9 ☃ 😀 (1) [x] {y} it's!*", 'q?a=b&c=d#frag', 'plus+and%25percent', '~tilde._-', 'trailing/'];

test.each(awkwardKeys)('PutObject from a buffer (signed SHA-256 payload and a CRC32 header): %s', async (key) => {
  await client().send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: Buffer.from(`body of ${key}`) }));
  expect(refused).toEqual([]);
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ method: 'PUT', payloadKind: 'sha256' });
  expect(received[0].body.toString()).toBe(`body of ${key}`);
});

test('PutObject from a stream: aws-chunked, unsigned, CRC32 trailer verified against the body', async () => {
  const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(10_000 + i, i));
  const total = parts.reduce((n, p) => n + p.length, 0);
  await client().send(new PutObjectCommand({ Bucket: 'bucket', Key: 'streamed 😀', Body: Readable.from(parts), ContentLength: total }));
  expect(refused).toEqual([]);
  expect(received[0]).toMatchObject({ payloadKind: 'streaming-unsigned-trailer', trailer: expect.any(String) });
  expect(received[0].body.equals(Buffer.concat(parts))).toBe(true);
});

test('multipart: create, parts from a buffer and a stream, complete', async () => {
  const s3 = client();
  await s3.send(new CreateMultipartUploadCommand({ Bucket: 'bucket', Key: 'big', ChecksumAlgorithm: 'CRC32' }));
  await s3.send(new UploadPartCommand({ Bucket: 'bucket', Key: 'big', UploadId: 'u1', PartNumber: 1, Body: Buffer.alloc(1000, 1) }));
  await s3.send(new UploadPartCommand({ Bucket: 'bucket', Key: 'big', UploadId: 'u1', PartNumber: 2, Body: Readable.from([Buffer.alloc(500, 2)]), ContentLength: 500 }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'bucket', Key: 'big', UploadId: 'u1', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"a"' }, { PartNumber: 2, ETag: '"b"' }] } }));
  expect(refused).toEqual([]);
  expect(received.map((r) => r.payloadKind)).toEqual(['sha256', 'sha256', 'streaming-unsigned-trailer', 'sha256']);
  expect(received[3].body.toString()).toContain('<PartNumber>2</PartNumber>');
});

test('listing with awkward query values, DeleteObjects, and a ranged GET', async () => {
  const s3 = client();
  await s3.send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a b/é+&=', Delimiter: '/', StartAfter: 'x y', MaxKeys: 5, EncodingType: 'url' }));
  await s3.send(new DeleteObjectsCommand({ Bucket: 'bucket', Delete: { Objects: awkwardKeys.map((Key) => ({ Key })) } }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: awkwardKeys[2], Range: 'bytes=0-1' }));
  expect(await got.Body?.transformToString()).toBe('ok');
  expect(refused).toEqual([]);
  expect(received).toHaveLength(3);
});

test('a wrong secret and an unknown key are refused with the codes the SDK reports', async () => {
  await expect(client({ secretAccessKey: 'not-the-secret-at-all-0000' }).send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }))).rejects.toMatchObject({
    name: 'SignatureDoesNotMatch',
    $metadata: { httpStatusCode: 403 },
  });
  await expect(client({ accessKeyId: 'nobody' }).send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
  expect(received).toEqual([]);
});
