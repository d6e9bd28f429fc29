/**
 * A request body as the objects model takes it: the bytes (aws-chunked framing removed, with
 * its chunk signatures checked as they pass) and a BodyDigest that computes MD5 and the
 * flexible checksum while they stream, then, once the body is whole, checks every digest the
 * client announced (signed SHA-256, Content-MD5, x-amz-checksum-* header or trailer).
 */
import type { IncomingMessage } from 'node:http';
import { clientStream } from '../http/upload/client-stream';
import type { BodyDigest, IncomingBody } from '../objects/body';
import { AwsChunkedDecoder, awsChunkedOptions } from './aws-chunked';
import {
  BodyDigests,
  CHECKSUM_ALGORITHMS,
  checkDigest,
  checksumAlgorithmOfHeader,
  parseChecksumAlgorithm,
  parseChecksumValue,
  parseContentMd5,
  type ChecksumAlgorithm,
} from './checksums';
import { S3Error } from './errors';
import { createPayloadHashCheck, isStreamingPayload } from './payload-hash';
import { headerValue } from './sigv4-canonical';
import type { VerifiedRequest } from './sigv4-verifier';
import { singlePartEtag } from './etag';

export interface RequestBody {
  body: IncomingBody;
  digest: BodyDigest;
}

/** The flexible checksum a request carries in a header (at most one), with its value. */
function headerChecksum(req: IncomingMessage): { algorithm: ChecksumAlgorithm; digest: Buffer } | undefined {
  const sent = Object.values(CHECKSUM_ALGORITHMS).filter((info) => req.headersDistinct[info.header] !== undefined);
  if (sent.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  if (sent.length === 0) return undefined;
  return { algorithm: sent[0].name, digest: parseChecksumValue(sent[0].name, headerValue(req.headersDistinct, sent[0].header)!) };
}

interface BodyOptions {
  maxSize: number;
  /** BODY_IDLE_TIMEOUT_MS: a body with no new bytes for this long, while we wait for them, is cut (RequestTimeout). */
  idleMs: number;
  storedAlgorithm?: ChecksumAlgorithm;
  /** The x-amz-checksum-* headers are the object's, not this body's (CompleteMultipartUpload). */
  checksumHeadersNameTheObject?: boolean;
}

/**
 * The body of a PUT (object or part). `storedAlgorithm` is the checksum a multipart upload
 * keeps for every part, when it has one. Refuses up front what cannot be accepted (no length,
 * over maxSize); the digests are checked by seal(). The bytes come through the file API's
 * clientStream: a stalled body fails after `idleMs`, one cut short at once (see toS3Error).
 */
export function requestBody(req: IncomingMessage, auth: VerifiedRequest, options: BodyOptions): RequestBody {
  const headers = req.headersDistinct;
  const payload = auth.payload;
  const announced = options.checksumHeadersNameTheObject ? undefined : headerChecksum(req);
  const requested = headerValue(headers, 'x-amz-sdk-checksum-algorithm') ?? headerValue(headers, 'x-amz-checksum-algorithm');
  const contentMd5 = headerValue(headers, 'content-md5');
  const md5 = contentMd5 === undefined ? undefined : parseContentMd5(contentMd5);

  let stream: AsyncIterable<Buffer>;
  let size: number | undefined;
  let decoder: AwsChunkedDecoder | undefined;
  let trailerAlgorithm: ChecksumAlgorithm | undefined;
  if (isStreamingPayload(payload)) {
    const chunked = awsChunkedOptions(headers, payload as Parameters<typeof awsChunkedOptions>[1], payload.kind === 'streaming-signed' ? auth.signing : undefined);
    decoder = new AwsChunkedDecoder(chunked);
    // A request that fails (client gone) fails the decoder its reader iterates. Not pipeline():
    // a framing error must leave the request (and its socket) alive to carry the S3 error.
    req.on('error', (error) => decoder!.destroy(error));
    // The reader sees a framing error when it iterates (it may not have started yet: the bucket
    // is looked up first); an 'error' event with no listener would end the process.
    decoder.on('error', () => undefined);
    stream = clientStream(req.pipe(decoder), options.idleMs, req, (error) => error instanceof S3Error);
    size = chunked.decodedContentLength;
    trailerAlgorithm = chunked.declaredTrailers.length > 0 ? checksumAlgorithmOfHeader(chunked.declaredTrailers[0]) : undefined;
  } else {
    const length = headerValue(headers, 'content-length');
    if (length === undefined && headerValue(headers, 'transfer-encoding') === undefined) throw new S3Error('MissingContentLength');
    size = length === undefined ? undefined : Number(length);
    stream = clientStream(req, options.idleMs, req);
  }
  if (size !== undefined && size > options.maxSize) {
    throw new S3Error('EntityTooLarge', undefined, { ProposedSize: size, MaxSizeAllowed: options.maxSize });
  }
  const algorithm = announced?.algorithm ?? trailerAlgorithm ?? (requested ? parseChecksumAlgorithm(requested) : options.storedAlgorithm);
  const hashCheck = createPayloadHashCheck(payload);
  const digests = new BodyDigests(algorithm ? [algorithm] : []);

  const digest: BodyDigest = {
    update(data) {
      hashCheck.update(data);
      digests.update(data);
    },
    seal() {
      hashCheck.verify();
      const computed = digests.finish();
      if (size !== undefined && computed.size !== size) {
        throw new S3Error('IncompleteBody', `You did not provide the number of bytes announced (${size}); ${computed.size} arrived.`);
      }
      if (md5) checkDigest('Content-MD5', md5, computed.md5);
      if (announced) checkDigest(announced.algorithm, announced.digest, computed.checksums[announced.algorithm]!);
      const trailer = decoder?.trailerChecksum;
      if (trailer) checkDigest(trailer.algorithm, trailer.digest, computed.checksums[trailer.algorithm]!);
      return {
        etag: singlePartEtag(computed.md5),
        checksum: algorithm ? { algorithm, value: computed.checksums[algorithm]!.toString('base64'), type: 'FULL_OBJECT' } : null,
      };
    },
  };
  return { body: { stream, size }, digest };
}

/**
 * A small request body (an XML document) read whole, at most `limit` bytes
 * (MaxMessageLengthExceeded beyond), its digests checked.
 */
export async function readSmallBody(
  req: IncomingMessage,
  auth: VerifiedRequest,
  limit: number,
  options: Pick<BodyOptions, 'idleMs' | 'checksumHeadersNameTheObject'>,
): Promise<Buffer> {
  // A request without a length or any framing has no body (curl -X PUT sends none).
  if (!isStreamingPayload(auth.payload) && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    createPayloadHashCheck(auth.payload).verify();
    return Buffer.alloc(0);
  }
  const { body, digest } = requestBody(req, auth, { ...options, maxSize: Number.MAX_SAFE_INTEGER });
  if (body.size !== undefined && body.size > limit) throw new S3Error('MaxMessageLengthExceeded', `Your request was too big: at most ${limit} bytes.`);
  const pieces: Buffer[] = [];
  let received = 0;
  for await (const piece of body.stream) {
    received += piece.length;
    if (received > limit) throw new S3Error('MaxMessageLengthExceeded', `Your request was too big: at most ${limit} bytes.`);
    digest.update(piece);
    pieces.push(piece);
  }
  digest.seal();
  return Buffer.concat(pieces);
}
