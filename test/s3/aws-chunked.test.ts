import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, awsChunkedOptions, storedContentEncoding, type AwsChunkedOptions } from '../../src/s3/aws-chunked';
import { digestOf } from '../../src/s3/checksums';
import { S3Credentials } from '../../src/s3/credentials';
import { S3Error } from '../../src/s3/errors';
import { SigV4Verifier, type ChunkSigningContext } from '../../src/s3/sigv4-verifier';
import { encodeAwsChunked, type ChunkSigner } from './aws-chunked-encoder';
import { ACCESS_KEY_ID, SECRET_ACCESS_KEY, signWithSmithy, smithySigner } from './sigv4-signer';

const keys = new S3Credentials([{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }], 'environment');

/** Feeds `body` in pieces of `pieceSize` through a decoder; the decoded bytes, or the S3Error. */
async function decode(body: Buffer, options: AwsChunkedOptions, pieceSize = 1000): Promise<{ data: Buffer; decoder: AwsChunkedDecoder }> {
  const decoder = new AwsChunkedDecoder(options);
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += pieceSize) pieces.push(body.subarray(at, at + pieceSize));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), decoder, async function* (source) {
    for await (const chunk of source) out.push(chunk as Buffer);
  });
  return { data: Buffer.concat(out), decoder };
}

async function decodeError(body: Buffer, options: AwsChunkedOptions, pieceSize = 1000): Promise<S3Error> {
  try {
    await decode(body, options, pieceSize);
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  throw new Error('expected the body to be refused');
}

describe("AWS's published streaming example (66560 bytes of 'a', signed chunks of 64 KiB)", () => {
  // The request of the "Signature Calculation: Transfer Payload in Multiple Chunks" example.
  const request = {
    method: 'PUT',
    url: '/examplebucket/chunkObject.txt',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
      authorization:
        `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request,` +
        'SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,' +
        'Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    },
  };
  const body = Buffer.concat([
    Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
    Buffer.alloc(65536, 'a'),
    Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
    Buffer.alloc(1024, 'a'),
    Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
  ]);

  test('the seed signature verifies and every chunk signature chains from it', async () => {
    expect(body.length).toBe(66824);
    const verified = new SigV4Verifier({ keys, now: () => Date.parse('2013-05-24T00:00:00Z') }).verify(request);
    expect(verified.payload).toEqual({ kind: 'streaming-signed', trailer: false });
    const options = awsChunkedOptions(request.headers, verified.payload as AwsChunkedOptions['payload'], verified.signing);
    for (const pieceSize of [1, 7, 4096, 70_000]) {
      const { data } = await decode(body, options, pieceSize);
      expect(data.equals(Buffer.alloc(66560, 'a'))).toBe(true);
    }
  });

  test('a changed byte of data, a swapped signature or a dropped chunk is refused', async () => {
    const verified = new SigV4Verifier({ keys, now: () => Date.parse('2013-05-24T00:00:00Z') }).verify(request);
    const options = awsChunkedOptions(request.headers, verified.payload as AwsChunkedOptions['payload'], verified.signing);
    const flipped = Buffer.from(body);
    flipped[200] = 'b'.charCodeAt(0);
    expect((await decodeError(flipped, options)).code).toBe('SignatureDoesNotMatch');
    const swapped = Buffer.from(body.toString('latin1').replace('ad80c730', 'ad80c731'), 'latin1');
    expect((await decodeError(swapped, options)).code).toBe('SignatureDoesNotMatch');
    const lastChunkTampered = Buffer.from(body.toString('latin1').replace('b6c6ea8a', 'b6c6ea8b'), 'latin1');
    expect((await decodeError(lastChunkTampered, options)).code).toBe('SignatureDoesNotMatch');
  });
});

describe('bodies built with the SDK signer', () => {
  const now = new Date();
  const data = randomBytes(200_000);
  const crc32 = digestOf('CRC32', data).toString('base64');

  async function signedRequest(contentSha256: string, headers: Record<string, string> = {}) {
    const request = await signWithSmithy({ method: 'PUT', path: '/bucket/key', headers: { 'x-amz-content-sha256': contentSha256, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), ...headers } }, now);
    const verified = new SigV4Verifier({ keys, now: () => now.getTime() }).verify(request);
    const chunkSigner: ChunkSigner = {
      signer: smithySigner(),
      signingDate: now,
      region: 'us-east-1',
      amzDate: verified.signing.amzDate,
      scope: verified.signing.scope,
      seedSignature: verified.signing.seedSignature,
    };
    return { request, verified, chunkSigner, options: awsChunkedOptions(request.headers, verified.payload as AwsChunkedOptions['payload'], verified.signing) };
  }

  test('signed chunks', async () => {
    const { chunkSigner, options } = await signedRequest('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    const body = await encodeAwsChunked(data, { chunkSize: 65536, signing: chunkSigner });
    const { data: decoded, decoder } = await decode(body, options, 3333);
    expect(decoded.equals(data)).toBe(true);
    expect(decoder.trailerChecksum).toBeUndefined();
  });

  test('signed chunks with a signed checksum trailer', async () => {
    const { chunkSigner, options } = await signedRequest('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32' });
    const body = await encodeAwsChunked(data, { chunkSize: 8192, signing: chunkSigner, trailer: { name: 'x-amz-checksum-crc32', value: crc32 } });
    const { data: decoded, decoder } = await decode(body, options);
    expect(decoded.equals(data)).toBe(true);
    expect(decoder.trailerChecksum).toMatchObject({ algorithm: 'CRC32', value: crc32 });
    // The trailer's signature covers its value.
    const forged = await encodeAwsChunked(data, { chunkSize: 8192, signing: chunkSigner, trailer: { name: 'x-amz-checksum-crc32', value: crc32 } });
    const other = digestOf('CRC32', Buffer.from('other')).toString('base64');
    expect((await decodeError(Buffer.from(forged.toString('latin1').replace(crc32, other), 'latin1'), options)).code).toBe('SignatureDoesNotMatch');
    // And a signed trailer must carry its signature.
    const unsignedTrailer = Buffer.from(forged.toString('latin1').replace(/x-amz-trailer-signature:\w+\r\n/, ''), 'latin1');
    expect((await decodeError(unsignedTrailer, options)).code).toBe('MalformedTrailerError');
  });

  test('unsigned chunks with a checksum trailer, as the SDK streams by default', async () => {
    const { options } = await signedRequest('STREAMING-UNSIGNED-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32' });
    const body = await encodeAwsChunked(data, { chunkSize: 65536, trailer: { name: 'x-amz-checksum-crc32', value: crc32 } });
    for (const pieceSize of [1, 2, 65536 + 8]) {
      const { data: decoded, decoder } = await decode(body, options, pieceSize);
      expect(decoded.equals(data)).toBe(true);
      expect(decoder.trailerChecksum?.digest).toEqual(digestOf('CRC32', data));
    }
  });

  test('an empty body', async () => {
    const request = await signWithSmithy({ method: 'PUT', path: '/b/k', headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'x-amz-decoded-content-length': '0', 'x-amz-trailer': 'x-amz-checksum-crc32c' } }, now);
    const verified = new SigV4Verifier({ keys, now: () => now.getTime() }).verify(request);
    const options = awsChunkedOptions(request.headers, verified.payload as AwsChunkedOptions['payload'], verified.signing);
    const value = digestOf('CRC32C', Buffer.alloc(0)).toString('base64');
    const { data: decoded, decoder } = await decode(Buffer.from(`0\r\nx-amz-checksum-crc32c:${value}\r\n\r\n`), options);
    expect(decoded.length).toBe(0);
    expect(decoder.trailerChecksum?.algorithm).toBe('CRC32C');
  });

  describe('malformed bodies', () => {
    let unsigned: AwsChunkedOptions;
    let signed: AwsChunkedOptions;
    let signing: ChunkSigner;
    beforeAll(async () => {
      unsigned = (await signedRequest('STREAMING-UNSIGNED-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32' })).options;
      const s = await signedRequest('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
      signed = s.options;
      signing = s.chunkSigner;
    });
    const trailer = () => ({ name: 'x-amz-checksum-crc32', value: crc32 });
    const edit = (body: Buffer, from: string | RegExp, to: string) => Buffer.from(body.toString('latin1').replace(from, to), 'latin1');

    test('a body cut short anywhere is IncompleteBody', async () => {
      const body = await encodeAwsChunked(data, { chunkSize: 65536, trailer: trailer() });
      for (const cut of [0, 5, 1000, 65536, body.length - 3, body.length - 1]) {
        expect([cut, (await decodeError(body.subarray(0, cut), unsigned)).code]).toEqual([cut, 'IncompleteBody']);
      }
    });

    test('fewer or more bytes than x-amz-decoded-content-length', async () => {
      const short = await encodeAwsChunked(data.subarray(1), { chunkSize: 65536, trailer: trailer() });
      expect((await decodeError(short, unsigned)).code).toBe('IncompleteBody');
      const long = await encodeAwsChunked(Buffer.concat([data, Buffer.from('x')]), { chunkSize: 65536, trailer: trailer() });
      expect((await decodeError(long, unsigned)).code).toBe('InvalidRequest');
    });

    test('framing errors', async () => {
      const body = await encodeAwsChunked(data, { chunkSize: 65536, trailer: trailer() });
      const cases: [string, Buffer, string][] = [
        ['a size that is not hex', edit(body, /^10000/, 'zzzzz'), 'InvalidRequest'],
        ['a size with 17 digits', edit(body, /^10000/, '00000000000010000'), 'InvalidRequest'],
        ['a chunk longer than its size', edit(body, /^10000/, 'fff0'), 'InvalidRequest'],
        ['LF without CR', edit(body, /^10000\r\n/, '10000\n'), 'InvalidRequest'],
        ['a chunk-signature on an unsigned payload', edit(body, /^10000/, `10000;chunk-signature=${'a'.repeat(64)}`), 'InvalidRequest'],
        ['bytes after the end', Buffer.concat([body, Buffer.from('0\r\n')]), 'InvalidRequest'],
        ['an endless line', Buffer.concat([Buffer.from('1'.repeat(5000))]), 'InvalidRequest'],
        ['an undeclared trailer', edit(body, 'x-amz-checksum-crc32:', 'x-amz-checksum-sha1:'), 'MalformedTrailerError'],
        ['a trailer line without colon', edit(body, 'x-amz-checksum-crc32:', 'x-amz-checksum-crc32 '), 'MalformedTrailerError'],
        ['a malformed checksum value', edit(body, `:${crc32}`, ':not-base64!'), 'InvalidRequest'],
        ['no trailer although declared', Buffer.concat([body.subarray(0, body.indexOf('x-amz-checksum')), Buffer.from('\r\n')]), 'MalformedTrailerError'],
        ['a signature on an unsigned trailer', edit(body, `${crc32}\r\n`, `${crc32}\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n`), 'MalformedTrailerError'],
        ['too many trailer lines', edit(body, `${crc32}\r\n`, `${crc32}\r\n${'x-a:b\r\n'.repeat(9)}`), 'MalformedTrailerError'],
      ];
      for (const [what, input, code] of cases) {
        expect([what, (await decodeError(input, unsigned)).code]).toEqual([what, code]);
      }
    });

    /** The first two frames (header, 64 KiB, CRLF) of a signed body in the other order. */
    function swapFirstFrames(body: Buffer): Buffer {
      const frameEnd = (start: number) => body.indexOf('\r\n', start) + 2 + 65536 + 2;
      const second = frameEnd(0);
      const third = frameEnd(second);
      return Buffer.concat([body.subarray(second, third), body.subarray(0, second), body.subarray(third)]);
    }

    test('signed chunks: missing, wrong or replayed signatures', async () => {
      const body = await encodeAwsChunked(data, { chunkSize: 65536, signing });
      const { data: good } = await decode(body, signed);
      expect(good.equals(data)).toBe(true);
      const firstSignature = /chunk-signature=(\w+)/.exec(body.toString('latin1'))![1];
      const cases: [string, Buffer, string][] = [
        ['a missing chunk-signature', edit(body, `;chunk-signature=${firstSignature}`, ''), 'InvalidRequest'],
        ['an upper-case signature', edit(body, firstSignature, firstSignature.toUpperCase()), 'InvalidRequest'],
        ['a chunk signed for another request', await encodeAwsChunked(data, { chunkSize: 65536, signing: { ...signing, seedSignature: '1'.repeat(64) } }), 'SignatureDoesNotMatch'],
        ['signed chunks swapped', swapFirstFrames(body), 'SignatureDoesNotMatch'],
      ];
      for (const [what, input, code] of cases) {
        expect([what, (await decodeError(input, signed)).code]).toEqual([what, code]);
      }
    });
  });
});

describe('request headers', () => {
  const payload = { kind: 'streaming-unsigned-trailer' } as const;

  test('x-amz-decoded-content-length is required and numeric; trailers must be checksums', () => {
    const options = awsChunkedOptions({ 'x-amz-decoded-content-length': '12', 'x-amz-trailer': 'X-Amz-Checksum-CRC32' }, payload, undefined);
    expect(options).toMatchObject({ decodedContentLength: 12, declaredTrailers: ['x-amz-checksum-crc32'] });
    const codeOf = (headers: Record<string, string>, mode: AwsChunkedOptions['payload'] = payload) => {
      try {
        awsChunkedOptions(headers, mode, undefined);
        return 'ok';
      } catch (error) {
        return (error as S3Error).code;
      }
    };
    expect(codeOf({})).toBe('MissingContentLength');
    expect(codeOf({ 'x-amz-decoded-content-length': '-1' })).toBe('InvalidArgument');
    expect(codeOf({ 'x-amz-decoded-content-length': '1e3' })).toBe('InvalidArgument');
    expect(codeOf({ 'x-amz-decoded-content-length': '1', 'x-amz-trailer': 'x-evil' })).toBe('InvalidRequest');
    expect(codeOf({ 'x-amz-decoded-content-length': '1', 'x-amz-trailer': 'x-amz-checksum-crc32,x-amz-checksum-sha1' })).toBe('InvalidRequest');
    expect(codeOf({ 'x-amz-decoded-content-length': '1', 'x-amz-trailer': 'x-amz-checksum-crc32' }, { kind: 'streaming-signed', trailer: false })).toBe('InvalidRequest');
  });

  test('a signed decoder without a signing context is a programming error', () => {
    expect(() => new AwsChunkedDecoder({ payload: { kind: 'streaming-signed', trailer: false }, decodedContentLength: 0, declaredTrailers: [] })).toThrow('signing context');
    const context: ChunkSigningContext = { signingKey: Buffer.alloc(32), amzDate: '20130524T000000Z', scope: 's', seedSignature: 'x' };
    expect(new AwsChunkedDecoder({ payload: { kind: 'streaming-signed', trailer: false }, decodedContentLength: 0, declaredTrailers: [], signing: context })).toBeInstanceOf(AwsChunkedDecoder);
  });

  test('aws-chunked is dropped from the stored Content-Encoding', () => {
    expect(storedContentEncoding('aws-chunked')).toBeUndefined();
    expect(storedContentEncoding('gzip,aws-chunked')).toBe('gzip');
    expect(storedContentEncoding('AWS-CHUNKED, br')).toBe('br');
    expect(storedContentEncoding(undefined)).toBeUndefined();
  });
});
