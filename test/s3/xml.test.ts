import { S3Error } from '../../src/s3/errors';
import { s3ErrorOf } from './s3-error-of';
import { parseXml } from '../../src/s3/xml-parser';
import { escapeXmlText, renderXmlDocument, S3_XML_NAMESPACE } from '../../src/s3/xml-writer';

const parse = (xml: string, maxBytes = 1 << 20) => parseXml(Buffer.from(xml), { maxBytes });
const codeOf = (fn: () => unknown) => {
  const error = s3ErrorOf(fn);
  return `${error.code}: ${error.message}`;
};

describe('XML writer', () => {
  test('renders fields in order, repeats arrays, omits undefined, and puts the namespace on the root', () => {
    const xml = renderXmlDocument(
      'ListBucketResult',
      {
        Name: 'b',
        Prefix: '',
        Missing: undefined,
        Contents: [{ Key: 'a', Size: 3, LastModified: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)) }, { Key: 'b', Size: 0 }],
        IsTruncated: false,
      },
      { namespace: S3_XML_NAMESPACE },
    );
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>' +
        '<Contents><Key>a</Key><Size>3</Size><LastModified>2024-01-02T03:04:05.006Z</LastModified></Contents>' +
        '<Contents><Key>b</Key><Size>0</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>',
    );
  });

  test('escapes markup and control characters so any key round-trips through a parser', () => {
    expect(escapeXmlText(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
    expect(escapeXmlText('cr\rlf\ntab\tnul\u0001')).toBe('cr&#xD;lf\ntab\tnul&#x1;');
    const hostile = 'x</Key><Key>injected';
    const xml = renderXmlDocument('R', { Key: hostile });
    expect(parse(xml).children).toEqual([{ name: 'Key', children: [], text: hostile }]);
    const tricky = 'line\r\nnext ☃ 😀 &amp;';
    expect(parse(renderXmlDocument('R', { Key: tricky })).children[0].text).toBe(tricky);
  });

  test('refuses element names that are not names', () => {
    expect(() => renderXmlDocument('R', { 'a b': 'x' })).toThrow('not an XML element name');
    expect(() => renderXmlDocument('<R>', {})).toThrow('not an XML element name');
  });
});

describe('XML parser', () => {
  test('reads elements, text, entities, CDATA, comments and ignores namespaces and prefixes', () => {
    const root = parse(
      '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<!-- hi --><s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Object><Key>a &amp; b &#x263A; &#65;</Key></Object><Object><Key><![CDATA[<raw>&]]></Key><!-- c --></Object>' +
        '<Quiet/></s3:Delete>  ',
    );
    expect(root.name).toBe('Delete');
    expect(root.children.map((c) => c.name)).toEqual(['Object', 'Object', 'Quiet']);
    expect(root.children[0].children[0].text).toBe('a & b ☺ A');
    expect(root.children[1].children[0].text).toBe('<raw>&');
  });

  test.each([
    ['a DOCTYPE', '<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>', 'MalformedXML: .*DOCTYPE'],
    ['an entity declared nowhere', '<r>&x;</r>', 'MalformedXML: .*entity "&x;"'],
    ['a billion-laughs style reference', '<r>&lol9;</r>', 'MalformedXML'],
    ['an external entity attempt', '<!ENTITY x SYSTEM "file:///etc/passwd"><r/>', 'MalformedXML: .*declaration'],
    ['a markup declaration inside an element', '<r><!ELEMENT r ANY></r>', 'MalformedXML'],
    ['a bare ampersand', '<r>a & b</r>', 'MalformedXML: .*entity'],
    ['a reference to a non-XML character', '<r>&#0;</r>', 'MalformedXML: .*character reference'],
    ['a reference past Unicode', '<r>&#x110000;</r>', 'MalformedXML'],
    ['mismatched tags', '<a><b></a></b>', 'MalformedXML: .*closes'],
    ['an unclosed root', '<a><b></b>', 'MalformedXML: .*never closed'],
    ['two roots', '<a/><b/>', 'MalformedXML: .*after the root'],
    ['text before the root', 'x<a/>', 'MalformedXML'],
    ['an empty body', '   ', 'MalformedXML: .*empty'],
    ['an unterminated comment', '<a><!-- x</a>', 'MalformedXML: .*comment'],
    ['an unterminated CDATA', '<a><![CDATA[x</a>', 'MalformedXML: .*CDATA'],
    ['a broken start tag', '<a b></a>', 'MalformedXML: .*start tag'],
    ['a control character', '<a>\u0001</a>', 'MalformedXML: .*character'],
    ['not XML at all', '{"json": true}', 'MalformedXML'],
  ])('refuses %s', (_what, xml, expected) => {
    expect(codeOf(() => parse(xml))).toMatch(new RegExp(`^${expected}`));
  });

  test('refuses invalid UTF-8', () => {
    expect(codeOf(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]), { maxBytes: 100 }))).toMatch(/MalformedXML: .*UTF-8/);
  });

  test('bounds size, depth and element count', () => {
    expect(codeOf(() => parse('<a>' + 'x'.repeat(100) + '</a>', 50))).toMatch(/^MaxMessageLengthExceeded/);
    const deep = '<a>'.repeat(17) + '</a>'.repeat(17);
    expect(codeOf(() => parse(deep))).toMatch(/MalformedXML: .*deeper than 16/);
    expect(parse('<a>'.repeat(16) + '</a>'.repeat(16)).name).toBe('a');
    const many = '<r>' + '<p/>'.repeat(20) + '</r>';
    expect(codeOf(() => parseXml(Buffer.from(many), { maxBytes: 1000, maxElements: 20 }))).toMatch(/MalformedXML: .*more than 20 elements/);
  });

  test('never throws anything but an S3Error, whatever the bytes', () => {
    const fragments = ['<', '>', '/', 'a', '&', ';', '#', 'x', '!', '[', ']', '-', '?', '"', "'", '=', ' ', 'CDATA', 'amp', '\u00e9'];
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 3000; i++) {
      const xml = Array.from({ length: 1 + Math.floor(random() * 30) }, () => fragments[Math.floor(random() * fragments.length)]).join('');
      try {
        parse(xml);
      } catch (error) {
        expect(error).toBeInstanceOf(S3Error);
      }
    }
  });
});
