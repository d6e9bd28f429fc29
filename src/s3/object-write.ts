/** PutObject, CopyObject, DeleteObject, DeleteObjects. */
import type { BodyDigest } from '../objects/body';
import type { ObjectRecord } from '../metadata/types';
import { BodyDigests, parseChecksumAlgorithm, type ChecksumAlgorithm } from './checksums';
import type { S3Context, S3Deps } from './context';
import { copySource } from './copy-source';
import { S3Error } from './errors';
import { quoteEtag, singlePartEtag } from './etag';
import { readSmallBody, requestBody } from './incoming-body';
import { validateObjectKey } from './names';
import { checksumElements, checksumHeader, metadataFromHeaders } from './object-headers';
import { MAX_DELETE_BODY_BYTES, parseDeleteObjects } from './request-bodies';
import { sendEmpty, sendXml } from './responses';
import { toS3Error } from './domain-errors';

export async function putObject(ctx: S3Context, deps: S3Deps): Promise<void> {
  const metadata = metadataFromHeaders(ctx.req);
  const { body, digest } = requestBody(ctx.req, ctx.auth, { maxSize: deps.maxPutSize, idleMs: deps.bodyIdleTimeoutMs });
  const object = await deps.objects.putObject({ bucket: ctx.bucket, key: ctx.key }, metadata, body, digest);
  sendStored(ctx, object);
}

/** A PUT's answer: the ETag, and the checksum when one is stored. */
function sendStored(ctx: S3Context, object: Pick<ObjectRecord, 'etag' | 'checksum'>): void {
  ctx.res.setHeader('ETag', quoteEtag(object.etag));
  for (const [name, value] of Object.entries(checksumHeader(object))) ctx.res.setHeader(name, value);
  sendEmpty(ctx.res);
}

/** The digest of bytes copied server-side: MD5 for the ETag, and the checksum asked for, if any. */
export function copyDigest(algorithm: ChecksumAlgorithm | undefined): BodyDigest {
  const digests = new BodyDigests(algorithm ? [algorithm] : []);
  return {
    update: (data) => digests.update(data),
    seal: () => {
      const { md5, checksums } = digests.finish();
      return {
        etag: singlePartEtag(md5),
        checksum: algorithm ? { algorithm, value: checksums[algorithm]!.toString('base64'), type: 'FULL_OBJECT' } : null,
      };
    },
  };
}

export async function copyObject(ctx: S3Context, deps: S3Deps): Promise<void> {
  const source = await copySource(ctx, deps, { withRange: false });
  const directive = (ctx.header('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
  }
  if (directive === 'COPY' && source.bucket === ctx.bucket && source.key === ctx.key) {
    throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const requested = ctx.header('x-amz-checksum-algorithm');
  const algorithm = requested ? parseChecksumAlgorithm(requested) : undefined;
  const metadata = directive === 'REPLACE' ? metadataFromHeaders(ctx.req) : undefined;
  // Without x-amz-checksum-algorithm the copy keeps the source's algorithm, as S3 does.
  const object = await deps.objects.copyObject(source, { bucket: ctx.bucket, key: ctx.key }, metadata, (from) =>
    copyDigest(algorithm ?? (from.checksum?.algorithm as ChecksumAlgorithm | undefined)));
  sendXml(ctx.res, 'CopyObjectResult', { ETag: quoteEtag(object.etag), LastModified: object.lastModified, ...checksumElements(object.checksum) });
}

export async function deleteObject(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.deleteObject(ctx.bucket, ctx.key);
  sendEmpty(ctx.res, 204);
}

/** Up to 1,000 keys; a key S3 cannot hold is an <Error> entry, one that is not there is deleted anyway (as S3). */
export async function deleteObjects(ctx: S3Context, deps: S3Deps): Promise<void> {
  const request = parseDeleteObjects(await readSmallBody(ctx.req, ctx.auth, MAX_DELETE_BODY_BYTES, { idleMs: deps.bodyIdleTimeoutMs }));
  const errors: { Key: string; Code: string; Message: string }[] = [];
  const valid: string[] = [];
  for (const { key } of request.objects) {
    try {
      validateObjectKey(key);
      valid.push(key);
    } catch (error) {
      const s3 = toS3Error(error);
      errors.push({ Key: key, Code: s3.code, Message: s3.message });
    }
  }
  if (valid.length > 0) await deps.objects.deleteObjects(ctx.bucket, valid);
  else await deps.objects.headBucket(ctx.bucket);
  sendXml(ctx.res, 'DeleteResult', {
    Deleted: request.quiet ? undefined : valid.map((key) => ({ Key: key })),
    Error: errors,
  });
}
