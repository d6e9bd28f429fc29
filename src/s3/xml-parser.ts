/**
 * A bounded parser for the small XML documents S3 clients send (CompleteMultipartUpload, Delete,
 * CreateBucketConfiguration). Hand-written rather than a general XML library because it only has
 * to accept elements, text, comments, CDATA and the predefined entities, and it must refuse what
 * a general parser would honour: a DOCTYPE (the door to entity expansion and external entities)
 * and any entity it does not know. Limits on size, depth and element count bound its work.
 * Everything it refuses is an S3Error (MalformedXML, or MaxMessageLengthExceeded for size).
 */
import { S3Error } from './errors';

export interface XmlElement {
  /** Local name: a namespace prefix (`s3:Part`) is dropped, as S3 ignores namespaces here. */
  name: string;
  children: XmlElement[];
  /** The element's own text (entities decoded), outside its children. */
  text: string;
}

export interface XmlLimits {
  maxBytes: number;
  maxDepth?: number;
  maxElements?: number;
}

const DEFAULT_MAX_DEPTH = 16;
const DEFAULT_MAX_ELEMENTS = 100_000;

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?/y;
const ATTRIBUTE = /\s+([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/y;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// XML 1.0 Char: tab, LF, CR, and everything from space up except surrogates and U+FFFE/U+FFFF.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: ${detail}`);
}

function decodeEntities(raw: string): string {
  if (raw.includes('<')) throw malformed("'<' in text");
  return raw.replace(/&([^;&\s]{0,10});?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw malformed(`an unterminated entity reference "${whole}"`);
    if (name in PREDEFINED) return PREDEFINED[name];
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!numeric) throw malformed(`entity "&${name};" is not allowed (only the five predefined ones and character references)`);
    const codePoint = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
    const char = codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '';
    if (char === '' || NOT_XML_CHAR.test(char)) throw malformed(`character reference "&${name};" is not an XML character`);
    return char;
  });
}

/** Parses one document into its root element, or throws an S3Error saying what is wrong. */
export function parseXml(body: Buffer, limits: XmlLimits): XmlElement {
  if (body.length > limits.maxBytes) {
    throw new S3Error('MaxMessageLengthExceeded', `Your request was too big: an XML body may be at most ${limits.maxBytes} bytes.`);
  }
  let source: string;
  try {
    source = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw malformed('the body is not valid UTF-8');
  }
  if (NOT_XML_CHAR.test(source)) throw malformed('the body holds a character XML does not allow');
  return new Parser(source, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxElements ?? DEFAULT_MAX_ELEMENTS).document();
}

class Parser {
  private pos = 0;
  private elements = 0;

  constructor(
    private readonly src: string,
    private readonly maxDepth: number,
    private readonly maxElements: number,
  ) {}

  document(): XmlElement {
    if (this.src.startsWith('\ufeff')) this.pos = 1;
    this.skipMisc();
    if (this.pos >= this.src.length) throw malformed('the document is empty');
    if (this.src[this.pos] !== '<') throw malformed('text before the root element');
    const root = this.element(1);
    this.skipMisc();
    if (this.pos < this.src.length) throw malformed('content after the root element');
    return root;
  }

  /** Whitespace, comments and processing instructions (the <?xml ...?> declaration). */
  private skipMisc(): void {
    for (;;) {
      while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
      if (this.src.startsWith('<?', this.pos)) this.pos = this.after('?>', 'processing instruction');
      else if (this.src.startsWith('<!--', this.pos)) this.pos = this.after('-->', 'comment');
      else if (this.src.startsWith('<!', this.pos)) throw this.refusedDeclaration();
      else return;
    }
  }

  private refusedDeclaration(): S3Error {
    return this.src.startsWith('<!DOCTYPE', this.pos) ? malformed('a DOCTYPE is not allowed') : malformed('a markup declaration is not allowed');
  }

  /** The position just past the next `end`, or MalformedXML when there is none. */
  private after(end: string, what: string): number {
    const at = this.src.indexOf(end, this.pos);
    if (at < 0) throw malformed(`an unterminated ${what}`);
    return at + end.length;
  }

  private name(): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.src);
    if (!match) throw malformed(`an element name expected at offset ${this.pos}`);
    this.pos = NAME.lastIndex;
    return match[0];
  }

  private element(depth: number): XmlElement {
    if (depth > this.maxDepth) throw malformed(`elements nested deeper than ${this.maxDepth}`);
    if (++this.elements > this.maxElements) throw malformed(`more than ${this.maxElements} elements`);
    this.pos++; // '<'
    const qualified = this.name();
    this.attributes();
    const element: XmlElement = { name: qualified.slice(qualified.indexOf(':') + 1), children: [], text: '' };
    if (this.src.startsWith('/>', this.pos)) {
      this.pos += 2;
      return element;
    }
    if (this.src[this.pos] !== '>') throw malformed(`a malformed start tag <${qualified}>`);
    this.pos++;
    const text: string[] = [];
    for (;;) {
      const next = this.src.indexOf('<', this.pos);
      if (next < 0) throw malformed(`<${qualified}> is never closed`);
      text.push(decodeEntities(this.src.slice(this.pos, next)));
      this.pos = next;
      if (this.src.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.name();
        if (closing !== qualified) throw malformed(`</${closing}> closes <${qualified}>`);
        while (/\s/.test(this.src[this.pos] ?? '')) this.pos++;
        if (this.src[this.pos] !== '>') throw malformed(`a malformed end tag </${closing}>`);
        this.pos++;
        element.text = text.join('');
        return element;
      }
      if (this.src.startsWith('<![CDATA[', this.pos)) {
        const end = this.src.indexOf(']]>', this.pos);
        if (end < 0) throw malformed('an unterminated CDATA section');
        text.push(this.src.slice(this.pos + 9, end));
        this.pos = end + 3;
      } else if (this.src.startsWith('<!--', this.pos)) {
        this.pos = this.after('-->', 'comment');
      } else if (this.src.startsWith('<?', this.pos)) {
        this.pos = this.after('?>', 'processing instruction');
      } else if (this.src.startsWith('<!', this.pos)) {
        throw this.refusedDeclaration();
      } else {
        element.children.push(this.element(depth + 1));
      }
    }
  }

  /** Attributes (xmlns and the like) are checked for form and otherwise ignored. */
  private attributes(): void {
    for (;;) {
      ATTRIBUTE.lastIndex = this.pos;
      const match = ATTRIBUTE.exec(this.src);
      if (!match) break;
      decodeEntities(match[2].slice(1, -1));
      this.pos = ATTRIBUTE.lastIndex;
    }
    while (/\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }
}
