import { S3Error } from '../../src/s3/errors';

describe('S3 errors', () => {
  test('render as S3 XML with the code, message, extra fields, resource and request id', () => {
    const error = new S3Error('NoSuchKey', undefined, { Key: 'a<b' });
    expect(error.status).toBe(404);
    expect(error.toXml('/bucket/a<b', 'req-1')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
        '<Key>a&lt;b</Key><Resource>/bucket/a&lt;b</Resource><RequestId>req-1</RequestId></Error>',
    );
  });

  test.each([
    ['NoSuchBucket', 404], ['NoSuchUpload', 404], ['BucketNotEmpty', 409], ['BucketAlreadyOwnedByYou', 409], ['BucketAlreadyExists', 409],
    ['InvalidBucketName', 400], ['KeyTooLongError', 400], ['InvalidPart', 400], ['InvalidPartOrder', 400], ['EntityTooSmall', 400],
    ['EntityTooLarge', 400], ['SignatureDoesNotMatch', 403], ['RequestTimeTooSkewed', 403], ['AccessDenied', 403],
    ['InvalidAccessKeyId', 403], ['InvalidRange', 416], ['PreconditionFailed', 412], ['NotModified', 304], ['MalformedXML', 400],
    ['InvalidArgument', 400], ['InvalidDigest', 400], ['BadDigest', 400], ['XAmzContentSHA256Mismatch', 400],
    ['MissingContentLength', 411], ['InvalidRequest', 400], ['MethodNotAllowed', 405], ['NotImplemented', 501],
    ['IncompleteBody', 400], ['RequestTimeout', 400], ['InternalError', 500], ['SlowDown', 503], ['ServiceUnavailable', 503],
  ] as const)('%s is HTTP %d', (code, status) => {
    expect(new S3Error(code).status).toBe(status);
    expect(new S3Error(code).message.length).toBeGreaterThan(5);
  });

  test('anything that is not an S3Error becomes an InternalError that reveals nothing', () => {
    const internal = S3Error.from(new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'));
    expect(internal.code).toBe('InternalError');
    expect(internal.toXml('/', 'r')).not.toMatch(/ECONNREFUSED|hunter2/);
    const known = new S3Error('NoSuchBucket');
    expect(S3Error.from(known)).toBe(known);
  });
});
