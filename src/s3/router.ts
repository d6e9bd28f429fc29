/** Which S3 operation a request is, from its method, whether it names a bucket and a key, and its query. */
import type { S3Context, S3Deps } from './context';
import { S3Error } from './errors';
import type { RequestTarget } from './request-target';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets, listObjects } from './bucket-operations';
import { getObject, headObject } from './object-read';
import { copyObject, deleteObject, deleteObjects, putObject } from './object-write';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
  uploadPartCopy,
} from './multipart-operations';
import { getBucketVersioning, getObjectTagging } from './unconfigured-features';

export type Operation = (ctx: S3Context, deps: S3Deps) => Promise<void>;

export interface Route {
  /** S3's name for it (metrics, logs). */
  name: string;
  run: Operation;
  /** Stores bytes (a body or a copy): takes one of the upload slots (MAX_CONCURRENT_UPLOADS). */
  stores?: boolean;
}

/** Sub-resources of S3 that this endpoint does not serve: NotImplemented rather than a wrong answer. */
const UNSUPPORTED_SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'logging', 'metadataConfiguration', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy',
  'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select', 'session',
  'tagging', 'torrent', 'versioning', 'versions', 'website',
];

function unsupported(name: string): Route {
  return {
    name,
    run: async () => {
      throw new S3Error('NotImplemented', `${name} is not implemented by ringstore's S3 API.`);
    },
  };
}

function notAllowed(method: string): Route {
  return {
    name: 'MethodNotAllowed',
    run: async () => {
      throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
    },
  };
}

export function routeOf(method: string, target: RequestTarget, hasCopySource: boolean): Route {
  const has = (name: string) => target.query.has(name);
  const subresource = UNSUPPORTED_SUBRESOURCES.find(has);
  if (target.bucket === undefined) {
    return method === 'GET' || method === 'HEAD' ? { name: 'ListBuckets', run: listBuckets } : notAllowed(method);
  }
  if (target.key === undefined) {
    if (method === 'GET' && subresource === 'versioning') return { name: 'GetBucketVersioning', run: getBucketVersioning };
    if (subresource) return unsupported(`${method} bucket ?${subresource}`);
    switch (method) {
      case 'GET':
        if (has('location')) return { name: 'GetBucketLocation', run: getBucketLocation };
        if (has('uploads')) return { name: 'ListMultipartUploads', run: listMultipartUploads };
        if (target.query.get('list-type') === '2') return { name: 'ListObjectsV2', run: (ctx, deps) => listObjects(ctx, deps, 2) };
        return { name: 'ListObjects', run: (ctx, deps) => listObjects(ctx, deps, 1) };
      case 'HEAD': return { name: 'HeadBucket', run: headBucket };
      case 'PUT': return { name: 'CreateBucket', run: createBucket };
      case 'DELETE': return { name: 'DeleteBucket', run: deleteBucket };
      case 'POST': return has('delete') ? { name: 'DeleteObjects', run: deleteObjects } : notAllowed(method);
      default: return notAllowed(method);
    }
  }
  if (method === 'GET' && subresource === 'tagging') return { name: 'GetObjectTagging', run: getObjectTagging };
  if (subresource) return unsupported(`${method} object ?${subresource}`);
  if ((method === 'GET' || method === 'HEAD') && has('partNumber')) return unsupported(`${method} object by partNumber`);
  switch (method) {
    case 'GET': return has('uploadId') ? { name: 'ListParts', run: listParts } : { name: 'GetObject', run: getObject };
    case 'HEAD': return { name: 'HeadObject', run: headObject };
    case 'PUT':
      if (has('uploadId') || has('partNumber')) {
        return hasCopySource ? { name: 'UploadPartCopy', run: uploadPartCopy, stores: true } : { name: 'UploadPart', run: uploadPart, stores: true };
      }
      return hasCopySource ? { name: 'CopyObject', run: copyObject, stores: true } : { name: 'PutObject', run: putObject, stores: true };
    case 'POST':
      if (has('uploads')) return { name: 'CreateMultipartUpload', run: createMultipartUpload };
      if (has('uploadId')) return { name: 'CompleteMultipartUpload', run: completeMultipartUpload };
      return notAllowed(method);
    case 'DELETE': return has('uploadId') ? { name: 'AbortMultipartUpload', run: abortMultipartUpload } : { name: 'DeleteObject', run: deleteObject };
    default: return notAllowed(method);
  }
}
