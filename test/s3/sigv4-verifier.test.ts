import { S3Credentials } from '../../src/s3/credentials';
import { MAX_CLOCK_SKEW_MS, SigV4Verifier, type SigV4Request } from '../../src/s3/sigv4-verifier';
import { ACCESS_KEY_ID, SECRET_ACCESS_KEY, presignWithSmithy, sdkEscape, signWithSmithy, smithySigner } from './sigv4-signer';
import { s3ErrorOf } from './s3-error-of';

const keys = new S3Credentials([{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }, { accessKeyId: 'second-user', secretAccessKey: 'another-secret-key' }], 'environment');
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function verifierAt(time: Date | number): SigV4Verifier {
  return new SigV4Verifier({ keys, now: () => new Date(time).getTime() });
}

describe("AWS's published SigV4 examples for S3 (examplebucket, 20130524)", () => {
  const at = new Date('2013-05-24T00:00:00Z');
  const auth = (signedHeaders: string, signature: string) =>
    `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
  const host = 'examplebucket.s3.amazonaws.com';

  test('GET Object with a Range', () => {
    const verified = verifierAt(at).verify({
      method: 'GET',
      url: '/test.txt',
      headers: {
        host,
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': '20130524T000000Z',
        authorization: auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      },
    });
    expect(verified).toMatchObject({ accessKeyId: ACCESS_KEY_ID, via: 'header', region: 'us-east-1', payload: { kind: 'sha256', sha256: EMPTY_SHA256 } });
  });

  test('PUT Object with a $ in the key, a Date header and a storage class', () => {
    const verified = verifierAt(at).verify({
      method: 'PUT',
      url: '/test%24file.text',
      headers: {
        host,
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        authorization: auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
      },
    });
    expect(verified.payload).toEqual({ kind: 'sha256', sha256: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072' });
  });

  test.each([
    ['GET Bucket lifecycle', '/?lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
    ['GET Bucket (list objects)', '/?max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
  ])('%s', (_what, url, signature) => {
    const headers = { host, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z', authorization: auth('host;x-amz-content-sha256;x-amz-date', signature) };
    expect(verifierAt(at).verify({ method: 'GET', url, headers }).accessKeyId).toBe(ACCESS_KEY_ID);
    // The same request with its query in another order is the same canonical request.
    const reordered = url.includes('&') ? '/?prefix=J&max-keys=2' : url;
    expect(verifierAt(at).verify({ method: 'GET', url: reordered, headers }).accessKeyId).toBe(ACCESS_KEY_ID);
  });

  const presignedUrl =
    '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  test('a presigned GET, valid for its 86400 seconds and not after', () => {
    const request = { method: 'GET', url: presignedUrl, headers: { host } };
    expect(verifierAt(at).verify(request)).toMatchObject({ via: 'presigned', payload: { kind: 'unsigned' } });
    expect(verifierAt(at.getTime() + 86_400_000).verify(request).via).toBe('presigned');
    const expired = s3ErrorOf(() => verifierAt(at.getTime() + 86_400_001).verify(request));
    expect(expired).toMatchObject({ code: 'AccessDenied', message: 'Request has expired' });
    expect(s3ErrorOf(() => verifierAt(at.getTime() - MAX_CLOCK_SKEW_MS - 1000).verify(request))).toMatchObject({ code: 'AccessDenied', message: 'Request is not valid yet' });
  });

  test('one changed byte anywhere is SignatureDoesNotMatch', () => {
    const tampered = [
      presignedUrl.replace('/test.txt', '/test.txu'),
      presignedUrl.replace('Expires=86400', 'Expires=86401'),
      presignedUrl.replace('aeeed9', 'aeeed8'),
      presignedUrl + '&extra=1',
    ];
    for (const url of tampered) {
      expect(s3ErrorOf(() => verifierAt(at).verify({ method: 'GET', url, headers: { host } })).code).toBe('SignatureDoesNotMatch');
    }
    expect(s3ErrorOf(() => verifierAt(at).verify({ method: 'HEAD', url: presignedUrl, headers: { host } })).code).toBe('SignatureDoesNotMatch');
    expect(s3ErrorOf(() => verifierAt(at).verify({ method: 'GET', url: presignedUrl, headers: { host: 'other.example' } })).code).toBe('SignatureDoesNotMatch');
  });
});

describe('requests signed by @smithy/signature-v4 (the AWS SDK signer)', () => {
  const now = new Date();

  test.each([
    ['a plain key', '/bucket/photos/2024/cat.jpg'],
    ['a key with spaces, unicode and reserved characters', `/bucket/${['a b', 'caf\u00e9 ☃ 😀', "it's (x)*!", 'q?&=+#%', '~._-'].map(sdkEscape).join('/')}`],
    ['a key with an encoded slash', `/bucket/${sdkEscape('a/b')}`],
    ['a bucket only', '/bucket'],
    ['the service root', '/'],
  ])('header auth on %s', async (_what, path) => {
    const request = await signWithSmithy({ method: 'GET', path, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } }, now);
    expect(verifierAt(now).verify(request)).toMatchObject({ accessKeyId: ACCESS_KEY_ID, via: 'header' });
  });

  test('a listing query with repeated, empty and escaped parameters', async () => {
    const request = await signWithSmithy(
      { method: 'GET', path: '/bucket', query: { 'list-type': '2', prefix: 'a b/é+', delimiter: '/', 'start-after': '', 'encoding-type': 'url' }, headers: { 'x-amz-content-sha256': EMPTY_SHA256 } },
      now,
    );
    expect(verifierAt(now).verify(request).accessKeyId).toBe(ACCESS_KEY_ID);
  });

  test('any region the client signed for', async () => {
    for (const region of ['eu-west-3', 'ringstore', 'us-east-1']) {
      const request = await signWithSmithy({ method: 'GET', path: '/b', headers: { 'x-amz-content-sha256': EMPTY_SHA256 } }, now, smithySigner(region));
      expect(verifierAt(now).verify(request).region).toBe(region);
    }
  });

  test('user metadata, content headers and the streaming modes', async () => {
    const request = await signWithSmithy(
      {
        method: 'PUT',
        path: '/bucket/key',
        headers: {
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'content-encoding': 'aws-chunked',
          'x-amz-trailer': 'x-amz-checksum-crc32',
          'x-amz-decoded-content-length': '12',
          'x-amz-meta-Colour': '  blue   and   green ',
          'content-type': 'text/plain',
        },
      },
      now,
    );
    const verified = verifierAt(now).verify(request);
    expect(verified.payload).toEqual({ kind: 'streaming-unsigned-trailer' });
    expect(verified.signing).toMatchObject({ seedSignature: expect.stringMatching(/^[0-9a-f]{64}$/), scope: expect.stringMatching(/\/us-east-1\/s3\/aws4_request$/) });
  });

  test('presigned PUT and GET with the expiry checked', async () => {
    for (const method of ['GET', 'PUT']) {
      const request = await presignWithSmithy({ method, path: `/bucket/${sdkEscape('x y')}`, headers: {} }, now, 3600);
      expect(verifierAt(now).verify(request)).toMatchObject({ via: 'presigned', payload: { kind: 'unsigned' } });
      expect(s3ErrorOf(() => verifierAt(now.getTime() + 3_601_000).verify(request)).message).toBe('Request has expired');
    }
  });

  test('the second user of a keys file signs with their own secret', async () => {
    const signer = smithySigner('us-east-1', { accessKeyId: 'second-user', secretAccessKey: 'another-secret-key' });
    const request = await signWithSmithy({ method: 'GET', path: '/b', headers: { 'x-amz-content-sha256': EMPTY_SHA256 } }, now, signer);
    expect(verifierAt(now).verify(request).accessKeyId).toBe('second-user');
  });
});

describe('hostile and broken requests', () => {
  const now = new Date();
  const signed = (headers: Record<string, string> = {}, signer = smithySigner(), path = '/bucket/key', at = now) =>
    signWithSmithy({ method: 'PUT', path, headers: { 'x-amz-content-sha256': EMPTY_SHA256, ...headers } }, at, signer);

  test('anonymous requests are refused', () => {
    expect(s3ErrorOf(() => verifierAt(now).verify({ method: 'GET', url: '/bucket', headers: { host: 'h' } }))).toMatchObject({ code: 'AccessDenied', status: 403 });
  });

  test('an unknown access key is InvalidAccessKeyId; the wrong secret SignatureDoesNotMatch', async () => {
    const stranger = await signed({}, smithySigner('us-east-1', { accessKeyId: 'NOBODY', secretAccessKey: SECRET_ACCESS_KEY }));
    expect(s3ErrorOf(() => verifierAt(now).verify(stranger))).toMatchObject({ code: 'InvalidAccessKeyId', fields: { AWSAccessKeyId: 'NOBODY' } });
    const wrongSecret = await signed({}, smithySigner('us-east-1', { accessKeyId: ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' }));
    const error = s3ErrorOf(() => verifierAt(now).verify(wrongSecret));
    expect(error.code).toBe('SignatureDoesNotMatch');
    expect(error.toXml('/bucket/key', 'r')).toContain('<StringToSign>AWS4-HMAC-SHA256\n');
    expect(error.toXml('/bucket/key', 'r')).not.toContain(SECRET_ACCESS_KEY);
  });

  test('clock skew beyond 15 minutes either way is RequestTimeTooSkewed', async () => {
    for (const offset of [-16 * 60_000, 16 * 60_000]) {
      const request = await signed({}, smithySigner(), '/bucket/key', new Date(now.getTime() + offset));
      expect(s3ErrorOf(() => verifierAt(now).verify(request))).toMatchObject({ code: 'RequestTimeTooSkewed', status: 403 });
    }
    const justInside = await signed({}, smithySigner(), '/bucket/key', new Date(now.getTime() - 14 * 60_000));
    expect(verifierAt(now).verify(justInside).accessKeyId).toBe(ACCESS_KEY_ID);
  });

  test('tampering with a signed header, the method, the path or the payload hash', async () => {
    const request = await signed({ 'x-amz-meta-owner': 'alice', 'content-type': 'text/plain' });
    const variants: SigV4Request[] = [
      { ...request, headers: { ...request.headers, 'x-amz-meta-owner': 'mallory' } },
      { ...request, headers: { ...request.headers, 'content-type': 'text/html' } },
      { ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { ...request, method: 'DELETE' },
      { ...request, url: '/bucket/key2' },
      { ...request, url: '/other/key' },
      { ...request, url: '/bucket/key?acl' },
      { ...request, headers: { ...request.headers, authorization: request.headers.authorization.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`) } },
      { ...request, headers: { ...request.headers, authorization: request.headers.authorization.replace(/Signature=\w+/, 'Signature=short') } },
      { ...request, headers: { ...request.headers, authorization: request.headers.authorization.replace(/Signature=(\w+)/, (_m, s: string) => `Signature=${s.toUpperCase()}`) } },
    ];
    for (const variant of variants) expect(s3ErrorOf(() => verifierAt(now).verify(variant)).code).toBe('SignatureDoesNotMatch');
  });

  test('an x-amz-* header the signature does not cover is refused', async () => {
    const request = await signed();
    const error = s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: { ...request.headers, 'x-amz-meta-injected': 'x' } }));
    expect(error).toMatchObject({ code: 'AccessDenied', fields: { HeadersNotSigned: 'x-amz-meta-injected' } });
  });

  test('malformed Authorization headers', async () => {
    const request = await signed();
    const good = request.headers.authorization;
    const cases: [string, string][] = [
      ['AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=', 'InvalidRequest'],
      ['AWS4-HMAC-SHA256', 'AuthorizationHeaderMalformed'],
      [good.replace(/SignedHeaders=[^,]+,/, ''), 'AuthorizationHeaderMalformed'],
      [good.replace('/s3/', '/ec2/'), 'AuthorizationHeaderMalformed'],
      [good.replace('aws4_request', 'aws5_request'), 'AuthorizationHeaderMalformed'],
      [good.replace(/Credential=[^/]+\/\d{8}/, `Credential=${ACCESS_KEY_ID}/19990101`), 'AuthorizationHeaderMalformed'],
      [good.replace(/SignedHeaders=/, 'SignedHeaders=x-amz-date;'), 'AuthorizationHeaderMalformed'],
      [good.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date;x-amz-content-sha256'), 'AuthorizationHeaderMalformed'],
      [`${good}, Signature=${'0'.repeat(64)}`, 'AuthorizationHeaderMalformed'],
    ];
    for (const [authorization, code] of cases) {
      expect([authorization, s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: { ...request.headers, authorization } })).code]).toEqual([authorization, code]);
    }
  });

  test('a missing or invalid date, a missing or invalid payload hash', async () => {
    const request = await signed();
    const without = (name: string) => Object.fromEntries(Object.entries(request.headers).filter(([n]) => n !== name));
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: without('x-amz-date') })).code).toBe('AccessDenied');
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: { ...request.headers, 'x-amz-date': '20240230T000000Z' } })).code).toBe('AccessDenied');
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: without('x-amz-content-sha256') })).code).toBe('InvalidRequest');
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'abc' } })).code).toBe('InvalidArgument');
  });

  test('malformed percent-encoding is InvalidURI', async () => {
    const request = await signed();
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, url: '/bucket/%E0%A4%A' })).code).toBe('InvalidURI');
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...request, url: '/bucket/%FF' })).code).toBe('InvalidURI');
  });

  test('presigned URLs: every required parameter, the expiry bounds, and only one auth mechanism', async () => {
    const presigned = await presignWithSmithy({ method: 'GET', path: '/bucket/key', headers: {} }, now, 60);
    const without = (param: string) => ({ ...presigned, url: presigned.url.replace(new RegExp(`[?&]${param}=[^&]*`), (m) => (m.startsWith('?') ? '?' : '')) });
    for (const param of ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
      expect([param, s3ErrorOf(() => verifierAt(now).verify(without(param))).code]).toEqual([param, 'AuthorizationQueryParametersError']);
    }
    for (const expires of ['0', '604801', '-5', 'abc']) {
      const url = presigned.url.replace(/X-Amz-Expires=\d+/, `X-Amz-Expires=${expires}`);
      expect([expires, s3ErrorOf(() => verifierAt(now).verify({ ...presigned, url })).code]).toEqual([expires, 'AuthorizationQueryParametersError']);
    }
    expect(s3ErrorOf(() => verifierAt(now).verify({ ...presigned, url: presigned.url.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1') })).code).toBe('AuthorizationQueryParametersError');
    const week = await presignWithSmithy({ method: 'GET', path: '/bucket/key', headers: {} }, now, 604_800);
    expect(verifierAt(now.getTime() + 604_799_000).verify(week).via).toBe('presigned');
    const both = { ...presigned, headers: { ...presigned.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } };
    expect(s3ErrorOf(() => verifierAt(now).verify(both)).code).toBe('InvalidArgument');
  });
});
