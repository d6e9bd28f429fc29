import { parseRequestTarget } from '../../src/s3/request-target';
import { routeOf } from '../../src/s3/router';
import { s3CodeOf } from './s3-error-of';

describe('which bucket, key and query a request names', () => {
  it('reads path-style targets, decoding the key once and keeping + literal', () => {
    const service = parseRequestTarget('/', 'localhost:9000', undefined);
    expect([service.bucket, service.key]).toEqual([undefined, undefined]);
    expect(parseRequestTarget('/photos', 'localhost:9000', undefined)).toMatchObject({ bucket: 'photos', key: undefined });
    expect(parseRequestTarget('/photos/', 'localhost:9000', undefined)).toMatchObject({ bucket: 'photos', key: undefined });
    const target = parseRequestTarget('/photos/2024/a%20b+c%E2%82%AC%2525?list-type=2&prefix=a%2Bb&delete', 'h', undefined);
    expect(target).toMatchObject({ bucket: 'photos', key: '2024/a b+c€%25', path: '/photos/2024/a%20b+c%E2%82%AC%2525' });
    expect([...target.query]).toEqual([['list-type', '2'], ['prefix', 'a+b'], ['delete', '']]);
  });

  it('reads virtual-hosted targets only under the configured domain', () => {
    expect(parseRequestTarget('/a/b', 'photos.s3.example.com:9000', 's3.example.com')).toMatchObject({ bucket: 'photos', key: 'a/b' });
    expect(parseRequestTarget('/', 'photos.s3.example.com', 's3.example.com')).toMatchObject({ bucket: 'photos', key: undefined });
    expect(parseRequestTarget('/photos/a', 's3.example.com', 's3.example.com')).toMatchObject({ bucket: 'photos', key: 'a' });
    expect(parseRequestTarget('/photos/a', 'photos.s3.example.com', undefined)).toMatchObject({ bucket: 'photos', key: 'a' });
  });

  it('refuses broken percent-encoding with InvalidURI', () => {
    expect(s3CodeOf(() => parseRequestTarget('/b/%E2%82', 'h', undefined))).toBe('InvalidURI');
    expect(s3CodeOf(() => parseRequestTarget('/b/k?prefix=%zz', 'h', undefined))).toBe('InvalidURI');
  });
});

describe('which S3 operation a request is', () => {
  const route = (method: string, url: string, copy = false) => routeOf(method, parseRequestTarget(url, 'h', undefined), copy).name;

  it('names every supported operation', () => {
    expect(route('GET', '/')).toBe('ListBuckets');
    expect(route('PUT', '/b')).toBe('CreateBucket');
    expect(route('HEAD', '/b')).toBe('HeadBucket');
    expect(route('DELETE', '/b')).toBe('DeleteBucket');
    expect(route('GET', '/b?location')).toBe('GetBucketLocation');
    expect(route('GET', '/b?list-type=2')).toBe('ListObjectsV2');
    expect(route('GET', '/b?prefix=a')).toBe('ListObjects');
    expect(route('GET', '/b?uploads')).toBe('ListMultipartUploads');
    expect(route('POST', '/b?delete')).toBe('DeleteObjects');
    expect(route('PUT', '/b/k')).toBe('PutObject');
    expect(route('PUT', '/b/k', true)).toBe('CopyObject');
    expect(route('GET', '/b/k')).toBe('GetObject');
    expect(route('HEAD', '/b/k')).toBe('HeadObject');
    expect(route('DELETE', '/b/k')).toBe('DeleteObject');
    expect(route('POST', '/b/k?uploads')).toBe('CreateMultipartUpload');
    expect(route('PUT', '/b/k?partNumber=1&uploadId=u')).toBe('UploadPart');
    expect(route('PUT', '/b/k?partNumber=1&uploadId=u', true)).toBe('UploadPartCopy');
    expect(route('POST', '/b/k?uploadId=u')).toBe('CompleteMultipartUpload');
    expect(route('DELETE', '/b/k?uploadId=u')).toBe('AbortMultipartUpload');
    expect(route('GET', '/b/k?uploadId=u')).toBe('ListParts');
    expect(route('GET', '/b?versioning')).toBe('GetBucketVersioning');
    expect(route('GET', '/b/k?tagging')).toBe('GetObjectTagging');
  });

  it('answers NotImplemented for sub-resources it does not serve and MethodNotAllowed for the rest', async () => {
    const unserved = [['GET', '/b?acl'], ['PUT', '/b?versioning'], ['GET', '/b?lifecycle'], ['PUT', '/b/k?tagging'], ['DELETE', '/b/k?tagging'], ['GET', '/b/k?partNumber=1']];
    for (const [method, url] of unserved) {
      const found = routeOf(method, parseRequestTarget(url, 'h', undefined), false);
      await expect(found.run(undefined as never, undefined as never)).rejects.toMatchObject({ code: 'NotImplemented' });
    }
    for (const [method, url] of [['POST', '/'], ['PATCH', '/b'], ['POST', '/b'], ['POST', '/b/k'], ['OPTIONS', '/b/k']]) {
      const found = routeOf(method, parseRequestTarget(url, 'h', undefined), false);
      expect(found.name).toBe('MethodNotAllowed');
      await expect(found.run(undefined as never, undefined as never)).rejects.toMatchObject({ code: 'MethodNotAllowed' });
    }
  });
});
