import type { ServerResponse } from 'node:http';
import { S3_XML_NAMESPACE, renderXmlDocument, type XmlFields } from './xml-writer';

/** A successful XML result. */
export function sendXml(res: ServerResponse, root: string, fields: XmlFields, status = 200): void {
  const body = renderXmlDocument(root, fields, { namespace: S3_XML_NAMESPACE });
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** A result without a body (204 for deletes, 200 for PUTs that answer with headers). */
export function sendEmpty(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** S3's Owner / Initiator element for an access key. */
export function ownerFields(accessKeyId: string): XmlFields {
  return { ID: accessKeyId, DisplayName: accessKeyId };
}
