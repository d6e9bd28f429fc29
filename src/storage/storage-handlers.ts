import * as grpc from '@grpc/grpc-js';
import { drainedOrClosed } from '../util/drained-or-closed';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';
import {
  READ_CHUNK_MAX_BYTES,
  type ChunkInfo,
  type DeleteChunkRequest,
  type DeleteChunkResponse,
  type GetChunkRequest,
  type HealthCheckResponse,
  type ListChunksRequest,
  type PutChunkRequest,
  type PutChunkResponse,
  type PutSmallChunksRequest,
  type PutSmallChunksResponse,
  type ReadSmallChunksRequest,
  type SmallChunk,
  type SmallChunkOp,
  type SmallChunkOpBatch,
  type SmallChunkOpResult,
  type SmallChunkOpResults,
  type SmallChunkRead,
  type SmallChunkResult,
  type VerifyChunkRequest,
  type VerifyChunkResponse,
} from '../wire/storage-service';
import { allocateForBytesMessage, wrapBytesMessage, type EncodedMessage } from '../wire/bytes-message';
import { IdleWatchdog } from '../util/idle-watchdog';
import type { MessageBufferPool } from '../wire/message-buffer-pool';
import { limitQueuedMessages } from '../wire/stream-buffer';
import { busyTrailer } from '../wire/busy-refusal';
import { ChunkStoreError, ServerBusyError, type ChunkStoreErrorReason } from './chunk-store-error';
import type { ChunkStore } from './chunk-store';
import type { ChunkUpload, FinalChecks } from './chunk-upload';
import { normalizeChecksum } from './chunk-id';

/** Messages a call may queue in memory before backpressure (frames are up to 1 MiB each). */
const QUEUED_MESSAGES = 2;
/** GetChunkResponse.data (proto/storage.proto). */
const GET_CHUNK_DATA_FIELD = 1;
/** Reads one ReadSmallChunks call may ask (gateways send at most 64): bounds the memory one call holds. */
const MAX_SMALL_READS = 256;
/** Ops one SmallChunkOps message may carry (gateways send at most 64); more are refused, each with INVALID_ARGUMENT. */
const MAX_OPS_PER_MESSAGE = 256;
/** Ops of one SmallChunkOps stream running at once; beyond, the stream is not read (HTTP/2 flow control holds the client). */
const MAX_OPS_RUNNING = 256;
/**
 * Bytes of read data one answers message may carry before it is sent: the answers ready in one
 * turn may be many 1 MiB reads, and a client takes messages of 4 MiB by default.
 */
const MAX_ANSWER_BYTES = 1024 * 1024;
const NO_DATA = Buffer.alloc(0);

const STATUS_BY_REASON: Record<ChunkStoreErrorReason, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  DATA_LOSS: grpc.status.DATA_LOSS,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  OUT_OF_RANGE: grpc.status.OUT_OF_RANGE,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
};

export interface PutLimits {
  /** A put whose client sends nothing for this long is cut and its temp file removed. */
  putIdleTimeoutMs: number;
  /** Puts in progress at once; more are refused with RESOURCE_EXHAUSTED, marked busy. */
  maxConcurrentPuts: number;
}

type ServerStream<Req, Res> = grpc.ServerWritableStream<Req, Res>;

/**
 * The StorageService RPCs over a ChunkStore. Store errors become their gRPC status; anything
 * unexpected is INTERNAL and logged with its stack.
 */
export function createStorageHandlers(
  store: ChunkStore,
  serverId: string,
  logger: Logger,
  limits: PutLimits,
  /** Memory for data frames: PutChunk's are received into it (installMessageDecoder), GetChunk's read into it. */
  frames: MessageBufferPool,
  /** Fired when the server starts shutting down: SmallChunkOps streams, which a gateway keeps open, are then ended. */
  stopping?: AbortSignal,
): grpc.UntypedServiceImplementation {
  let putsInProgress = 0;
  /** Ends each open SmallChunkOps stream once its running ops are answered. */
  const openOpStreams = new Set<() => void>();
  stopping?.addEventListener('abort', () => openOpStreams.forEach((endWhenIdle) => endWhenIdle()), { once: true });

  function toServiceError(error: unknown, rpc: string): grpc.StatusObject {
    if (error instanceof ChunkStoreError) {
      const level = error.reason === 'DATA_LOSS' ? 'error' : 'info';
      logger.log(level, `${rpc} refused: ${error.message}`, { event: 'rpc_refused', rpc, reason: error.reason });
      const metadata = error instanceof ServerBusyError ? busyTrailer() : new grpc.Metadata();
      return { code: STATUS_BY_REASON[error.reason], details: error.message, metadata };
    }
    const message = errorMessage(error);
    logger.error(`${rpc} failed: ${message}`, { event: 'rpc_failed', rpc, stack: (error as Error)?.stack });
    return { code: grpc.status.INTERNAL, details: `storage server error: ${message}`, metadata: new grpc.Metadata() };
  }

  function unary<Req, Res>(rpc: string, handle: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      handle(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, rpc)),
      );
    };
  }

  /**
   * Writes items with backpressure; stops quietly when the client cancels. `sent(item)` runs
   * once HTTP/2 has written the item's message out: a GetChunk frame is sent as it is
   * (installServerPrefixInPlace), so it may be reused only then. A call that fails or is
   * cancelled first never runs it; the frame is then left to the GC.
   */
  async function streamOut<Req, Res, T>(
    rpc: string,
    call: ServerStream<Req, Res>,
    items: () => Promise<{ source: AsyncIterable<T>; close?: () => Promise<void> }>,
    toMessage: (item: T) => Res,
    sent?: (item: T) => void,
  ): Promise<void> {
    limitQueuedMessages(call, QUEUED_MESSAGES);
    let close: (() => Promise<void>) | undefined;
    try {
      const opened = await items();
      close = opened.close;
      for await (const item of opened.source) {
        if (call.cancelled || call.destroyed) return;
        const accepted = call.write(toMessage(item), sent && (() => sent(item)));
        if (!accepted && !call.destroyed) await drainedOrClosed(call);
      }
      if (!call.cancelled) call.end();
    } catch (error) {
      // Frames already queued are delivered first; the status then carries the error.
      if (!call.cancelled) call.emit('error', toServiceError(error, rpc));
    } finally {
      await close?.();
    }
  }

  /** The refusal of a put while MAX_CONCURRENT_PUTS are in progress (PutChunk streams and small chunks alike). */
  function tooManyPuts(): ServerBusyError | undefined {
    return putsInProgress < limits.maxConcurrentPuts ? undefined : new ServerBusyError(limits.maxConcurrentPuts);
  }

  /**
   * PutChunk: the first message names the chunk (and usually its checksum); a checksum or a
   * chunk_crc32 in a later message (writers that check while streaming) makes that message the
   * last one. Each message's data_crc32 is checked before its data is written.
   */
  async function putChunk(
    call: grpc.ServerReadableStream<PutChunkRequest, PutChunkResponse>,
    callback: grpc.sendUnaryData<PutChunkResponse>,
  ): Promise<void> {
    limitQueuedMessages(call, QUEUED_MESSAGES);
    const refused = tooManyPuts();
    if (refused) {
      callback(toServiceError(refused, 'PutChunk'));
      return;
    }
    putsInProgress += 1;
    let upload: ChunkUpload | undefined;
    const final: FinalChecks = {};
    let ended = false;
    // Counts only time spent waiting for the client, not our own disk writes.
    const idle = new IdleWatchdog(limits.putIdleTimeoutMs, () =>
      call.destroy(new ChunkStoreError('DEADLINE_EXCEEDED', `PutChunk ${upload?.chunkId ?? '(no chunk id yet)'}: the client sent nothing for ${limits.putIdleTimeoutMs} ms; nothing kept`)));
    try {
      idle.touch();
      // destroyOnReturn false: the call's stream must stay open for the response (and on a
      // normal end, destroying it made an AbortError with a stack trace on every put).
      for await (const message of call.iterator({ destroyOnReturn: false }) as AsyncIterable<PutChunkRequest>) {
        idle.pause();
        if (ended) {
          throw new ChunkStoreError('INVALID_ARGUMENT', `PutChunk ${upload?.chunkId}: a message came after the one carrying the final checksum, which must be the last`);
        }
        if (!upload) {
          upload = await store.beginPut(message.chunk_id, message.checksum, message.size, message.data_crc32 !== undefined);
        } else {
          if (message.chunk_id && message.chunk_id.toLowerCase() !== upload.chunkId) {
            throw new ChunkStoreError('INVALID_ARGUMENT', `PutChunk stream for ${upload.chunkId} switched to chunk_id ${JSON.stringify(message.chunk_id)}`);
          }
          if (message.checksum) final.checksum = normalizeChecksum(message.checksum);
        }
        if (message.chunk_crc32 !== undefined) final.crc32 = message.chunk_crc32;
        ended = final.checksum !== undefined || final.crc32 !== undefined;
        await upload.write(message.data, message.data_crc32);
        frames.release(message.data);
        idle.touch();
      }
      idle.stop();
      if (!upload) throw new ChunkStoreError('INVALID_ARGUMENT', 'PutChunk stream ended without any message (chunk_id and checksum are required)');
      await upload.commit(final);
      logger.debug('Stored chunk', { event: 'chunk_stored', chunkId: upload.chunkId });
      callback(null, { chunk_id: upload.chunkId, success: true, error_message: '' });
    } catch (error) {
      idle.stop();
      await upload?.abort();
      if (call.cancelled) {
        logger.info('PutChunk ended early (client gone, or a message refused by the transport); nothing kept', { event: 'put_cancelled', chunkId: upload?.chunkId });
        return;
      }
      callback(toServiceError(error, 'PutChunk'));
    } finally {
      putsInProgress -= 1;
    }
  }

  /**
   * One chunk of a PutSmallChunks call, or a put of a SmallChunkOps stream, stored as a PutChunk
   * of one message would be: its CRC-32 checked, committed with the puts around it (a volume
   * record, or a temp file linked under its name: group commit), then answered; a failure leaves
   * nothing and is answered with the status PutChunk would end with.
   */
  async function putSmallChunk(chunk: SmallChunk, rpc: string): Promise<SmallChunkResult> {
    let upload: ChunkUpload | undefined;
    try {
      const refused = tooManyPuts();
      if (refused) throw refused;
      putsInProgress += 1;
      try {
        upload = await store.beginPut(chunk.chunk_id, '', chunk.data.length, true);
        await upload.write(chunk.data, chunk.data_crc32);
        await upload.commit({ crc32: chunk.data_crc32 });
      } finally {
        putsInProgress -= 1;
      }
      return { chunk_id: upload.chunkId, success: true, error_message: '', code: grpc.status.OK };
    } catch (error) {
      await upload?.abort();
      const status = toServiceError(error, rpc);
      return { chunk_id: String(chunk.chunk_id), success: false, error_message: status.details, code: status.code, busy: error instanceof ServerBusyError };
    }
  }

  /** A small read as ReadSmallChunks and SmallChunkOps answer it: its bytes, or the status a ReadChunk of it would have failed with. */
  async function readSmall(read: GetChunkRequest, rpc: string): Promise<{ data: Buffer; code: grpc.status; error_message: string }> {
    try {
      const data = await store.readRange(read.chunk_id, { offset: read.offset, length: read.length }, READ_CHUNK_MAX_BYTES, Buffer.allocUnsafe);
      return { data, code: grpc.status.OK, error_message: '' };
    } catch (error) {
      const status = toServiceError(error, rpc);
      return { data: NO_DATA, code: status.code, error_message: status.details };
    }
  }

  /**
   * ReadSmallChunks: every read at once, each answered as soon as it is done (a read of a small
   * chunk is one synchronous pread, so most are answered in the order asked), each checked as
   * ReadChunk checks it; a failed one is answered with its status and does not fail the call.
   */
  async function readSmallChunks(call: ServerStream<ReadSmallChunksRequest, SmallChunkRead>): Promise<void> {
    const { reads } = call.request;
    if (reads.length > MAX_SMALL_READS) {
      call.emit('error', toServiceError(new ChunkStoreError('INVALID_ARGUMENT', `ReadSmallChunks asks ${reads.length} reads, more than the ${MAX_SMALL_READS} one call may`), 'ReadSmallChunks'));
      return;
    }
    let failed = 0;
    await Promise.all(reads.map(async (read, index) => {
      const answer = { index, ...(await readSmall(read, 'ReadSmallChunks')) };
      if (answer.code !== grpc.status.OK) failed += 1;
      if (!call.cancelled && !call.destroyed) call.write(answer);
    }));
    // Not even built unless logged: a cold read's call costs little more than this line would.
    if (logger.isDebugEnabled()) logger.debug('Read small chunks', { event: 'small_chunks_read', chunks: reads.length, failed });
    if (!call.cancelled) call.end();
  }

  /** One op of a SmallChunkOps stream, carried out as PutSmallChunks or ReadSmallChunks would. */
  async function smallChunkOp(op: SmallChunkOp): Promise<SmallChunkOpResult> {
    const { tag } = op;
    if (stopping?.aborted) return { tag, code: grpc.status.UNAVAILABLE, error_message: 'the storage server is shutting down', data: NO_DATA };
    if (op.put) {
      const result = await putSmallChunk(op.put, 'SmallChunkOps');
      return { tag, code: result.code, error_message: result.error_message, data: NO_DATA, busy: result.busy };
    }
    if (op.read) return { tag, ...(await readSmall(op.read, 'SmallChunkOps')) };
    return { tag, code: grpc.status.INVALID_ARGUMENT, error_message: 'a SmallChunkOps op carries neither a put nor a read', data: NO_DATA };
  }

  /**
   * SmallChunkOps: each op started as its message comes and answered as soon as it is done; the
   * answers ready in one turn of the event loop go in one message (a write per answer would send
   * them one per turn: grpc-js waits for each message to be written before it takes the next).
   * The puts that come together share the volume's group commit as a PutSmallChunks call's do.
   * Bounded: at most MAX_OPS_PER_MESSAGE ops a message, MAX_OPS_RUNNING at once (the stream is
   * not read beyond), MAX_ANSWER_BYTES of read data an answers message. The stream ends once
   * the client has ended its side, or the server is stopping, and no op runs.
   */
  function smallChunkOps(call: grpc.ServerDuplexStream<SmallChunkOpBatch, SmallChunkOpResults>): void {
    let running = 0;
    let clientDone = false;
    let ended = false;
    let answers: SmallChunkOpResult[] = [];
    let answerBytes = 0;
    const gone = (): boolean => ended || call.cancelled || call.destroyed;
    const endWhenIdle = (): void => {
      if (ended || running > 0 || answers.length > 0 || !(clientDone || stopping?.aborted)) return;
      ended = true;
      openOpStreams.delete(endWhenIdle);
      if (!call.cancelled && !call.destroyed) call.end();
    };
    const sendAnswers = (): void => {
      if (answers.length === 0) return; // sent already, full
      const results = answers;
      answers = [];
      answerBytes = 0;
      if (!gone()) call.write({ results });
      endWhenIdle();
    };
    const answer = (result: SmallChunkOpResult): void => {
      running -= 1;
      if (running < MAX_OPS_RUNNING && call.isPaused()) call.resume();
      if (answers.length > 0 && answerBytes + result.data.length > MAX_ANSWER_BYTES) sendAnswers();
      if (answers.push(result) === 1) setImmediate(sendAnswers);
      answerBytes += result.data.length;
    };
    openOpStreams.add(endWhenIdle);
    call.on('data', ({ ops }: SmallChunkOpBatch) => {
      if (ended) return;
      running += ops.length;
      if (running >= MAX_OPS_RUNNING) call.pause();
      const refused = ops.length > MAX_OPS_PER_MESSAGE
        ? toServiceError(new ChunkStoreError('INVALID_ARGUMENT', `a SmallChunkOps message carries at most ${MAX_OPS_PER_MESSAGE} ops, this one ${ops.length}`), 'SmallChunkOps')
        : undefined;
      const done = Promise.all(ops.map((op) =>
        (refused ? Promise.resolve({ tag: op.tag, code: refused.code, error_message: refused.details, data: NO_DATA }) : smallChunkOp(op)).then(answer)));
      // The puts' data are views of the one message, received into pool memory when it was large.
      const firstPut = ops.find((op) => op.put)?.put;
      if (firstPut) void done.then(() => frames.release(firstPut.data));
    });
    call.on('end', () => {
      clientDone = true;
      endWhenIdle();
    });
    const lost = (): void => {
      ended = true;
      openOpStreams.delete(endWhenIdle);
    };
    call.on('cancelled', lost);
    call.on('error', (error: Error) => {
      logger.info(`SmallChunkOps stream failed: ${error.message}`, { event: 'small_chunk_ops_failed' });
      lost();
    });
  }

  return {
    PutChunk: putChunk,

    PutSmallChunks: unary<PutSmallChunksRequest, PutSmallChunksResponse>('PutSmallChunks', async (request) => {
      const results = await Promise.all(request.chunks.map((chunk) => putSmallChunk(chunk, 'PutSmallChunks')));
      // The chunks' data are views of the one message, received into pool memory when it was large.
      if (request.chunks.length > 0) frames.release(request.chunks[0].data);
      logger.debug('Stored small chunks', { event: 'small_chunks_stored', chunks: results.length, failed: results.filter((r) => !r.success).length });
      return { results };
    }),

    GetChunk: (call: ServerStream<GetChunkRequest, EncodedMessage>) =>
      streamOut(
        'GetChunk',
        call,
        async () => {
          const read = await store.read(call.request.chunk_id, { offset: call.request.offset, length: call.request.length });
          // Blocks are read into frames with room for the message header and gRPC's prefix: sent without a copy.
          return { source: read.blocks((length) => allocateForBytesMessage(length, frames)), close: read.close };
        },
        (data: Buffer) => wrapBytesMessage(GET_CHUNK_DATA_FIELD, data),
        (data) => frames.release(data),
      ),

    // No pooled memory here: a unary reply says nothing when grpc-js is done with its bytes.
    ReadChunk: unary<GetChunkRequest, EncodedMessage>('ReadChunk', async (request) => {
      const range = { offset: request.offset, length: request.length };
      return wrapBytesMessage(GET_CHUNK_DATA_FIELD, await store.readRange(request.chunk_id, range, READ_CHUNK_MAX_BYTES, (length) => allocateForBytesMessage(length)));
    }),

    ReadSmallChunks: readSmallChunks,

    SmallChunkOps: smallChunkOps,

    DeleteChunk: unary<DeleteChunkRequest, DeleteChunkResponse>('DeleteChunk', async (request) => {
      await store.delete(request.chunk_id);
      logger.debug('Deleted chunk', { event: 'chunk_deleted', chunkId: request.chunk_id });
      return { success: true, error_message: '' };
    }),

    HealthCheck: unary<unknown, HealthCheckResponse>('HealthCheck', async () => {
      const disk = await store.diskUsage();
      return {
        status: 'healthy',
        available_space: disk.available,
        used_space: disk.used,
        total_space: disk.total,
        server_id: serverId,
        chunk_count: store.chunkCount,
      };
    }),

    ListChunks: (call: ServerStream<ListChunksRequest, ChunkInfo>) =>
      streamOut(
        'ListChunks',
        call,
        async () => ({ source: store.list(call.request.after, call.request.limit) }),
        (chunk): ChunkInfo => ({
          chunk_id: chunk.chunkId,
          size: chunk.size,
          modified_at_ms: chunk.modifiedAtMs,
          checksum: chunk.checksum,
        }),
      ),

    VerifyChunk: unary<VerifyChunkRequest, VerifyChunkResponse>('VerifyChunk', async (request) => {
      const result = await store.verify(request.chunk_id);
      const chunkId = request.chunk_id.toLowerCase();
      if (result.ok) return { chunk_id: chunkId, ok: true, corrupt_block: -1, error_message: '' };
      logger.error(result.message, { event: 'chunk_corrupt', chunkId, corruptBlock: result.corruptBlock });
      return { chunk_id: chunkId, ok: false, corrupt_block: result.corruptBlock, error_message: result.message };
    }),
  };
}
