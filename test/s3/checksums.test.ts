import { createHash, randomBytes } from 'node:crypto';
// The SDK's own implementations: an independent reference for ours.
import { Crc32, Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import {
  BodyDigests,
  CHECKSUM_ALGORITHMS,
  checkDigest,
  checksumAlgorithmOfHeader,
  createDigest,
  digestOf,
  parseChecksumAlgorithm,
  parseChecksumValue,
  parseContentMd5,
  type ChecksumAlgorithm,
} from '../../src/s3/checksums';
import { crc32c } from '../../src/s3/crc32c';
import { crc64Bytes, crc64nvme } from '../../src/s3/crc64nvme';
import { compositeChecksum, etagMd5, multipartEtag, quoteEtag, singlePartEtag } from '../../src/s3/etag';
import { s3CodeOf } from './s3-error-of';

async function sdkDigest(Hash: new () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }, data: Uint8Array): Promise<string> {
  const hash = new Hash();
  hash.update(data);
  return Buffer.from(await hash.digest()).toString('base64');
}

describe('CRCs', () => {
  test('the catalogued check values of "123456789"', () => {
    const check = Buffer.from('123456789');
    expect(crc32c(check).toString(16)).toBe('e3069283');
    expect(crc64Bytes(crc64nvme(check)).toString('hex')).toBe('ae8b14860a799888');
    expect(digestOf('CRC32', check).toString('hex')).toBe('cbf43926');
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  test('what the AWS SDK computes, for every length around the 8-byte stride and split anywhere', async () => {
    const data = randomBytes(300);
    for (let length = 0; length <= 40; length++) {
      const piece = data.subarray(0, length);
      expect(digestOf('CRC32C', piece).toString('base64')).toBe(await sdkDigest(Crc32cJs, piece));
      expect(digestOf('CRC64NVME', piece).toString('base64')).toBe(await sdkDigest(Crc64NvmeJs, piece));
      expect(digestOf('CRC32', piece).toString('base64')).toBe(await sdkDigest(Crc32, piece));
    }
    for (const split of [0, 1, 7, 8, 9, 13, 150, 299, 300]) {
      for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256', 'MD5'] as const) {
        const digest = createDigest(algorithm);
        digest.update(data.subarray(0, split));
        digest.update(data.subarray(split));
        expect(digest.digest()).toEqual(digestOf(algorithm, data));
      }
    }
  });

  test('a large buffer as the SDK does', async () => {
    const big = randomBytes(1 << 20);
    expect(digestOf('CRC32C', big).toString('base64')).toBe(await sdkDigest(Crc32cJs, big));
    expect(digestOf('CRC64NVME', big).toString('base64')).toBe(await sdkDigest(Crc64NvmeJs, big));
  });
});

describe('flexible checksums', () => {
  test('values as S3 and the SDK send them: base64 of the big-endian digest', () => {
    // What @aws-sdk/client-s3 sent for PutObject("hello world") when probed.
    expect(digestOf('CRC32', Buffer.from('hello world')).toString('base64')).toBe('DUoRhQ==');
    expect(digestOf('SHA256', Buffer.from('')).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const algorithm of Object.keys(CHECKSUM_ALGORITHMS) as ChecksumAlgorithm[]) {
      expect(digestOf(algorithm, Buffer.from('x'))).toHaveLength(CHECKSUM_ALGORITHMS[algorithm].digestBytes);
    }
  });

  test('algorithm names and headers', () => {
    expect(parseChecksumAlgorithm('crc32c')).toBe('CRC32C');
    expect(parseChecksumAlgorithm(' SHA256 ')).toBe('SHA256');
    expect(s3CodeOf(() => parseChecksumAlgorithm('MD5'))).toBe('InvalidRequest');
    expect(s3CodeOf(() => parseChecksumAlgorithm('__proto__'))).toBe('InvalidRequest');
    expect(checksumAlgorithmOfHeader('X-Amz-Checksum-Crc64nvme')).toBe('CRC64NVME');
    expect(checksumAlgorithmOfHeader('x-amz-checksum-algorithm')).toBeUndefined();
  });

  test('announced values must be strict base64 of the right length', () => {
    expect(parseChecksumValue('CRC32', 'DUoRhQ==')).toEqual(Buffer.from('0d4a1185', 'hex'));
    for (const bad of ['DUoRhQ', 'DUoRhQ==x', 'DUoRhQ=', 'AAAAAAAA', '', '!!!!!!==', 'DUoRhR==']) {
      expect(s3CodeOf(() => parseChecksumValue('CRC32', bad))).toBe('InvalidRequest');
    }
  });
});

describe('Content-MD5', () => {
  const body = Buffer.from('Welcome to Amazon S3.');
  const md5 = createHash('md5').update(body).digest();

  test('a valid header is its digest; a mismatch is BadDigest', () => {
    expect(parseContentMd5(md5.toString('base64'))).toEqual(md5);
    expect(s3CodeOf(() => checkDigest('Content-MD5', parseContentMd5(md5.toString('base64')), digestOf('MD5', body)))).toBe('ok');
    expect(s3CodeOf(() => checkDigest('Content-MD5', md5, digestOf('MD5', Buffer.from('tampered'))))).toBe('BadDigest');
  });

  test('a malformed header is InvalidDigest', () => {
    for (const bad of ['', 'abc', md5.toString('hex'), md5.toString('base64').slice(0, -2), Buffer.alloc(15).toString('base64'), Buffer.alloc(17).toString('base64')]) {
      expect(s3CodeOf(() => parseContentMd5(bad))).toBe('InvalidDigest');
    }
  });
});

describe('one pass over a body', () => {
  test('size, MD5 and the asked checksums, fed in pieces', () => {
    const data = randomBytes(10_000);
    const digests = new BodyDigests(['CRC32C', 'SHA256', 'CRC32C']);
    for (let i = 0; i < data.length; i += 777) digests.update(data.subarray(i, i + 777));
    const result = digests.finish();
    expect(result.size).toBe(10_000);
    expect(result.md5).toEqual(digestOf('MD5', data));
    expect(Object.keys(result.checksums).sort()).toEqual(['CRC32C', 'SHA256']);
    expect(result.checksums.CRC32C).toEqual(digestOf('CRC32C', data));
  });
});

describe('ETags', () => {
  test('single part: the hex MD5', () => {
    expect(singlePartEtag(digestOf('MD5', Buffer.from('')))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(quoteEtag('abc')).toBe('"abc"');
  });

  test('multipart: MD5 of the concatenated binary part MD5s, then -N', () => {
    const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('tail')];
    const partEtags = parts.map((p) => singlePartEtag(digestOf('MD5', p)));
    const expected = createHash('md5').update(Buffer.concat(partEtags.map((e) => Buffer.from(e, 'hex')))).digest('hex') + '-2';
    expect(multipartEtag(partEtags.map(etagMd5))).toBe(expected);
    // Not the MD5 of the whole body, which is what a broken implementation would return.
    expect(multipartEtag(partEtags.map(etagMd5))).not.toContain(digestOf('MD5', Buffer.concat(parts)).toString('hex'));
  });

  test('composite checksum: checksum of the concatenated part checksums, then -N', () => {
    const partCrcs = [Buffer.from('0d4a1185', 'hex'), Buffer.from('cbf43926', 'hex')];
    expect(compositeChecksum('CRC32', partCrcs)).toBe(`${digestOf('CRC32', Buffer.from('0d4a1185cbf43926', 'hex')).toString('base64')}-2`);
  });
});
