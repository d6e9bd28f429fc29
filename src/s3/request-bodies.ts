/**
 * The XML request bodies S3 operations take, parsed and checked into plain values. Limits: the
 * size cap bounds memory; element counts follow from S3's own maxima (10,000 parts, 1,000 keys).
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './checksums';
import { S3Error } from './errors';
import { MAX_PART_NUMBER, parsePartNumber } from './names';
import { parseXml, type XmlElement } from './xml-parser';

/** A body of 10,000 parts with every checksum and pretty-printing stays far below this. */
export const MAX_COMPLETE_BODY_BYTES = 8 * 1024 * 1024;
/** 1,000 keys of 1,024 bytes, even written as character references, fit. */
export const MAX_DELETE_BODY_BYTES = 8 * 1024 * 1024;
export const MAX_BUCKET_CONFIGURATION_BYTES = 64 * 1024;
export const MAX_DELETE_KEYS = 1000;

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: ${detail}`);
}

function expectRoot(root: XmlElement, name: string): void {
  if (root.name !== name) throw malformed(`the root element must be <${name}>, not <${root.name}>`);
}

/** The text of the one child named `name`; undefined when absent, MalformedXML when repeated. */
function childText(parent: XmlElement, name: string): string | undefined {
  const found = parent.children.filter((child) => child.name === name);
  if (found.length > 1) throw malformed(`<${parent.name}> holds <${name}> more than once`);
  return found[0]?.text;
}

/** An ETag as clients send it back: with or without its quotes. */
function unquoteEtag(etag: string): string {
  const trimmed = etag.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

export interface CompletedPart {
  partNumber: number;
  /** Without quotes. */
  etag: string;
  /** Checksums the client sent for the part, base64 as S3 returns them. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/**
 * CompleteMultipartUpload: 1 to 10,000 parts in strictly ascending part-number order
 * (InvalidPartOrder otherwise, as S3 answers), each with a part number and an ETag.
 */
export function parseCompleteMultipartUpload(body: Buffer): CompletedPart[] {
  const root = parseXml(body, { maxBytes: MAX_COMPLETE_BODY_BYTES });
  expectRoot(root, 'CompleteMultipartUpload');
  const parts = root.children.filter((child) => child.name === 'Part');
  if (parts.length === 0) throw malformed('a CompleteMultipartUpload must list at least one part');
  if (parts.length > MAX_PART_NUMBER) throw malformed(`a CompleteMultipartUpload lists at most ${MAX_PART_NUMBER} parts`);
  const completed = parts.map((part): CompletedPart => {
    const number = childText(part, 'PartNumber');
    const etag = childText(part, 'ETag');
    if (number === undefined || etag === undefined) throw malformed('every <Part> needs a <PartNumber> and an <ETag>');
    const checksums: CompletedPart['checksums'] = {};
    for (const algorithm of Object.values(CHECKSUM_ALGORITHMS)) {
      const value = childText(part, algorithm.xmlElement);
      if (value !== undefined) checksums[algorithm.name] = value.trim();
    }
    return { partNumber: parsePartNumber(number.trim()), etag: unquoteEtag(etag), checksums };
  });
  for (let i = 1; i < completed.length; i++) {
    if (completed[i].partNumber <= completed[i - 1].partNumber) throw new S3Error('InvalidPartOrder');
  }
  return completed;
}

export interface DeleteRequest {
  quiet: boolean;
  objects: { key: string; versionId?: string }[];
}

/** DeleteObjects: 1 to 1,000 <Object><Key> entries; keys are checked one by one by the caller. */
export function parseDeleteObjects(body: Buffer): DeleteRequest {
  const root = parseXml(body, { maxBytes: MAX_DELETE_BODY_BYTES });
  expectRoot(root, 'Delete');
  const quiet = childText(root, 'Quiet')?.trim();
  if (quiet !== undefined && quiet !== 'true' && quiet !== 'false') throw malformed('<Quiet> must be true or false');
  const entries = root.children.filter((child) => child.name === 'Object');
  if (entries.length === 0) throw malformed('a Delete must list at least one <Object>');
  if (entries.length > MAX_DELETE_KEYS) throw malformed(`a Delete lists at most ${MAX_DELETE_KEYS} objects`);
  const objects = entries.map((entry) => {
    const key = childText(entry, 'Key');
    if (key === undefined) throw malformed('every <Object> needs a <Key>');
    const versionId = childText(entry, 'VersionId');
    return versionId === undefined ? { key } : { key, versionId };
  });
  return { quiet: quiet === 'true', objects };
}

/** CreateBucket's optional body; an empty body means no configuration. */
export function parseCreateBucketConfiguration(body: Buffer): { locationConstraint?: string } {
  if (body.length <= MAX_BUCKET_CONFIGURATION_BYTES && body.toString('utf8').trim() === '') return {};
  const root = parseXml(body, { maxBytes: MAX_BUCKET_CONFIGURATION_BYTES });
  expectRoot(root, 'CreateBucketConfiguration');
  const location = childText(root, 'LocationConstraint')?.trim();
  return location ? { locationConstraint: location } : {};
}
