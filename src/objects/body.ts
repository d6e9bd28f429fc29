import type { StoredChecksum } from '../metadata/types';

/** The bytes of an object or part on their way in. */
export interface IncomingBody {
  stream: AsyncIterable<Buffer>;
  /** The exact byte count when the request tells it (chunks are sized from it). */
  size?: number;
}

/** What an object keeps of its body's digests once the body has passed whole. */
export interface SealedBody {
  /** Without quotes. */
  etag: string;
  checksum: StoredChecksum | null;
}

/**
 * The digests of a body, computed by the API in front (ETag, checksums the client announced)
 * as the model stores it. seal() runs once the last byte is stored and before anything is
 * recorded: it throws when the body is not what was announced, and then nothing is kept.
 */
export interface BodyDigest {
  update(data: Buffer): void;
  seal(): SealedBody;
}
