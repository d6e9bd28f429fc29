/**
 * What the objects model refuses, as domain errors: the S3 layer maps each class to its S3
 * code (src/s3/domain-errors.ts); nothing here knows about HTTP or S3's XML.
 */
import { DomainError } from '../util/domain-error';

export class NoSuchBucketError extends DomainError {
  readonly kind = 'not_found';
  constructor(readonly bucket: string) {
    super(`bucket ${bucket} does not exist`);
  }
}

export class NoSuchObjectError extends DomainError {
  readonly kind = 'not_found';
  constructor(readonly bucket: string, readonly key: string) {
    super(`object ${key} does not exist in bucket ${bucket}`);
  }
}

export class NoSuchUploadError extends DomainError {
  readonly kind = 'not_found';
  constructor(readonly uploadId: string) {
    super(`multipart upload ${uploadId} does not exist (never started, aborted or completed)`);
  }
}

/** CreateBucket of a name already taken; `ownedByRequester` when the requester made it. */
export class BucketExistsError extends DomainError {
  readonly kind = 'conflict';
  constructor(readonly bucket: string, readonly ownedByRequester: boolean) {
    super(`bucket ${bucket} already exists`);
  }
}

/** The requester's access key may not use (or delete) the bucket: it neither owns it nor is granted it. */
export class AccessDeniedError extends DomainError {
  readonly kind = 'forbidden';
  constructor(readonly bucket: string) {
    super(`this access key may not use bucket ${bucket}`);
  }
}

export class BucketNotEmptyError extends DomainError {
  readonly kind = 'conflict';
  constructor(readonly bucket: string) {
    super(`bucket ${bucket} is not empty`);
  }
}

/** A completion listed a part never uploaded, or with another ETag. */
export class InvalidPartError extends DomainError {
  readonly kind = 'invalid';
  constructor(readonly partNumber: number) {
    super(`part ${partNumber} was not uploaded, or its ETag is not the one listed`);
  }
}

/** A completion listed a part, not the last, under the minimum part size. */
export class PartTooSmallError extends DomainError {
  readonly kind = 'invalid';
  constructor(readonly partNumber: number, readonly size: number, readonly minSize: number) {
    super(`part ${partNumber} holds ${size} bytes; every part but the last must hold at least ${minSize}`);
  }
}
