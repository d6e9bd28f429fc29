/**
 * Reads of S3 features ringstore does not have, answered as S3 answers them where nothing was
 * ever configured, because tools ask before they act: `aws s3 cp`/`mv` of a multipart object
 * from bucket to bucket reads its tags to copy them, rclone reads a bucket's versioning before
 * purging it. Setting either stays NotImplemented (router.ts), and tags sent with an upload are
 * refused (object-headers.ts), so these answers are true.
 */
import type { S3Context, S3Deps } from './context';
import { sendXml } from './responses';

/** Versioning was never enabled: an empty configuration (no Status). */
export async function getBucketVersioning(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.headBucket(ctx.bucket);
  sendXml(ctx.res, 'VersioningConfiguration', {});
}

/** No object has tags: an empty tag set. */
export async function getObjectTagging(ctx: S3Context, deps: S3Deps): Promise<void> {
  await deps.objects.headObject(ctx.bucket, ctx.key);
  sendXml(ctx.res, 'Tagging', { TagSet: {} });
}
