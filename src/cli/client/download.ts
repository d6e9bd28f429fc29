import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ClientContext } from './options';
import { ClientError, EXIT } from './exit-codes';
import type { FileMetadata } from './gateway-client';
import type { TransferProgress } from './progress';

/** Times a dropped download is picked up again at the byte it reached, within one run. */
const RESUME_ATTEMPTS = 5;

/** Where the bytes go: written in order, each piece before the next is asked for. */
export type Sink = (piece: Buffer) => Promise<void>;

export interface Resume {
  /** Bytes already there (a .part file), hashed into `hash`. */
  from: number;
  hash: Hash;
}

/** Hashes the first `length` bytes of a partial download already on disk. */
export async function hashPrefix(file: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length > 0) for await (const piece of createReadStream(file, { start: 0, end: length - 1 })) hash.update(piece as Buffer);
  return hash;
}

/**
 * Streams a file's bytes from `resume.from` on into `sink`, checking the whole file's SHA-256
 * (what was already there included) against the metadata at the end. A connection that drops
 * is resumed with a Range request at the byte reached (If-Range: the file must be the same);
 * a gateway that answers with the whole file instead (200) calls `restart` and starts over.
 * Throws a ClientError with EXIT.corrupt when the bytes do not match.
 */
export async function download(
  context: ClientContext,
  meta: FileMetadata,
  sink: Sink,
  resume: Resume,
  transfer: TransferProgress,
  restart: () => Promise<void>,
): Promise<void> {
  let { from, hash } = resume;
  const etag = `"${meta.checksum}"`;
  for (let attempt = 1; from < meta.size; attempt++) {
    let response;
    try {
      response = await context.client.download(meta.file_id, from, etag);
      if (response.statusCode === 200 && from > 0) {
        await restart();
        from = 0;
        hash = createHash('sha256');
      }
      for await (const piece of response) {
        hash.update(piece as Buffer);
        await sink(piece as Buffer);
        from += (piece as Buffer).length;
        transfer.update(from);
      }
      if (from < meta.size) throw new Error(`the connection closed after ${from} of ${meta.size} bytes`);
    } catch (error) {
      // Only a transfer cut short is worth resuming; an answer such as 404 is final.
      const final = error instanceof ClientError && error.exitCode !== EXIT.unavailable;
      if (final || attempt >= RESUME_ATTEMPTS) throw error;
      context.say(`ringstore: download of ${meta.file_id} interrupted at byte ${from} (${(error as Error).message}); resuming`);
    }
  }
  const got = hash.digest('hex');
  if (from !== meta.size || got !== meta.checksum) {
    throw new ClientError(`file ${meta.file_id}: received ${from} bytes with SHA-256 ${got}, expected ${meta.size} bytes with ${meta.checksum}`, EXIT.corrupt);
  }
}
