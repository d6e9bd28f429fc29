/**
 * Renders S3 response bodies. A document is described as plain data: an object's keys are the
 * child elements in order, an array repeats its element, undefined leaves the element out. Every
 * text is escaped here, so a key or a metadata value can never change the document's shape.
 */

/** The namespace S3 puts on the root of every successful response (errors carry none). */
export const S3_XML_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export type XmlScalar = string | number | boolean | Date;
/** undefined and null omit the element; '' renders an empty element. */
export type XmlValue = XmlScalar | XmlFields | readonly XmlValue[] | undefined | null;
export interface XmlFields {
  readonly [element: string]: XmlValue;
}

const ELEMENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * XML 1.0 text: the five markup characters as entities; a carriage return and the C0 controls
 * XML 1.0 cannot carry literally as character references (as S3 sends them: parsers turn a
 * literal CR into LF, and a key may hold any character).
 */
export function escapeXmlText(text: string): string {
  return text.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000d\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

/** S3's timestamp form in XML bodies: ISO 8601 with milliseconds, UTC. */
function scalarText(value: XmlScalar): string {
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function renderElement(name: string, value: XmlValue, out: string[]): void {
  if (value === undefined || value === null) return;
  if (!ELEMENT_NAME.test(name)) throw new Error(`not an XML element name: ${JSON.stringify(name)}`);
  if (Array.isArray(value)) {
    for (const item of value) renderElement(name, item, out);
    return;
  }
  out.push(`<${name}>`);
  if (typeof value === 'object' && !(value instanceof Date)) renderFields(value as XmlFields, out);
  else out.push(escapeXmlText(scalarText(value as XmlScalar)));
  out.push(`</${name}>`);
}

function renderFields(fields: XmlFields, out: string[]): void {
  for (const [name, value] of Object.entries(fields)) renderElement(name, value, out);
}

/**
 * A whole document with its XML declaration. `namespace` goes on the root as S3 sends it
 * (S3_XML_NAMESPACE for results, none for <Error>).
 */
export function renderXmlDocument(root: string, fields: XmlFields, options: { namespace?: string } = {}): string {
  if (!ELEMENT_NAME.test(root)) throw new Error(`not an XML element name: ${JSON.stringify(root)}`);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  out.push(options.namespace === undefined ? `<${root}>` : `<${root} xmlns="${escapeXmlText(options.namespace)}">`);
  renderFields(fields, out);
  out.push(`</${root}>`);
  return out.join('');
}
