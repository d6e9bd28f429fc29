import { parseCompleteMultipartUpload, parseCreateBucketConfiguration, parseDeleteObjects } from '../../src/s3/request-bodies';
import { s3CodeOf } from './s3-error-of';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

function completeBody(parts: { n: number | string; etag?: string; extra?: string }[]): Buffer {
  const xml = parts
    .map((p) => `<Part><PartNumber>${p.n}</PartNumber>${p.etag === undefined ? '' : `<ETag>${p.etag}</ETag>`}${p.extra ?? ''}</Part>`)
    .join('\n  ');
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload ${NS}>\n  ${xml}\n</CompleteMultipartUpload>`);
}

describe('CompleteMultipartUpload', () => {
  test('as the AWS SDK sends it: quoted ETags (entity-encoded), checksums per part', () => {
    const body = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload ${NS}><Part><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag>` +
        '<ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>1</PartNumber></Part><Part><ETag>0c78aef83f66abc1fa1e8477f296d394</ETag>' +
        '<PartNumber>2</PartNumber></Part></CompleteMultipartUpload>',
    );
    expect(parseCompleteMultipartUpload(body)).toEqual([
      { partNumber: 1, etag: 'a54357aff0632cce46d942af68356b38', checksums: { CRC32: 'AAAAAA==' } },
      { partNumber: 2, etag: '0c78aef83f66abc1fa1e8477f296d394', checksums: {} },
    ]);
  });

  test('a plan of 10,000 parts is accepted, 10,001 are not', () => {
    const etag = '"' + 'f'.repeat(32) + '"';
    const all = Array.from({ length: 10_000 }, (_, i) => ({ n: i + 1, etag, extra: '<ChecksumSHA256>' + 'A'.repeat(43) + '=</ChecksumSHA256>' }));
    const body = completeBody(all);
    const parsed = parseCompleteMultipartUpload(body);
    expect(parsed).toHaveLength(10_000);
    expect(parsed[9_999]).toMatchObject({ partNumber: 10_000, etag: 'f'.repeat(32) });
    expect(s3CodeOf(() => parseCompleteMultipartUpload(completeBody([...all, { n: 10_001, etag }])))).toBe('MalformedXML');
  });

  test.each([
    ['parts out of order', [{ n: 2, etag: 'a' }, { n: 1, etag: 'b' }], 'InvalidPartOrder'],
    ['a repeated part number', [{ n: 1, etag: 'a' }, { n: 1, etag: 'b' }], 'InvalidPartOrder'],
    ['part number 0', [{ n: 0, etag: 'a' }], 'InvalidArgument'],
    ['part number 10001', [{ n: 10_001, etag: 'a' }], 'InvalidArgument'],
    ['a negative part number', [{ n: -1, etag: 'a' }], 'InvalidArgument'],
    ['a fractional part number', [{ n: '1.5', etag: 'a' }], 'InvalidArgument'],
    ['a part without ETag', [{ n: 1 }], 'MalformedXML'],
    ['no parts at all', [], 'MalformedXML'],
    ['a part number given twice', [{ n: 1, etag: 'a', extra: '<PartNumber>2</PartNumber>' }], 'MalformedXML'],
  ])('refuses %s', (_what, parts, code) => {
    expect(s3CodeOf(() => parseCompleteMultipartUpload(completeBody(parts)))).toBe(code);
  });

  test('refuses another document, a DOCTYPE and an oversized body', () => {
    expect(s3CodeOf(() => parseCompleteMultipartUpload(Buffer.from('<Delete/>')))).toBe('MalformedXML');
    const doctype = '<!DOCTYPE x [<!ENTITY e "1">]><CompleteMultipartUpload><Part><PartNumber>&e;</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>';
    expect(s3CodeOf(() => parseCompleteMultipartUpload(Buffer.from(doctype)))).toBe('MalformedXML');
    const huge = Buffer.concat([Buffer.from('<CompleteMultipartUpload>'), Buffer.alloc(9 * 1024 * 1024, ' '), Buffer.from('</CompleteMultipartUpload>')]);
    expect(s3CodeOf(() => parseCompleteMultipartUpload(huge))).toBe('MaxMessageLengthExceeded');
  });
});

describe('DeleteObjects', () => {
  const body = (objects: string, quiet = '') => Buffer.from(`<Delete ${NS}>${quiet}${objects}</Delete>`);

  test('keys (escaped any way), version ids and Quiet', () => {
    expect(parseDeleteObjects(body('<Object><Key>a</Key></Object><Object><Key>b&amp;&lt;&#x20;c</Key><VersionId>v1</VersionId></Object>', '<Quiet>true</Quiet>'))).toEqual({
      quiet: true,
      objects: [{ key: 'a' }, { key: 'b&< c', versionId: 'v1' }],
    });
    expect(parseDeleteObjects(body('<Object><Key> spaced </Key></Object>')).objects[0].key).toBe(' spaced ');
    expect(parseDeleteObjects(body('<Object><Key>k</Key></Object>')).quiet).toBe(false);
  });

  test('1,000 keys are accepted, 1,001 are not', () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `<Object><Key>${'k'.repeat(1000)}${i}</Key></Object>`).join('');
    expect(parseDeleteObjects(body(keys(1000))).objects).toHaveLength(1000);
    expect(s3CodeOf(() => parseDeleteObjects(body(keys(1001))))).toBe('MalformedXML');
  });

  test.each([
    ['no objects', body(''), 'MalformedXML'],
    ['an object without key', body('<Object></Object>'), 'MalformedXML'],
    ['two keys in one object', body('<Object><Key>a</Key><Key>b</Key></Object>'), 'MalformedXML'],
    ['a Quiet that is not a boolean', body('<Object><Key>a</Key></Object>', '<Quiet>yes</Quiet>'), 'MalformedXML'],
    ['an empty body', Buffer.alloc(0), 'MalformedXML'],
  ])('refuses %s', (_what, input, code) => {
    expect(s3CodeOf(() => parseDeleteObjects(input))).toBe(code);
  });
});

describe('CreateBucketConfiguration', () => {
  test('an empty body or an empty constraint is no configuration; a region is read', () => {
    expect(parseCreateBucketConfiguration(Buffer.alloc(0))).toEqual({});
    expect(parseCreateBucketConfiguration(Buffer.from(' \n'))).toEqual({});
    expect(parseCreateBucketConfiguration(Buffer.from(`<CreateBucketConfiguration ${NS}/>`))).toEqual({});
    expect(
      parseCreateBucketConfiguration(Buffer.from(`<CreateBucketConfiguration ${NS}><LocationConstraint>eu-west-3</LocationConstraint></CreateBucketConfiguration>`)),
    ).toEqual({ locationConstraint: 'eu-west-3' });
  });

  test('refuses other documents and oversized bodies', () => {
    expect(s3CodeOf(() => parseCreateBucketConfiguration(Buffer.from('<Other/>')))).toBe('MalformedXML');
    expect(s3CodeOf(() => parseCreateBucketConfiguration(Buffer.alloc(100_000, 'a')))).toBe('MaxMessageLengthExceeded');
  });
});
