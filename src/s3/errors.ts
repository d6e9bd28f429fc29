/**
 * S3 errors: the codes, HTTP statuses and default messages S3 answers with, and their XML body.
 * Every piece of the S3 layer throws S3Error; the router renders it (anything else becomes an
 * InternalError whose message reveals nothing of the cause).
 */
import { renderXmlDocument } from './xml-writer';

const CODES = {
  AccessDenied: [403, 'Access Denied'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'The query parameters that authorize this request are malformed.'],
  BadDigest: [400, 'The Content-MD5 or checksum you specified did not match what we received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available. Please select a different name and try again.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified was invalid.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidURI: [400, 'Couldn\'t parse the specified URI.'],
  KeyTooLongError: [400, 'Your key is too long'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedTrailerError: [400, 'The request contained trailing data that was not well-formed or did not conform to our published schema.'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchUpload: [404, 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  ServiceUnavailable: [503, 'Service is unable to handle request.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  SlowDown: [503, 'Please reduce your request rate.'],
  XAmzContentSHA256Mismatch: [400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof CODES;

/** Extra elements of the <Error> body (BucketName, Key, UploadId, ArgumentName, ...). */
export type S3ErrorFields = Record<string, string | number | undefined>;

export class S3Error extends Error {
  readonly status: number;

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    readonly fields: S3ErrorFields = {},
  ) {
    super(message ?? CODES[code][1]);
    this.name = 'S3Error';
    this.status = CODES[code][0];
  }

  /** The body S3 sends: <Error><Code/><Message/>...extra fields...<Resource/><RequestId/></Error>. */
  toXml(resource: string, requestId: string): string {
    return renderXmlDocument('Error', {
      Code: this.code,
      Message: this.message,
      ...this.fields,
      Resource: resource,
      RequestId: requestId,
    });
  }

  /** An S3Error as it is; anything else an InternalError that says nothing of the cause. */
  static from(error: unknown): S3Error {
    return error instanceof S3Error ? error : new S3Error('InternalError');
  }
}

