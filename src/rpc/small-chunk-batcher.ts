import * as grpc from '@grpc/grpc-js';
import { busyTrailer } from '../wire/busy-refusal';
import { EncodedMessage, fieldHeader } from '../wire/bytes-message';
import { allocateWithPrefixRoom } from '../wire/prefix-in-place';
import type { PutSmallChunksResponse } from '../wire/storage-service';
import type { EncodedPutData, PutChunkResult } from './storage-client';

/** PutSmallChunksRequest.chunks and SmallChunk.chunk_id (proto/storage.proto). */
const CHUNKS_FIELD = 1;
const CHUNK_ID_FIELD = 1;
/**
 * A batch is sent at once when it reaches this many bytes or chunks, else on the next turn of
 * the event loop: well under the storage server's 8 MiB message limit, and small enough that
 * the first chunk of a batch never waits long for the disk writes of the others.
 */
const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_BATCH_CHUNKS = 64;

/** A SmallChunk encoded by hand: its chunk_id, then its data message as encoded for PutChunk (fields 2 and 5). */
export interface SmallChunkLayout {
  /** Bytes of the SmallChunk message. */
  length: number;
  /** Writes it into `bytes` at `offset`; returns the offset after it. */
  writeAt(bytes: Buffer, offset: number): number;
}

/** Lays out a SmallChunk around `message`, whose bytes are copied once when written, not re-encoded. */
export function smallChunkLayout(chunkId: string, message: EncodedPutData): SmallChunkLayout {
  const id = Buffer.from(chunkId);
  const idHeader = fieldHeader(CHUNK_ID_FIELD, id.length);
  return {
    length: idHeader.length + id.length + message.bytes.length,
    writeAt(bytes, at) {
      bytes.set(idHeader, at);
      const offset = at + idHeader.length + id.copy(bytes, at + idHeader.length);
      return offset + message.bytes.copy(bytes, offset);
    },
  };
}

interface QueuedPut {
  chunk: SmallChunkLayout;
  message: EncodedPutData;
  deadlineMs: number;
  resolve(result: PutChunkResult): void;
  reject(error: unknown): void;
}

/** Sends one PutSmallChunks call, its request already encoded. */
export type SendSmallChunks = (request: EncodedMessage, deadlineMs: number) => Promise<PutSmallChunksResponse>;

/** A ServiceError for a failure that the call's status does not carry (one chunk of a batch), with the trailers it stands for. */
export type MakeCallError = (code: grpc.status, details: string, metadata?: grpc.Metadata) => grpc.ServiceError;

/**
 * The small puts to one storage server that start in the same turn of the event loop, sent
 * together as one PutSmallChunks call (a micro-batch): a unary call per batch instead of a
 * client stream per chunk, and the server commits them together. A lone put goes out on the
 * next turn, never after a timer. Each put gets its own chunk's result; a call that fails as
 * a whole fails every put in it with its status.
 */
export class SmallChunkBatcher {
  private queue: QueuedPut[] = [];
  private queuedBytes = 0;
  private scheduled = false;

  constructor(
    private readonly send: SendSmallChunks,
    private readonly callError: MakeCallError,
  ) {}

  /** Stores a whole chunk (one data message, see encodePutData); resolves once the server made it durable. */
  put(chunkId: string, message: EncodedPutData, deadlineMs: number): Promise<PutChunkResult> {
    return new Promise((resolve, reject) => {
      const chunk = smallChunkLayout(chunkId, message);
      this.queue.push({ chunk, message, deadlineMs, resolve, reject });
      this.queuedBytes += chunk.length;
      if (this.queuedBytes >= MAX_BATCH_BYTES || this.queue.length >= MAX_BATCH_CHUNKS) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    const deadlineMs = Math.max(...batch.map((put) => put.deadlineMs));
    this.send(encodeRequest(batch), deadlineMs).then(
      (response) => batch.forEach((put, index) => this.settle(put, response.results[index])),
      (error: unknown) => batch.forEach((put) => put.reject(error)),
    );
  }

  private settle(put: QueuedPut, result: PutSmallChunksResponse['results'][number] | undefined): void {
    if (!result) put.reject(this.callError(grpc.status.INTERNAL, 'the storage server answered a PutSmallChunks call with fewer results than chunks'));
    else if (result.success) put.resolve({ chunk_id: result.chunk_id, success: true, error_message: '', crc32: put.message.dataCrc32 });
    else put.reject(this.callError(result.code || grpc.status.UNKNOWN, result.error_message, result.busy ? busyTrailer() : undefined));
  }
}

/** PutSmallChunksRequest by hand: each chunk is its id field then its data message as encoded for PutChunk. */
function encodeRequest(batch: readonly QueuedPut[]): EncodedMessage {
  const headers = batch.map((put) => fieldHeader(CHUNKS_FIELD, put.chunk.length));
  const length = batch.reduce((sum, put, index) => sum + headers[index].length + put.chunk.length, 0);
  const bytes = allocateWithPrefixRoom(length);
  let offset = 0;
  batch.forEach((put, index) => {
    bytes.set(headers[index], offset);
    offset = put.chunk.writeAt(bytes, offset + headers[index].length);
  });
  return new EncodedMessage(bytes);
}
