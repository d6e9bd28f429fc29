/** x-amz-copy-source (CopyObject, UploadPartCopy): which object, which bytes, on which conditions. */
import type { CopySource } from '../objects/objects';
import { checkConditions } from './conditions';
import type { S3Context, S3Deps } from './context';
import { S3Error } from './errors';
import { validateBucketName, validateObjectKey } from './names';

/**
 * `bucket/key` or `/bucket/key`, URL-encoded, optionally `?versionId=...` (only "null" exists
 * here); AccessDenied when the requester may not use the source's bucket.
 */
export async function copySource(ctx: S3Context, deps: S3Deps, options: { withRange: boolean }): Promise<CopySource> {
  const raw = ctx.header('x-amz-copy-source')!;
  const [pathPart, search] = raw.split('?', 2);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart.replace(/^\//, ''));
  } catch {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  }
  if (search !== undefined && !/^versionId=null$/.test(search)) throw new S3Error('NotImplemented', 'Object versions are not supported.');
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  validateBucketName(bucket);
  validateObjectKey(key);
  await deps.objects.access.check(ctx.auth.accessKeyId, bucket, 'use');
  const rangeHeader = options.withRange ? ctx.header('x-amz-copy-source-range') : undefined;
  return {
    bucket,
    key,
    check: (object) => void checkConditions((name) => ctx.header(name), object, 'x-amz-copy-source-'),
    range: rangeHeader === undefined ? undefined : (size) => copyRange(rangeHeader, size),
  };
}

/** `bytes=first-last`, both given and inside the source (S3 takes no other form here). */
function copyRange(header: string, size: number) {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header });
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end || end >= size) throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: header, ActualObjectSize: size });
  return { start, end };
}
