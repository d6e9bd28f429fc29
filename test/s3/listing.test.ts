import {
  decodeContinuationToken,
  encodeContinuationToken,
  listingValue,
  parseEncodingType,
  parseMaxEntries,
  parsePartNumberMarker,
  urlEncodeListingValue,
} from '../../src/s3/listing';
import { s3CodeOf } from './s3-error-of';

describe('continuation tokens', () => {
  test('round-trip any key, opaque (no key in clear)', () => {
    for (const key of ['', 'a', 'photos/2024/', 'caf\u00e9 😀 & <x>', 'k'.repeat(1024)]) {
      const token = encodeContinuationToken('bucket', key);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeContinuationToken(token, 'bucket')).toBe(key);
    }
    expect(encodeContinuationToken('bucket', 'secret-plan.txt')).not.toContain('secret');
  });

  test("another bucket's token, a mangled token or a forged one is InvalidArgument", () => {
    const token = encodeContinuationToken('mine', 'k');
    expect(s3CodeOf(() => decodeContinuationToken(token, 'theirs'))).toBe('InvalidArgument');
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    expect(s3CodeOf(() => decodeContinuationToken(flipped, 'mine'))).toBe('InvalidArgument');
    const forged = Buffer.concat([Buffer.alloc(8), Buffer.from(JSON.stringify([1, 'theirs', '']))]).toString('base64url');
    expect(s3CodeOf(() => decodeContinuationToken(forged, 'theirs'))).toBe('InvalidArgument');
    for (const junk of ['', 'not a token', '====', 'A'.repeat(5000), Buffer.from('{}').toString('base64url')]) {
      expect(s3CodeOf(() => decodeContinuationToken(junk, 'mine'))).toBe('InvalidArgument');
    }
  });
});

describe('max-keys and markers', () => {
  test('absent is 1000, above 1000 is 1000, 0 is 0', () => {
    expect(parseMaxEntries('max-keys', undefined)).toBe(1000);
    expect(parseMaxEntries('max-keys', '0')).toBe(0);
    expect(parseMaxEntries('max-keys', '2')).toBe(2);
    expect(parseMaxEntries('max-keys', '5000')).toBe(1000);
  });

  test.each(['-1', 'ten', '1.5', '', '99999999999'])('refuses max-keys=%p', (value) => {
    expect(s3CodeOf(() => parseMaxEntries('max-keys', value))).toBe('InvalidArgument');
  });

  test('part-number-marker', () => {
    expect(parsePartNumberMarker(undefined)).toBe(0);
    expect(parsePartNumberMarker('17')).toBe(17);
    expect(s3CodeOf(() => parsePartNumberMarker('-3'))).toBe('InvalidArgument');
  });
});

describe('encoding-type=url', () => {
  test('only "url" is accepted', () => {
    expect(parseEncodingType(undefined)).toBeUndefined();
    expect(parseEncodingType('url')).toBe('url');
    expect(s3CodeOf(() => parseEncodingType('base64'))).toBe('InvalidArgument');
  });

  test('as S3 encodes listing values: / * - _ . kept, space as +, the rest %XX of UTF-8', () => {
    expect(urlEncodeListingValue('dir/sub dir/a-b_c.d*e')).toBe('dir/sub+dir/a-b_c.d*e');
    expect(urlEncodeListingValue('~+%&=?#')).toBe('%7E%2B%25%26%3D%3F%23');
    expect(urlEncodeListingValue('caf\u00e9 😀')).toBe('caf%C3%A9+%F0%9F%98%80');
    expect(urlEncodeListingValue('ctl\u0001\n')).toBe('ctl%01%0A');
    expect(listingValue('a b', undefined)).toBe('a b');
    expect(listingValue('a b', 'url')).toBe('a+b');
  });

  test('decodes back as a form value, whatever the key', () => {
    for (const key of ['a b+c', '100% ~real~', 'é/ü/😀', '\t\r\n', '*/*']) {
      expect(decodeURIComponent(urlEncodeListingValue(key).replaceAll('+', ' '))).toBe(key);
    }
  });
});
