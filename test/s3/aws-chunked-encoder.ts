/**
 * Builds aws-chunked bodies as clients do, for the decoder's tests. Chunk and trailer
 * signatures are computed by @smithy/signature-v4 (signString: HMAC with the key it derives)
 * over the strings to sign AWS documents for streaming uploads.
 */
import { createHash } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export interface ChunkSigner {
  signer: SignatureV4;
  signingDate: Date;
  region: string;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface EncodeOptions {
  chunkSize: number;
  /** Signed chunks when given. */
  signing?: ChunkSigner;
  /** A trailer line (`x-amz-checksum-crc32`, base64 value). */
  trailer?: { name: string; value: string };
}

async function signString(signing: ChunkSigner, toSign: string): Promise<string> {
  return signing.signer.sign(toSign, { signingDate: signing.signingDate, signingRegion: signing.region, signingService: 's3' });
}

export async function encodeAwsChunked(data: Buffer, options: EncodeOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  const { signing } = options;
  let previous = signing?.seedSignature ?? '';
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += options.chunkSize) pieces.push(data.subarray(at, at + options.chunkSize));
  pieces.push(Buffer.alloc(0));
  for (const piece of pieces) {
    let header = piece.length.toString(16);
    if (signing) {
      previous = await signString(signing, ['AWS4-HMAC-SHA256-PAYLOAD', signing.amzDate, signing.scope, previous, EMPTY_SHA256, sha256Hex(piece)].join('\n'));
      header += `;chunk-signature=${previous}`;
    }
    out.push(Buffer.from(`${header}\r\n`), piece);
    if (piece.length > 0) out.push(Buffer.from('\r\n'));
  }
  if (options.trailer) {
    out.push(Buffer.from(`${options.trailer.name}:${options.trailer.value}\r\n`));
    if (signing) {
      const canonical = `${options.trailer.name}:${options.trailer.value}\n`;
      const signature = await signString(signing, ['AWS4-HMAC-SHA256-TRAILER', signing.amzDate, signing.scope, previous, sha256Hex(canonical)].join('\n'));
      out.push(Buffer.from(`x-amz-trailer-signature:${signature}\r\n`));
    }
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}
