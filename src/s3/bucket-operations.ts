/** Operations on the service and on buckets: ListBuckets, Create/Head/Delete, location, listings. */
import type { ObjectSummary } from '../metadata/types';
import type { S3Context, S3Deps } from './context';
import { S3Error } from './errors';
import { quoteEtag } from './etag';
import { readSmallBody } from './incoming-body';
import {
  decodeContinuationToken,
  encodeContinuationToken,
  listingValue,
  parseEncodingType,
  parseMaxEntries,
  type EncodingType,
} from './listing';
import { MAX_BUCKET_CONFIGURATION_BYTES, parseCreateBucketConfiguration } from './request-bodies';
import { ownerFields, sendEmpty, sendXml } from './responses';
import { S3_XML_NAMESPACE } from './xml-writer';

export async function listBuckets(ctx: S3Context, deps: S3Deps): Promise<void> {
  const buckets = await deps.objects.listBuckets(ctx.auth.accessKeyId);
  sendXml(ctx.res, 'ListAllMyBucketsResult', {
    Owner: ownerFields(ctx.auth.accessKeyId),
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.createdAt })) },
  });
}

export async function createBucket(ctx: S3Context, deps: S3Deps): Promise<void> {
  parseCreateBucketConfiguration(await readSmallBody(ctx.req, ctx.auth, MAX_BUCKET_CONFIGURATION_BYTES, { idleMs: deps.bodyIdleTimeoutMs }));
  await deps.objects.createBucket(ctx.bucket, ctx.auth.accessKeyId);
  ctx.res.setHeader('Location', `/${ctx.bucket}`);
  sendEmpty(ctx.res);
}

export async function headBucket(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.headBucket(ctx.bucket);
  ctx.res.setHeader('x-amz-bucket-region', deps.region);
  sendEmpty(ctx.res);
}

export async function deleteBucket(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.deleteBucket(ctx.bucket);
  sendEmpty(ctx.res, 204);
}

export async function getBucketLocation(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.headBucket(ctx.bucket);
  // us-east-1 is the empty constraint, as S3 answers it.
  const region = deps.region === 'us-east-1' ? '' : deps.region;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_XML_NAMESPACE}">${region}</LocationConstraint>`;
  ctx.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  ctx.res.end(body);
}

/** A delimiter the store can seek past (one ending in U+10FFFF has no successor). */
function listingDelimiter(ctx: S3Context): string {
  const delimiter = ctx.query('delimiter') ?? '';
  if (delimiter.endsWith('\u{10FFFF}')) throw new S3Error('InvalidArgument', 'This delimiter is not supported.', { ArgumentName: 'delimiter' });
  return delimiter;
}

function contents(objects: ObjectSummary[], encoding: EncodingType, owner?: string) {
  return objects.map((o) => ({
    Key: listingValue(o.key, encoding),
    LastModified: o.lastModified,
    ETag: quoteEtag(o.etag),
    ...(o.checksum ? { ChecksumAlgorithm: o.checksum.algorithm, ChecksumType: o.checksum.type } : {}),
    Size: o.size,
    ...(owner ? { Owner: ownerFields(owner) } : {}),
    StorageClass: 'STANDARD',
  }));
}

/** ListObjects (V1: marker) and ListObjectsV2 (continuation-token, start-after). */
export async function listObjects(ctx: S3Context, deps: S3Deps, version: 1 | 2): Promise<void> {
  const encoding = parseEncodingType(ctx.query('encoding-type'));
  const prefix = ctx.query('prefix') ?? '';
  const delimiter = listingDelimiter(ctx);
  const maxKeys = parseMaxEntries('max-keys', ctx.query('max-keys'));
  const token = ctx.query('continuation-token');
  const startAfter = version === 1 ? (ctx.query('marker') ?? '') : token !== undefined ? decodeContinuationToken(token, ctx.bucket) : (ctx.query('start-after') ?? '');
  // start-after below the prefix starts the prefix's range: the store takes the larger.
  const listing = await deps.objects.listObjects(ctx.bucket, { prefix, delimiter, startAfter, maxKeys });
  const value = (text: string) => listingValue(text, encoding);
  const common = {
    Name: ctx.bucket,
    Prefix: value(prefix),
  };
  const entries = {
    Contents: contents(listing.objects, encoding, version === 1 || ctx.query('fetch-owner') === 'true' ? ctx.auth.accessKeyId : undefined),
    CommonPrefixes: listing.commonPrefixes.map((p) => ({ Prefix: value(p) })),
    EncodingType: encoding,
  };
  if (version === 1) {
    sendXml(ctx.res, 'ListBucketResult', {
      ...common,
      Marker: value(ctx.query('marker') ?? ''),
      NextMarker: listing.isTruncated && delimiter !== '' && listing.nextStartAfter !== undefined ? value(listing.nextStartAfter) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : value(delimiter),
      IsTruncated: listing.isTruncated,
      ...entries,
    });
    return;
  }
  sendXml(ctx.res, 'ListBucketResult', {
    ...common,
    ContinuationToken: token,
    NextContinuationToken: listing.isTruncated && listing.nextStartAfter !== undefined ? encodeContinuationToken(ctx.bucket, listing.nextStartAfter) : undefined,
    StartAfter: ctx.query('start-after') === undefined ? undefined : value(ctx.query('start-after')!),
    KeyCount: listing.objects.length + listing.commonPrefixes.length,
    MaxKeys: maxKeys,
    Delimiter: delimiter === '' ? undefined : value(delimiter),
    IsTruncated: listing.isTruncated,
    ...entries,
  });
}
