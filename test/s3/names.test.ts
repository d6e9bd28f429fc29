import { bucketNameProblem, parsePartNumber, validateBucketName, validateObjectKey } from '../../src/s3/names';
import { s3CodeOf } from './s3-error-of';

describe('bucket names', () => {
  test.each(['abc', 'my-bucket', 'my.bucket.2024', '0-9', 'a'.repeat(63), 'xn-ok', 's3alias-ok', '1.2.3.4.5', '192.168.5'])('accepts %s', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
    expect(s3CodeOf(() => validateBucketName(name))).toBe('ok');
  });

  test.each([
    ['ab', '3 to 63'],
    ['a'.repeat(64), '3 to 63'],
    ['My-Bucket', 'lowercase'],
    ['my_bucket', 'lowercase'],
    ['-bucket', 'begin and end'],
    ['bucket-', 'begin and end'],
    ['.bucket', 'begin and end'],
    ['bucket.', 'begin and end'],
    ['my..bucket', 'two adjacent dots'],
    ['192.168.5.4', 'IP address'],
    ['xn--bucket', '"xn--"'],
    ['sthree-bucket', '"sthree-"'],
    ['amzn-s3-demo-bucket', '"amzn-s3-demo-"'],
    ['bucket-s3alias', '"-s3alias"'],
    ['bucket--ol-s3', '"--ol-s3"'],
    ['bucket.mrap', '".mrap"'],
    ['bucket--x-s3', '"--x-s3"'],
    ['bucket--table-s3', '"--table-s3"'],
    ['buck et', 'lowercase'],
    ['bück', 'lowercase'],
    ['', '3 to 63'],
  ])('refuses %s (%s)', (name, reason) => {
    expect(bucketNameProblem(name)).toContain(reason);
    expect(s3CodeOf(() => validateBucketName(name))).toBe('InvalidBucketName');
  });
});

describe('object keys', () => {
  test('1 to 1024 bytes of UTF-8, counted in bytes not characters', () => {
    expect(s3CodeOf(() => validateObjectKey('a'))).toBe('ok');
    expect(s3CodeOf(() => validateObjectKey('k'.repeat(1024)))).toBe('ok');
    expect(s3CodeOf(() => validateObjectKey('é'.repeat(512)))).toBe('ok');
    expect(s3CodeOf(() => validateObjectKey('k'.repeat(1025)))).toBe('KeyTooLongError');
    expect(s3CodeOf(() => validateObjectKey('é'.repeat(512) + 'x'))).toBe('KeyTooLongError');
    expect(s3CodeOf(() => validateObjectKey('😀'.repeat(257)))).toBe('KeyTooLongError');
  });

  test('any character S3 stores is accepted: slashes, dots, spaces, controls, emoji', () => {
    for (const key of ['a/b/c', '../x', '/leading', 'sp ace', 'tab\tnl\n', 'x\u0001', '😀', 'a+b=c&d?e#f%20']) {
      expect(s3CodeOf(() => validateObjectKey(key))).toBe('ok');
    }
  });

  test('empty keys, NUL and lone surrogates are refused', () => {
    expect(s3CodeOf(() => validateObjectKey(''))).toBe('InvalidArgument');
    expect(s3CodeOf(() => validateObjectKey('a\u0000b'))).toBe('InvalidArgument');
    expect(s3CodeOf(() => validateObjectKey('a\ud800b'))).toBe('InvalidArgument');
    expect(s3CodeOf(() => validateObjectKey('a\udc00'))).toBe('InvalidArgument');
  });
});

describe('part numbers', () => {
  test('1 to 10000', () => {
    expect(parsePartNumber('1')).toBe(1);
    expect(parsePartNumber('10000')).toBe(10000);
    expect(parsePartNumber('00042')).toBe(42);
  });

  test.each([undefined, '', '0', '10001', '-1', '1.0', '1e3', ' 1', '0x10', '999999999999', 'abc'])('refuses %p', (value) => {
    expect(s3CodeOf(() => parsePartNumber(value))).toBe('InvalidArgument');
  });
});
