/**
 * Decodes `Content-Encoding: aws-chunked` bodies, the framing of SigV4 streaming uploads:
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
 *   then, for the trailer modes, <name>:<value>\r\n lines (x-amz-checksum-*, and
 *   x-amz-trailer-signature:<sig> when signed), then \r\n.
 *
 * A Transform: data leaves in the pieces it arrived in (no copy, constant memory, the pipe's
 * backpressure), and framing lines are bounded. Signed chunks are verified as each one ends,
 * chained from the request's seed signature; a chunk's bytes have already gone downstream by
 * then, so the consumer treats the stream as good only when it ends without error (the same
 * rule as for a signed SHA-256 payload). The decoded length must equal
 * x-amz-decoded-content-length exactly.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { checksumAlgorithmOfHeader, parseChecksumValue, type ChecksumAlgorithm } from './checksums';
import { S3Error } from './errors';
import type { PayloadMode } from './payload-hash';
import { headerValue, hmac, sha256Hex, signaturesEqual, type RequestHeaders } from './sigv4-canonical';
import type { ChunkSigningContext } from './sigv4-verifier';

const EMPTY_SHA256 = sha256Hex('');
/** A chunk header is `<16 hex digits at most>;chunk-signature=<64 hex>`: far below this. */
const MAX_LINE_BYTES = 4096;
const MAX_TRAILER_LINES = 8;
const CHUNK_HEADER = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/;
const TRAILER_LINE = /^([A-Za-z0-9-]+):(.*)$/;

export interface AwsChunkedOptions {
  /** 'streaming-signed' or 'streaming-unsigned-trailer' (from the verified request). */
  payload: Extract<PayloadMode, { kind: 'streaming-signed' | 'streaming-unsigned-trailer' }>;
  /** From x-amz-decoded-content-length. */
  decodedContentLength: number;
  /** The trailers announced in x-amz-trailer (lower case); only these may come. */
  declaredTrailers: readonly string[];
  /** Required for signed payloads. */
  signing?: ChunkSigningContext;
}

/** The checksum a trailer carried, verified for form (its value is checked against the body by the caller). */
export interface TrailerChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as sent. */
  value: string;
  digest: Buffer;
}

type State = 'chunk-header' | 'chunk-data' | 'chunk-end' | 'trailer' | 'final-crlf' | 'done';

function incomplete(detail: string): S3Error {
  return new S3Error('IncompleteBody', `The aws-chunked body is incomplete: ${detail}.`);
}

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', `The aws-chunked body is malformed: ${detail}.`);
}

function signatureMismatch(what: string): S3Error {
  return new S3Error('SignatureDoesNotMatch', `The ${what} signature we calculated does not match the signature you provided.`);
}

export class AwsChunkedDecoder extends Transform {
  /** The checksum trailer, once the stream has ended (undefined when none was sent). */
  trailerChecksum: TrailerChecksum | undefined;

  private state: State = 'chunk-header';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private chunkRemaining = 0;
  private chunkSignature: string | undefined;
  private chunkHash = createHash('sha256');
  private previousSignature: string;
  private decoded = 0;
  private readonly trailerLines: string[] = [];
  private readonly signed: boolean;
  private readonly withTrailer: boolean;

  constructor(private readonly options: AwsChunkedOptions) {
    super();
    this.signed = options.payload.kind === 'streaming-signed';
    this.withTrailer = options.payload.kind === 'streaming-unsigned-trailer' || (options.payload.kind === 'streaming-signed' && options.payload.trailer);
    if (this.signed && !options.signing) throw new Error('a signed aws-chunked body needs the request signing context');
    this.previousSignature = options.signing?.seedSignature ?? '';
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(data);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== 'done') {
      callback(incomplete(`the body ended after ${this.decoded} of ${this.options.decodedContentLength} bytes, before its final chunk`));
      return;
    }
    callback();
  }

  private consume(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      if (this.state === 'done') throw malformed('bytes follow the final chunk');
      if (this.state === 'chunk-data') {
        const take = Math.min(this.chunkRemaining, data.length - at);
        const piece = data.subarray(at, at + take);
        if (this.signed) this.chunkHash.update(piece);
        this.push(piece);
        at += take;
        this.chunkRemaining -= take;
        if (this.chunkRemaining === 0) this.state = 'chunk-end';
        continue;
      }
      const newline = data.indexOf(0x0a, at);
      const end = newline < 0 ? data.length : newline + 1;
      this.lineBytes += end - at;
      if (this.lineBytes > MAX_LINE_BYTES) throw malformed(`a framing line is longer than ${MAX_LINE_BYTES} bytes`);
      this.line.push(data.subarray(at, end));
      at = end;
      if (newline >= 0) this.endOfLine();
    }
  }

  /** A whole framing line (ending \r\n) has arrived. */
  private endOfLine(): void {
    const raw = Buffer.concat(this.line).toString('latin1');
    this.line = [];
    this.lineBytes = 0;
    if (!raw.endsWith('\r\n')) throw malformed('a framing line does not end with CRLF');
    const line = raw.slice(0, -2);
    switch (this.state) {
      case 'chunk-header': return this.chunkHeader(line);
      case 'chunk-end':
        if (line !== '') throw malformed('a chunk is longer than its declared size');
        this.chunkEnded();
        this.state = 'chunk-header';
        return;
      case 'trailer': return this.trailerLine(line);
      case 'final-crlf':
        if (line !== '') throw malformed('the final chunk is not followed by an empty line');
        this.state = 'done';
        return;
    }
  }

  private chunkHeader(line: string): void {
    const match = CHUNK_HEADER.exec(line);
    if (!match) throw malformed(`"${line.slice(0, 100)}" is not a chunk header`);
    if (this.signed !== (match[2] !== undefined)) {
      throw malformed(this.signed ? 'a chunk has no chunk-signature' : 'an unsigned payload carries a chunk-signature');
    }
    const size = parseInt(match[1], 16);
    if (size > this.options.decodedContentLength - this.decoded) {
      throw malformed(`the chunks hold more than x-amz-decoded-content-length (${this.options.decodedContentLength}) bytes`);
    }
    this.decoded += size;
    this.chunkRemaining = size;
    this.chunkSignature = match[2];
    if (size > 0) {
      this.state = 'chunk-data';
      return;
    }
    // The final, empty chunk.
    this.chunkEnded();
    if (this.decoded !== this.options.decodedContentLength) {
      throw incomplete(`the chunks hold ${this.decoded} bytes, x-amz-decoded-content-length says ${this.options.decodedContentLength}`);
    }
    this.state = this.withTrailer ? 'trailer' : 'final-crlf';
  }

  /** Checks a signed chunk's signature, the next link of the chain. */
  private chunkEnded(): void {
    if (!this.signed) return;
    const { signingKey, amzDate, scope } = this.options.signing!;
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, this.previousSignature, EMPTY_SHA256, this.chunkHash.digest('hex')].join('\n');
    const expected = hmac(signingKey, toSign).toString('hex');
    if (!signaturesEqual(expected, this.chunkSignature!)) throw signatureMismatch('chunk');
    this.previousSignature = expected;
    this.chunkHash = createHash('sha256');
  }

  private trailerLine(line: string): void {
    if (line === '') return this.trailersEnded();
    if (this.trailerLines.length >= MAX_TRAILER_LINES) throw new S3Error('MalformedTrailerError', 'Too many trailer lines.');
    if (!TRAILER_LINE.test(line)) throw new S3Error('MalformedTrailerError', `"${line.slice(0, 100)}" is not a trailer line.`);
    this.trailerLines.push(line);
  }

  private trailersEnded(): void {
    const fields = this.trailerLines.map((line) => {
      const colon = line.indexOf(':');
      return { name: line.slice(0, colon).toLowerCase(), value: line.slice(colon + 1).trim() };
    });
    const signature = fields.find((field) => field.name === 'x-amz-trailer-signature');
    const headers = fields.filter((field) => field.name !== 'x-amz-trailer-signature');
    for (const field of headers) {
      if (!this.options.declaredTrailers.includes(field.name)) {
        throw new S3Error('MalformedTrailerError', `The trailer ${field.name} was not declared in x-amz-trailer.`);
      }
    }
    const missing = this.options.declaredTrailers.filter((name) => !headers.some((field) => field.name === name));
    if (missing.length > 0) throw new S3Error('MalformedTrailerError', `The trailer ${missing.join(', ')} declared in x-amz-trailer was not sent.`);
    if (this.signed) {
      if (signature === undefined) throw new S3Error('MalformedTrailerError', 'The trailer has no x-amz-trailer-signature.');
      const { signingKey, amzDate, scope } = this.options.signing!;
      const canonical = headers.map((field) => `${field.name}:${field.value}\n`).join('');
      const toSign = ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, this.previousSignature, sha256Hex(canonical)].join('\n');
      const expected = hmac(signingKey, toSign).toString('hex');
      if (!signaturesEqual(expected, signature.value)) throw signatureMismatch('trailer');
    } else if (signature !== undefined) {
      throw new S3Error('MalformedTrailerError', 'An unsigned payload carries an x-amz-trailer-signature.');
    }
    for (const field of headers) {
      const algorithm = checksumAlgorithmOfHeader(field.name)!;
      this.trailerChecksum = { algorithm, value: field.value, digest: parseChecksumValue(algorithm, field.value) };
    }
    this.state = 'done';
  }
}

/**
 * The decoder options from a streaming request's headers: x-amz-decoded-content-length
 * (required: MissingContentLength) and x-amz-trailer (checksum trailers only, at most one).
 */
export function awsChunkedOptions(
  headers: RequestHeaders,
  payload: AwsChunkedOptions['payload'],
  signing: ChunkSigningContext | undefined,
): AwsChunkedOptions {
  const lengthText = headerValue(headers, 'x-amz-decoded-content-length');
  if (lengthText === undefined) throw new S3Error('MissingContentLength', 'You must provide x-amz-decoded-content-length with an aws-chunked body.');
  if (!/^\d{1,15}$/.test(lengthText.trim())) {
    throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length must be a number of bytes.', { ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: lengthText });
  }
  const declaredTrailers = (headerValue(headers, 'x-amz-trailer') ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  for (const name of declaredTrailers) {
    if (checksumAlgorithmOfHeader(name) === undefined) throw new S3Error('InvalidRequest', `The trailer ${name} is not supported: only x-amz-checksum-* trailers are.`);
  }
  if (declaredTrailers.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- trailer.');
  const withTrailer = payload.kind === 'streaming-unsigned-trailer' || payload.trailer;
  if (!withTrailer && declaredTrailers.length > 0) throw new S3Error('InvalidRequest', 'x-amz-trailer needs a ...-TRAILER x-amz-content-sha256.');
  return { payload, decodedContentLength: Number(lengthText.trim()), declaredTrailers, signing };
}

/** Content-Encoding as stored: without the aws-chunked framing token (undefined when nothing is left). */
export function storedContentEncoding(value: string | undefined): string | undefined {
  const rest = (value ?? '').split(',').map((token) => token.trim()).filter((token) => token !== '' && token.toLowerCase() !== 'aws-chunked');
  return rest.length === 0 ? undefined : rest.join(', ');
}
