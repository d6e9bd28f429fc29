import * as grpc from '@grpc/grpc-js';
import { busyTrailer } from '../wire/busy-refusal';
import { EncodedMessage, fieldHeader, varint } from '../wire/bytes-message';
import { allocateWithPrefixRoom } from '../wire/prefix-in-place';
import { storageServiceDefinition, type GetChunkRequest, type SmallChunkOpBatch, type SmallChunkOpResult, type SmallChunkOpResults } from '../wire/storage-service';
import { smallChunkLayout, type MakeCallError } from './small-chunk-batcher';
import type { EncodedPutData } from './storage-client';

/** SmallChunkOpBatch.ops, SmallChunkOp.tag and .put (proto/storage.proto). */
const OPS_FIELD = 1;
const TAG_KEY = (1 << 3) | 0;
const PUT_FIELD = 2;
/**
 * The ops of a turn go in one message, sent at once when it reaches this many bytes or ops:
 * well under the server's 8 MiB message limit, and small enough that the first op of a message
 * never waits long for the disk writes of the others.
 */
const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_MESSAGE_OPS = 64;
const serializeBatch = storageServiceDefinition.SmallChunkOps.requestSerialize as (batch: SmallChunkOpBatch) => Buffer;
/** How often ops are checked against their deadlines while some are out. */
const DEADLINE_SWEEP_MS = 50;
/** A stream with no op out for this long is ended; the next op opens a new one. */
export const IDLE_END_MS = 5_000;

/** One SmallChunkOps call, as grpc-js gives it (its messages encoded here). */
export type SmallChunkOpsCall = grpc.ClientDuplexStream<EncodedMessage, SmallChunkOpResults>;

/** An op waiting for its turn's message: a put (its data message held until then) or a read. */
type QueuedOp = { tag: number; chunkId: string; put: EncodedPutData } | { tag: number; read: GetChunkRequest };

interface OutstandingOp {
  /** Absolute, ms since the epoch. */
  deadline: number;
  what: string;
  resolve(data: Buffer): void;
  reject(error: unknown): void;
}

/**
 * The small puts and reads to one storage server as ops of one SmallChunkOps stream, instead
 * of a call per batch (a call costs both sides ~5x what a message on an open stream does). The
 * ops asked in one turn of the event loop go out together in one message at the end of it
 * (setImmediate, no timer): grpc-js sends a call's messages one per turn, each once the last is
 * written, so a message per op would trickle. The stream is opened by the first op and ended
 * after IDLE_END_MS with none out, so an idle gateway holds nothing open on a server. Each op
 * has its own deadline, checked here (the stream has none); one that passes fails that op
 * alone with DEADLINE_EXCEEDED, and the server may still carry it out (as a cancelled
 * PutChunk's last moment may). A stream that fails fails every op out on it with its status:
 * UNIMPLEMENTED from a server without SmallChunkOps, for the caller to fall back
 * (NewerRpcSupport). Ops the server ends the stream without answering (it is shutting down)
 * fail with UNAVAILABLE.
 */
export class SmallChunkStream {
  private call: SmallChunkOpsCall | undefined;
  private readonly outstanding = new Map<number, OutstandingOp>();
  private queued: QueuedOp[] = [];
  private queuedBytes = 0;
  private nextTag = 0;
  private sweep: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly open: () => SmallChunkOpsCall,
    private readonly callError: MakeCallError,
    private readonly idleEndMs = IDLE_END_MS,
  ) {}

  /** Stores a whole chunk (one data message, see encodePutData, held until sent); resolves once the server made it durable. */
  put(chunkId: string, message: EncodedPutData, deadlineMs: number): Promise<void> {
    return this.start(`SmallChunkOps put ${chunkId}`, deadlineMs, (tag) => ({ tag, chunkId, put: message }), message.bytes.length).then(() => undefined);
  }

  /** A range of at most READ_CHUNK_MAX_BYTES; resolves with its bytes, every block they touch checked by the server. */
  read(request: GetChunkRequest, deadlineMs: number): Promise<Buffer> {
    return this.start(`SmallChunkOps read ${request.chunk_id}`, deadlineMs, (tag) => ({ tag, read: request }), 0);
  }

  /** Ends the stream at once; ops still out fail with CANCELLED. */
  close(): void {
    const call = this.call;
    if (!call) return;
    this.detach(call, this.callError(grpc.status.CANCELLED, 'the storage client was closed'));
    call.cancel();
  }

  private start(what: string, deadlineMs: number, op: (tag: number) => QueuedOp, bytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const tag = this.freeTag();
      this.outstanding.set(tag, { deadline: Date.now() + deadlineMs, what, resolve, reject });
      clearTimeout(this.idle);
      this.idle = undefined;
      this.sweep ??= setInterval(() => this.expire(), DEADLINE_SWEEP_MS).unref();
      if (this.queued.push(op(tag)) === 1) setImmediate(() => this.send());
      this.queuedBytes += bytes;
      if (this.queuedBytes >= MAX_MESSAGE_BYTES || this.queued.length >= MAX_MESSAGE_OPS) this.send();
    });
  }

  /** Sends the queued ops that are still out (not past their deadline) in one message. */
  private send(): void {
    const ops = this.queued.filter((op) => this.outstanding.has(op.tag));
    this.queued = [];
    this.queuedBytes = 0;
    if (ops.length === 0) return;
    const call = (this.call ??= this.openCall());
    call.write(encodeBatch(ops));
  }

  private openCall(): SmallChunkOpsCall {
    const call = this.open();
    call.on('data', ({ results }: SmallChunkOpResults) => {
      if (call !== this.call) return;
      for (const result of results) this.settle(result);
      if (this.outstanding.size === 0) this.becameIdle();
    });
    call.on('error', (error: grpc.ServiceError) => this.detach(call, error));
    // An OK status: the server ended the stream (it is shutting down); what it did not answer, it never will.
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) this.detach(call, this.callError(grpc.status.UNAVAILABLE, 'the storage server ended its SmallChunkOps stream (shutting down?) before answering'));
    });
    return call;
  }

  private settle(result: SmallChunkOpResult): void {
    const op = this.outstanding.get(result.tag);
    if (!op) return; // past its deadline, already failed
    this.outstanding.delete(result.tag);
    if (result.code === grpc.status.OK) op.resolve(result.data);
    else op.reject(this.callError(result.code, `${op.what}: ${result.error_message}`, result.busy ? busyTrailer() : undefined));
  }

  /** Forgets `call` (if still the stream) and fails every op out on it, or waiting to be sent, with `error`. */
  private detach(call: SmallChunkOpsCall, error: unknown): void {
    if (call !== this.call) return;
    this.call = undefined;
    const ops = [...this.outstanding.values()];
    this.outstanding.clear();
    this.stopTimers();
    for (const op of ops) op.reject(error);
  }

  private freeTag(): number {
    do this.nextTag = (this.nextTag + 1) >>> 0;
    while (this.outstanding.has(this.nextTag));
    return this.nextTag;
  }

  /** Fails the ops past their deadline. */
  private expire(): void {
    const now = Date.now();
    for (const [tag, op] of this.outstanding) {
      if (op.deadline > now) continue;
      this.outstanding.delete(tag);
      op.reject(this.callError(grpc.status.DEADLINE_EXCEEDED, `${op.what}: the storage server did not answer within the deadline`));
    }
    if (this.outstanding.size === 0) this.becameIdle();
  }

  private becameIdle(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    this.idle ??= setTimeout(() => {
      this.idle = undefined;
      const call = this.call;
      if (!call || this.outstanding.size > 0) return;
      this.call = undefined;
      call.end();
    }, this.idleEndMs).unref();
  }

  private stopTimers(): void {
    clearInterval(this.sweep);
    clearTimeout(this.idle);
    this.sweep = undefined;
    this.idle = undefined;
  }
}

/**
 * SmallChunkOpBatch: the reads encoded by protobufjs, then each put by hand (its data message
 * copied once, not re-encoded): a repeated field's entries may come in two runs, which a decoder joins.
 */
function encodeBatch(ops: readonly QueuedOp[]): EncodedMessage {
  const reads = ops.flatMap((op) => ('read' in op ? [{ tag: op.tag, read: op.read }] : []));
  const readBytes = reads.length > 0 ? serializeBatch({ ops: reads }) : undefined;
  const puts = ops.flatMap((op) => ('put' in op ? [putLayout(op.tag, op.chunkId, op.put)] : []));
  const bytes = allocateWithPrefixRoom((readBytes?.length ?? 0) + puts.reduce((sum, put) => sum + put.length, 0));
  let offset = readBytes?.copy(bytes) ?? 0;
  for (const put of puts) offset = put.writeAt(bytes, offset);
  return new EncodedMessage(bytes);
}

/** One put as an entry of SmallChunkOpBatch.ops: SmallChunkOp { tag, put: SmallChunk }. */
function putLayout(tag: number, chunkId: string, message: EncodedPutData): { length: number; writeAt(bytes: Buffer, offset: number): number } {
  const chunk = smallChunkLayout(chunkId, message);
  const putHeader = fieldHeader(PUT_FIELD, chunk.length);
  const tagField = varint(tag);
  const opLength = 1 + tagField.length + putHeader.length + chunk.length;
  const opHeader = fieldHeader(OPS_FIELD, opLength);
  return {
    length: opHeader.length + opLength,
    writeAt(bytes, at) {
      let offset = at;
      for (const part of [opHeader, [TAG_KEY], tagField, putHeader]) {
        bytes.set(part, offset);
        offset += part.length;
      }
      return chunk.writeAt(bytes, offset);
    },
  };
}
