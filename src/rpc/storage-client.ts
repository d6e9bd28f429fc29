import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { EncodedMessage, encodeBytesMessage, encodeFixed32Field, passEncoded } from '../wire/bytes-message';
import { crc32, crc32Combine, parseCrc32Checksum } from '../wire/crc32';
import { HTTP2_WINDOW_BYTES } from '../wire/http2-window';
import { allocateWithPrefixRoom } from '../wire/prefix-in-place';
import { framePool, MAX_FRAME_BYTES, POOLED_SEND_CHANNEL_OPTIONS } from '../wire/frame-pool';
import { scavengePacer } from '../wire/scavenge-pacer';
import { IdleWatchdog } from '../util/idle-watchdog';
import {
  StorageServiceClient,
  storageServiceDefinition,
  type ChunkInfo,
  type DeleteChunkResponse,
  type GetChunkRequest,
  type GetChunkResponse,
  type HealthCheckResponse,
  type ListChunksRequest,
  type PutChunkRequest,
  type PutChunkResponse,
  type PutSmallChunksResponse,
  type ReadSmallChunksRequest,
  type SmallChunkRead,
  type VerifyChunkResponse,
} from '../wire/storage-service';
import { errorMessage } from '../util/error-message';
import { createLogger } from '../util/logger';
import { limitQueuedMessages } from '../wire/stream-buffer';
import { NewerRpcSupport, type NewerRpc, type NewerRpcLog } from './newer-rpc-support';
import { SmallChunkBatcher } from './small-chunk-batcher';
import { SmallReadBatcher, type SmallReadsCall } from './small-read-batcher';
import { SmallChunkStream, type SmallChunkOpsCall } from './small-chunk-stream';
import type { ChunkRange } from '../wire/chunk-range';

const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Frames a streaming call may queue before backpressure. */
const QUEUED_FRAMES = 2;
/** PutChunkRequest.data and .data_crc32 (proto/storage.proto). */
const PUT_DATA_FIELD = 2;
const PUT_DATA_CRC32_FIELD = 5;

/**
 * A PutChunk data message, encoded, with what the writer needs to know of it. A large one lies
 * in a frame of framePool, which goes back to the pool once its last holder lets go: whoever
 * made it (release() when done with it), and each write of it to a call until grpc-js has
 * written it out. Reused frames keep an upload from touching fresh memory for every MiB it
 * sends, and from leaving 1 MiB of garbage behind.
 */
export class EncodedPutData extends EncodedMessage {
  private holders = 1;

  constructor(bytes: Buffer, readonly dataLength: number, readonly dataCrc32: number) {
    super(bytes);
  }

  /** One more holder: the bytes stay as they are until it calls release(). */
  hold(): void {
    this.holders += 1;
  }

  /** A holder is done with the bytes; after the last one, they may be reused for another message. */
  release(): void {
    this.holders -= 1;
    if (this.holders === 0) framePool.release(this.bytes);
  }
}

/**
 * A PutChunk message carrying data (the pieces, at most MAX_FRAME_BYTES in all) and its
 * data_crc32, encoded once: an upload writes the same message to every replica's call, so
 * gathering the HTTP body's pieces, checking and encoding them costs one CRC and one copy
 * instead of a gather plus one of each per replica.
 */
export function encodePutData(pieces: readonly Buffer[]): EncodedPutData {
  let length = 0;
  let crc = 0;
  for (const piece of pieces) {
    crc = crc32(piece, crc);
    length += piece.length;
  }
  if (length > MAX_FRAME_BYTES) throw new RangeError(`a PutChunk message holds at most ${MAX_FRAME_BYTES} bytes, got ${length}`);
  // With room for gRPC's prefix: an upload frame goes to each replica without another copy.
  const allocate = (size: number) => allocateWithPrefixRoom(size, framePool);
  const { bytes } = encodeBytesMessage(PUT_DATA_FIELD, pieces, encodeFixed32Field(PUT_DATA_CRC32_FIELD, crc), allocate);
  // The pool tells the pacer of the frames it lends; the body pieces gathered here are garbage once sent.
  if (!framePool.owns(bytes)) scavengePacer.moved(length);
  return new EncodedPutData(bytes, length, crc);
}

type PutMessage = Partial<PutChunkRequest> | EncodedMessage;

/** A put's outcome: the server's response and the CRC-32 of the bytes it verified and stored. */
export interface PutChunkResult extends PutChunkResponse {
  crc32: number;
}

export interface CallOptions {
  /**
   * Relative deadline. Unary calls: default callTimeoutMs. Streams (put, get, list): none unless
   * given, because a 10 GiB stream must not be cut by a fixed deadline; idleTimeoutMs guards them.
   */
  deadlineMs?: number;
  /** Streams: cancel with DEADLINE_EXCEEDED when the server makes no progress for this long (default callTimeoutMs). */
  idleTimeoutMs?: number;
  /** Aborting cancels the call; it then fails with CANCELLED. */
  signal?: AbortSignal;
}

export interface ChunkWriter {
  /**
   * Resolves once the call accepted the data (after 'drain' under backpressure). A Buffer is
   * sent as messages of up to MAX_FRAME_BYTES, each with its CRC-32; an EncodedPutData
   * (encodePutData) as it is.
   */
  write(data: Buffer | EncodedPutData): Promise<void>;
  /**
   * Sends the chunk's CRC-32 in a last message and half-closes the stream; resolves once the
   * server verified the chunk and made it durable, with the CRC-32 of the bytes sent. Rejects
   * with the grpc ServiceError on failure.
   */
  end(): Promise<PutChunkResult>;
  /** Cancels the put; the server keeps nothing. */
  abort(reason?: string): void;
}

export interface StorageClientOptions {
  /** Deadline of unary calls and idle limit of streams unless a call says otherwise. */
  callTimeoutMs?: number;
  /** Metadata sent with every call, e.g. clusterCallMetadata() for CLUSTER_TOKEN. */
  metadata?: () => grpc.Metadata;
  /** Told when the server turns out to lack a newer RPC (NewerRpcSupport). */
  log?: NewerRpcLog;
  /** Newer RPCs not to use, as if the server lacked them: the older ones do their work (tests of what older servers get). */
  avoidRpcs?: readonly string[];
}

export interface StorageClientConnectOptions extends StorageClientOptions {
  /** Default insecure; grpcChannelCredentials() gives TLS / mutual TLS from the config. */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

const METHODS = storageServiceDefinition;
/** Newer RPCs and what a server without them gets instead. */
const SMALL_OPS: NewerRpc = { newer: 'SmallChunkOps', older: 'PutSmallChunks and ReadSmallChunks calls' };
const SMALL_PUTS: NewerRpc = { newer: 'PutSmallChunks', older: 'PutChunk streams' };
const UNARY_READS: NewerRpc = { newer: 'ReadChunk', older: 'GetChunk streams' };
const SMALL_READS: NewerRpc = { newer: 'ReadSmallChunks', older: 'ReadChunk calls' };
/** PutSmallChunks with its request encoded by hand (SmallChunkBatcher). */
const PUT_SMALL_CHUNKS = { ...METHODS.PutSmallChunks, requestSerialize: passEncoded(METHODS.PutSmallChunks.requestSerialize) };

/**
 * A ServiceError made on this side (watchdog, abort, one op's result), shaped like the ones
 * grpc-js produces; `metadata` stands for the trailers a call failing so would have had.
 */
export function clientCallError(code: grpc.status, details: string, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

/**
 * The typed StorageService client every part uses. Every call has a deadline or, for streams,
 * an idle watchdog; failures are grpc ServiceErrors with their status code preserved.
 */
export class StorageClient {
  private readonly callTimeoutMs: number;
  private readonly metadata: () => grpc.Metadata;
  private readonly smallOps = new SmallChunkStream(() => this.openSmallChunkOps(), clientCallError);
  private smallPuts: SmallChunkBatcher | undefined;
  private readonly smallReads = new SmallReadBatcher((reads, deadline, call) => this.readSmallChunks(reads, deadline, call), clientCallError);
  private readonly newerRpcs: NewerRpcSupport;

  constructor(readonly grpcClient: grpc.Client, options: StorageClientOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.metadata = options.metadata ?? (() => new grpc.Metadata());
    // grpc-js names the target with its default resolver scheme ("dns:host:port").
    const address = grpcClient.getChannel().getTarget().replace(/^dns:/, '');
    this.newerRpcs = new NewerRpcSupport(address, options.log ?? createLogger('storage-client'), { avoid: options.avoidRpcs });
  }

  /**
   * A client on its own channel (insecure unless credentials are given): for tools and tests.
   * Its HTTP/2 window is the gateway's (http2-window.ts) unless channelOptions say otherwise.
   */
  static connect(address: string, options: StorageClientConnectOptions = {}): StorageClient {
    const credentials = options.credentials ?? grpc.credentials.createInsecure();
    const channelOptions = { 'grpc-node.flow_control_window': HTTP2_WINDOW_BYTES, ...POOLED_SEND_CHANNEL_OPTIONS, ...options.channelOptions };
    return new StorageClient(new StorageServiceClient(address, credentials, channelOptions), options);
  }

  /**
   * Streams a chunk, every message checked by its CRC-32 and the chunk by the CRC-32 of all the
   * bytes written. `expected`, the chunk's checksum as recorded, makes the server refuse other
   * bytes: a hex SHA-256 is sent up front (the server then hashes too), a `crc32:<8 hex>` as the
   * chunk's CRC-32 in place of the one computed here; '' when there is none (new chunks).
   */
  putChunk(chunkId: string, expected: string, size: number, options: CallOptions = {}): ChunkWriter {
    let failure: grpc.ServiceError | undefined;
    let call!: grpc.ClientWritableStream<PutMessage>;
    const response = new Promise<PutChunkResponse>((resolve, reject) => {
      call = this.grpcClient.makeClientStreamRequest<PutMessage, PutChunkResponse>(
        METHODS.PutChunk.path,
        passEncoded(METHODS.PutChunk.requestSerialize),
        METHODS.PutChunk.responseDeserialize,
        this.metadata(),
        this.streamCallOptions(options),
        (error, value) => (error || !value ? reject(failure ?? error) : resolve(value)),
      );
    });
    const cancel = (code: grpc.status, details: string): void => {
      failure ??= clientCallError(code, details);
      call.cancel();
    };
    const idleMs = options.idleTimeoutMs ?? this.callTimeoutMs;
    // Runs only while waiting on the server (drain, final response): a caller that is slow to
    // produce data is not a stalled server.
    const watchdog = new IdleWatchdog(idleMs, () =>
      cancel(grpc.status.DEADLINE_EXCEEDED, `PutChunk ${chunkId}: storage server made no progress for ${idleMs} ms`));
    const disposeAbort = onAbort(options.signal, (reason) => cancel(grpc.status.CANCELLED, `PutChunk ${chunkId} aborted: ${reason}`));
    const settled = response.finally(() => {
      watchdog.stop();
      disposeAbort();
    });
    // Observed through end(); a caller that only aborts must not leak a rejection. A server
    // that failed the call early makes the next write() fail instead of writing into the void.
    settled.catch((error: grpc.ServiceError) => (failure ??= error));

    limitQueuedMessages(call, QUEUED_FRAMES);
    const expectedCrc = parseCrc32Checksum(expected);
    // data_crc32 even here, where it is the CRC of no data: it tells the server every message has one.
    call.write({ chunk_id: chunkId, checksum: expectedCrc === undefined ? expected : '', size, data: Buffer.alloc(0), data_crc32: 0 });
    let chunkCrc = 0;
    let ended = false;

    const drained = async (): Promise<void> => {
      watchdog.touch();
      let onDrain: () => void = () => undefined;
      try {
        const drain = new Promise<void>((resolve) => {
          onDrain = () => resolve();
          call.once('drain', onDrain);
        });
        await Promise.race([drain, settled]);
      } finally {
        call.off('drain', onDrain);
        watchdog.pause();
      }
    };

    return {
      write: async (data: Buffer | EncodedPutData) => {
        if (failure) throw failure;
        if (ended) throw new Error(`PutChunk ${chunkId}: write after end()`);
        let accepted = true;
        if (data instanceof EncodedPutData) {
          chunkCrc = crc32Combine(chunkCrc, data.dataCrc32, data.dataLength);
          data.hold();
          // Called back once written out (POOLED_SEND_CHANNEL_OPTIONS), or once the call failed.
          accepted = call.write(data, () => data.release());
        } else {
          for (let offset = 0; offset < data.length; offset += MAX_FRAME_BYTES) {
            const frame = data.subarray(offset, offset + MAX_FRAME_BYTES);
            const frameCrc = crc32(frame);
            chunkCrc = crc32Combine(chunkCrc, frameCrc, frame.length);
            accepted = call.write({ data: frame, data_crc32: frameCrc });
          }
        }
        if (!accepted) await drained();
        if (failure) throw failure;
      },
      end: async () => {
        if (!ended) {
          ended = true;
          call.write({ chunk_crc32: expectedCrc ?? chunkCrc });
          call.end();
        }
        watchdog.touch();
        return settled.then((response) => ({ ...response, crc32: chunkCrc }));
      },
      abort: (reason = 'aborted by caller') => cancel(grpc.status.CANCELLED, `PutChunk ${chunkId} aborted: ${reason}`),
    };
  }

  /**
   * A put of a chunk sent whole in one message (at most MAX_FRAME_BYTES): the data is held until
   * end(), then sent as one op of this server's SmallChunkOps stream (SmallChunkStream), and the
   * server commits it with the puts around it. Checked and made durable as a PutChunk is.
   * `size` is the chunk's exact size: other data fails end() and sends nothing. An abort()
   * before end() sends nothing; one after it cannot recall the chunk, which the server may still
   * store (as a cancelled PutChunk's last moment may). A server without SmallChunkOps gets the
   * chunk in a PutSmallChunks call with the other puts of the same turn (SmallChunkBatcher), one
   * without that as a PutChunk stream (NewerRpcSupport).
   */
  putSmallChunk(chunkId: string, size: number, options: CallOptions = {}): ChunkWriter {
    let message: EncodedPutData | undefined;
    let aborted: string | undefined;
    const deadlineMs = options.idleTimeoutMs ?? this.callTimeoutMs;
    const refuse = (code: grpc.status, details: string) => Promise.reject(clientCallError(code, `PutSmallChunks ${chunkId}: ${details}`));
    return {
      write: async (data: Buffer | EncodedPutData) => {
        if (aborted !== undefined) return refuse(grpc.status.CANCELLED, `aborted: ${aborted}`);
        if (message) return refuse(grpc.status.INVALID_ARGUMENT, `a small chunk is sent in one message, and more data came than the ${size} bytes announced`);
        if (data instanceof EncodedPutData) data.hold(); // held until the put is over
        message = data instanceof EncodedPutData ? data : encodePutData([data]);
      },
      end: async () => {
        if (aborted !== undefined) return refuse(grpc.status.CANCELLED, `aborted: ${aborted}`);
        const whole = message ?? encodePutData([]);
        message = undefined;
        if (whole.dataLength !== size) {
          whole.release();
          return refuse(grpc.status.INVALID_ARGUMENT, `the chunk was announced as ${size} bytes but has ${whole.dataLength}`);
        }
        const stored: PutChunkResult = { chunk_id: chunkId, success: true, error_message: '', crc32: whole.dataCrc32 };
        return this.newerRpcs.call(
          SMALL_OPS,
          () => this.smallOps.put(chunkId, whole, deadlineMs).then(() => stored),
          () => this.newerRpcs.call(
            SMALL_PUTS,
            () => (this.smallPuts ??= new SmallChunkBatcher((request, ms) => this.putSmallChunks(request, ms), clientCallError)).put(chunkId, whole, deadlineMs),
            () => this.putChunkBuffer(chunkId, whole, options),
          ),
        ).finally(() => whole.release());
      },
      abort: (reason = 'aborted by caller') => {
        aborted ??= reason;
        message?.release();
        message = undefined;
      },
    };
  }

  /** Puts a chunk held in memory (or already encoded as one message), checked by its CRC-32s. */
  async putChunkBuffer(chunkId: string, data: Buffer | EncodedPutData, options: CallOptions = {}): Promise<PutChunkResult> {
    const writer = this.putChunk(chunkId, '', data instanceof EncodedPutData ? data.dataLength : data.length, options);
    try {
      await writer.write(data);
    } catch (error) {
      // The stream failed early (e.g. ALREADY_EXISTS); end() reports the server's status.
      return writer.end().then(() => Promise.reject(error));
    }
    return writer.end();
  }

  /** The chunk's bytes (or a range of them) as a stream of Buffers; errors carry the grpc status code. */
  getChunk(chunkId: string, range: ChunkRange = {}, options: CallOptions = {}): Readable {
    const request: GetChunkRequest = { chunk_id: chunkId, offset: range.offset ?? 0, length: range.length ?? 0 };
    const call = this.grpcClient.makeServerStreamRequest<GetChunkRequest, GetChunkResponse>(
      METHODS.GetChunk.path,
      METHODS.GetChunk.requestSerialize,
      METHODS.GetChunk.responseDeserialize,
      request,
      this.metadata(),
      this.streamCallOptions(options),
    );
    return new CallReadable(call, (message) => message.data, {
      what: `GetChunk ${chunkId}`,
      idleMs: options.idleTimeoutMs ?? this.callTimeoutMs,
      signal: options.signal,
      bufferedMessages: 1,
    });
  }

  /**
   * A range of at most READ_CHUNK_MAX_BYTES in one reply: for small reads, which a stream's
   * machinery on both sides would cost more than the bytes. Sent as one op of this server's
   * SmallChunkOps stream (SmallChunkStream); with options.signal, alone in a ReadChunk call.
   * The deadline is deadlineMs (default callTimeoutMs), counted from now; errors carry the grpc
   * status code. A server without SmallChunkOps gets the read in a ReadSmallChunks call with the
   * reads that start while its calls are busy (SmallReadBatcher), one without that a ReadChunk
   * call, one without ReadChunk a GetChunk stream, within the same deadline (NewerRpcSupport).
   */
  readChunk(chunkId: string, range: Required<ChunkRange>, options: CallOptions = {}): Promise<Buffer> {
    if (options.signal) return this.readUnary(chunkId, range, options);
    const request: GetChunkRequest = { chunk_id: chunkId, offset: range.offset, length: range.length };
    const deadlineMs = options.deadlineMs ?? this.callTimeoutMs;
    return this.newerRpcs.call(
      SMALL_OPS,
      () => this.smallOps.read(request, deadlineMs),
      () => this.newerRpcs.call(
        SMALL_READS,
        () => this.smallReads.read(request, deadlineMs),
        () => this.readUnary(chunkId, range, options),
      ),
    );
  }

  /** readChunk in a ReadChunk call of its own. */
  private readUnary(chunkId: string, range: Required<ChunkRange>, options: CallOptions): Promise<Buffer> {
    const request: GetChunkRequest = { chunk_id: chunkId, offset: range.offset, length: range.length };
    return this.newerRpcs.call(
      UNARY_READS,
      async () => (await this.unary<GetChunkRequest, GetChunkResponse>(METHODS.ReadChunk, request, options, `ReadChunk ${chunkId}`)).data,
      () => this.getChunkBuffer(chunkId, range, options),
    );
  }

  async getChunkBuffer(chunkId: string, range: ChunkRange = {}, options: CallOptions = {}): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this.getChunk(chunkId, range, options)) pieces.push(piece as Buffer);
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  }

  deleteChunk(chunkId: string, options: CallOptions = {}): Promise<DeleteChunkResponse> {
    return this.unary(METHODS.DeleteChunk, { chunk_id: chunkId }, options, `DeleteChunk ${chunkId}`);
  }

  healthCheck(options: CallOptions = {}): Promise<HealthCheckResponse> {
    return this.unary(METHODS.HealthCheck, {}, options, 'HealthCheck');
  }

  /** Stored chunks in id order after `after`, up to `limit` (0 = all). */
  listChunks(request: { after?: string; limit?: number } = {}, options: CallOptions = {}): AsyncIterable<ChunkInfo> {
    const call = this.grpcClient.makeServerStreamRequest<ListChunksRequest, ChunkInfo>(
      METHODS.ListChunks.path,
      METHODS.ListChunks.requestSerialize,
      METHODS.ListChunks.responseDeserialize,
      { after: request.after ?? '', limit: request.limit ?? 0 },
      this.metadata(),
      this.streamCallOptions(options),
    );
    return new CallReadable(call, (info) => info, {
      what: 'ListChunks',
      idleMs: options.idleTimeoutMs ?? this.callTimeoutMs,
      signal: options.signal,
      bufferedMessages: 16,
    });
  }

  verifyChunk(chunkId: string, options: CallOptions = {}): Promise<VerifyChunkResponse> {
    return this.unary(METHODS.VerifyChunk, { chunk_id: chunkId }, options, `VerifyChunk ${chunkId}`);
  }

  close(): void {
    this.smallOps.close();
    this.grpcClient.close();
  }

  private openSmallChunkOps(): SmallChunkOpsCall {
    return this.grpcClient.makeBidiStreamRequest(
      METHODS.SmallChunkOps.path,
      passEncoded(METHODS.SmallChunkOps.requestSerialize),
      METHODS.SmallChunkOps.responseDeserialize,
      this.metadata(),
      {},
    );
  }

  private putSmallChunks(request: EncodedMessage, deadlineMs: number): Promise<PutSmallChunksResponse> {
    return this.unary(PUT_SMALL_CHUNKS, request, { deadlineMs }, 'PutSmallChunks');
  }

  /**
   * One call for SmallReadBatcher: a ReadChunk for a lone read (a unary call costs the server
   * less than a stream, and there is nothing to share), else ReadSmallChunks.
   */
  private readSmallChunks(reads: GetChunkRequest[], deadline: number, batch: SmallReadsCall): void {
    if (reads.length === 1) {
      const [{ chunk_id: chunkId, offset, length }] = reads;
      this.readUnary(chunkId, { offset, length }, { deadlineMs: deadline - Date.now() }).then(
        (data) => {
          batch.onAnswer({ index: 0, data, code: grpc.status.OK, error_message: '' });
          batch.onEnd();
        },
        (error: unknown) => batch.onEnd(error),
      );
      return;
    }
    const call = this.grpcClient.makeServerStreamRequest<ReadSmallChunksRequest, SmallChunkRead>(
      METHODS.ReadSmallChunks.path,
      METHODS.ReadSmallChunks.requestSerialize,
      METHODS.ReadSmallChunks.responseDeserialize,
      { reads },
      this.metadata(),
      { deadline },
    );
    call.on('data', (answer: SmallChunkRead) => batch.onAnswer(answer));
    call.on('error', (error: grpc.ServiceError) => batch.onEnd(error));
    call.on('end', () => batch.onEnd());
  }

  private streamCallOptions(options: CallOptions): grpc.CallOptions {
    return options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  }

  private unary<Req, Res>(method: grpc.MethodDefinition<Req, Res>, request: Req, options: CallOptions, what: string): Promise<Res> {
    return new Promise((resolve, reject) => {
      let failure: grpc.ServiceError | undefined;
      const call = this.grpcClient.makeUnaryRequest<Req, Res>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        { deadline: Date.now() + (options.deadlineMs ?? this.callTimeoutMs) },
        (error, value) => {
          disposeAbort();
          if (error || value === undefined) reject(failure ?? error);
          else resolve(value);
        },
      );
      const disposeAbort = onAbort(options.signal, (reason) => {
        failure = clientCallError(grpc.status.CANCELLED, `${what} aborted: ${reason}`);
        call.cancel();
      });
    });
  }
}

/**
 * A server-streaming call as a Readable with backpressure both ways: the call is paused while
 * our consumer is full, and the idle watchdog only counts time spent waiting on the server.
 * Destroying it cancels the call. It is in object mode even for data, so each message is handed
 * on as it came: a byte-mode Readable joins the frames queued in it into a new Buffer on every
 * read, a copy of every byte when the consumer is the slower side.
 */
class CallReadable<Message> extends Readable {
  private readonly watchdog: IdleWatchdog;
  private readonly disposeAbort: () => void;

  constructor(
    private readonly call: grpc.ClientReadableStream<Message>,
    map: (message: Message) => unknown,
    options: { what: string; idleMs: number; signal?: AbortSignal; bufferedMessages: number },
  ) {
    super({ objectMode: true, highWaterMark: options.bufferedMessages });
    limitQueuedMessages(call, QUEUED_FRAMES);
    this.watchdog = new IdleWatchdog(options.idleMs, () =>
      this.destroy(clientCallError(grpc.status.DEADLINE_EXCEEDED, `${options.what}: storage server sent nothing for ${options.idleMs} ms`)));
    this.disposeAbort = onAbort(options.signal, (reason) =>
      this.destroy(clientCallError(grpc.status.CANCELLED, `${options.what} aborted: ${reason}`)));
    call.on('data', (message: Message) => {
      if (this.destroyed) return;
      if (this.push(map(message))) {
        this.watchdog.touch();
      } else {
        call.pause();
        this.watchdog.pause();
      }
    });
    call.on('end', () => {
      this.watchdog.stop();
      if (!this.destroyed) this.push(null);
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (!this.destroyed) this.destroy(error);
    });
    this.watchdog.touch();
  }

  override _read(): void {
    this.call.resume();
    this.watchdog.touch();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.watchdog.stop();
    this.disposeAbort();
    this.call.cancel(); // no-op once the call has its status
    callback(error);
  }
}

/** Runs onAbort when the signal fires (at once if it already has); returns the unsubscribe. */
function onAbort(signal: AbortSignal | undefined, handler: (reason: string) => void): () => void {
  if (!signal) return () => undefined;
  const describe = (): string => errorMessage(signal.reason ?? 'aborted');
  if (signal.aborted) {
    queueMicrotask(() => handler(describe()));
    return () => undefined;
  }
  const listener = (): void => handler(describe());
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
