/**
 * Conditional requests on an object (If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, and their x-amz-copy-source-if-* twins), with RFC 7232's precedence as
 * S3 applies it: a present If-Match decides over If-Unmodified-Since, a present If-None-Match
 * over If-Modified-Since.
 */
import type { ObjectRecord } from '../metadata/types';
import { S3Error } from './errors';

type Header = (name: string) => string | undefined;

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((item) => {
    const tag = item.trim().replace(/^W\//, '');
    return tag === '*' || tag.replace(/^"(.*)"$/, '$1') === etag;
  });
}

/** Dates compare at whole seconds (HTTP dates carry no more); an unparsable date is ignored, as S3 does. */
function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : Math.floor(time / 1000);
}

/** 'not-modified' for a GET/HEAD that gets 304; PreconditionFailed thrown for 412. */
export function checkConditions(header: Header, object: ObjectRecord, prefix = ''): 'ok' | 'not-modified' {
  const modified = Math.floor(object.lastModified.getTime() / 1000);
  const ifMatch = header(`${prefix}if-match`);
  const ifNoneMatch = header(`${prefix}if-none-match`);
  const unmodifiedSince = parseDate(header(`${prefix}if-unmodified-since`));
  const modifiedSince = parseDate(header(`${prefix}if-modified-since`));
  const failed = (condition: string) => new S3Error('PreconditionFailed', undefined, { Condition: condition });
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, object.etag)) throw failed(`${prefix}If-Match`);
  } else if (unmodifiedSince !== undefined && modified > unmodifiedSince) {
    throw failed(`${prefix}If-Unmodified-Since`);
  }
  // The copy-source twins of these fail with 412 too (there is no 304 for a copy).
  const notModified = prefix === '' ? () => 'not-modified' as const : (condition: string) => { throw failed(condition); };
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, object.etag)) return notModified(`${prefix}If-None-Match`);
  } else if (modifiedSince !== undefined && modified <= modifiedSince) {
    return notModified(`${prefix}If-Modified-Since`);
  }
  return 'ok';
}
