/** The objects model's domain errors (and the layers' below it, the upload slots' 503 and a failed request body) as S3 errors. */
import { FileTooLargeError } from '../files/errors';
import { HttpError } from '../http/http-error';
import { BodyBrokenError, BodyStalledError } from '../http/upload/client-stream';
import {
  AccessDeniedError,
  BucketExistsError,
  BucketNotEmptyError,
  InvalidPartError,
  NoSuchBucketError,
  NoSuchObjectError,
  NoSuchUploadError,
  PartTooSmallError,
} from '../objects/errors';
import { DomainError } from '../util/domain-error';
import { S3Error } from './errors';

export function toS3Error(error: unknown): S3Error {
  if (error instanceof S3Error) return error;
  if (error instanceof AccessDeniedError) return new S3Error('AccessDenied');
  if (error instanceof NoSuchBucketError) return new S3Error('NoSuchBucket', undefined, { BucketName: error.bucket });
  if (error instanceof NoSuchObjectError) return new S3Error('NoSuchKey', undefined, { Key: error.key });
  if (error instanceof NoSuchUploadError) return new S3Error('NoSuchUpload', undefined, { UploadId: error.uploadId });
  if (error instanceof BucketExistsError) return new S3Error(error.ownedByRequester ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { BucketName: error.bucket });
  if (error instanceof BucketNotEmptyError) return new S3Error('BucketNotEmpty', undefined, { BucketName: error.bucket });
  if (error instanceof InvalidPartError) return new S3Error('InvalidPart', undefined, { PartNumber: error.partNumber });
  if (error instanceof PartTooSmallError) {
    return new S3Error('EntityTooSmall', undefined, { PartNumber: error.partNumber, ProposedSize: error.size, MinSizeAllowed: error.minSize });
  }
  // A request body that stalled past BODY_IDLE_TIMEOUT_MS, or can never be whole (clientStream).
  if (error instanceof BodyStalledError) return new S3Error('RequestTimeout', `No part of the request body arrived for ${error.idleMs} ms.`);
  if (error instanceof BodyBrokenError) return new S3Error('IncompleteBody', error.message);
  // The upload slots (shared with the file API's limit) refuse with a 503: S3 says SlowDown.
  if (error instanceof HttpError && error.status === 503) return new S3Error('SlowDown');
  // Storage servers at their put limit: S3's answer to "too many requests at once".
  if (error instanceof DomainError && error.kind === 'busy') return new S3Error('SlowDown');
  if (error instanceof FileTooLargeError) return new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: error.maxFileSize });
  if (error instanceof DomainError && error.kind === 'unavailable') return new S3Error('ServiceUnavailable', error.publicMessage);
  if (error instanceof DomainError) return new S3Error('InvalidRequest', error.publicMessage);
  return S3Error.from(error);
}
