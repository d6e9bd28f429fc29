import type { MessageBufferPool } from './message-buffer-pool';

/** gRPC's length prefix: a compressed-flag byte and a 4-byte big-endian length. */
export const PREFIX_BYTES = 5;

/** Messages with PREFIX_BYTES of their own memory free just before them. */
const withPrefixRoom = new WeakSet<Buffer>();

/**
 * A Buffer of `length` bytes for a message to send, with room kept in front of it for gRPC's
 * prefix: once installPrefixInPlace() ran, grpc-js sends it without copying it. The prefix is
 * the same bytes every time the message is sent, so one message may go to several calls at
 * once (an upload's replicas) or again later (the spool's replays). From `pool` when given and
 * the message fits it (the caller then releases it once sent).
 */
export function allocateWithPrefixRoom(length: number, pool?: MessageBufferPool): Buffer {
  const size = PREFIX_BYTES + length;
  // Never Node's shared small-Buffer pool: the room in front must be memory of this message alone.
  const whole = pool?.fits(size) ? pool.take(size) : Buffer.allocUnsafeSlow(size);
  return keepsPrefixRoom(whole.subarray(PREFIX_BYTES));
}

/**
 * Marks `message` as having PREFIX_BYTES in front of it that are its own: memory no other
 * message or reader uses, which the prefix may overwrite. Returns it.
 */
export function keepsPrefixRoom(message: Buffer): Buffer {
  if (message.byteOffset < PREFIX_BYTES) throw new RangeError('no room for the gRPC prefix in front of the message');
  withPrefixRoom.add(message);
  return message;
}

/** `message` framed with gRPC's prefix: written into its room when it has one, else copied into a fresh Buffer as grpc-js does. */
function frame(message: Buffer): Buffer {
  if (!withPrefixRoom.has(message)) {
    const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
    message.copy(framed, PREFIX_BYTES);
    return writePrefix(framed, message.length);
  }
  return writePrefix(Buffer.from(message.buffer, message.byteOffset - PREFIX_BYTES, PREFIX_BYTES + message.length), message.length);
}

function writePrefix(framed: Buffer, length: number): Buffer {
  framed[0] = 0; // uncompressed: grpc-js's identity encoding, the only one ringstore sends
  framed.writeUInt32BE(length, 1);
  return framed;
}

interface GrpcIdentityHandler {
  writeMessage(message: Buffer, compress: boolean): Promise<Buffer>;
}

/**
 * Makes grpc-js frame a message from allocateWithPrefixRoom by writing the prefix into the room
 * in front of it, where it otherwise copies every message it sends into a fresh Buffer (for a
 * 1 MiB upload frame: a 1 MiB allocation and copy per replica, and garbage for the GC). Only
 * uncompressed sending (grpc-js's IdentityHandler, the default) is changed; other messages are
 * framed as before. grpc-js has no option for this, so the handler's writeMessage is replaced;
 * the version is pinned (~1.14) and test/wire/prefix-in-place.test.ts proves on a real call that
 * the replacement is in use. Returns false, leaving grpc-js as it was, when the handler is not
 * where this expects it.
 */
export function installPrefixInPlace(): boolean {
  let prototype: GrpcIdentityHandler | undefined;
  try {
    const { CompressionFilter } = require('@grpc/grpc-js/build/src/compression-filter') as {
      CompressionFilter: new (options: object, shared: object) => { sendCompression: object };
    };
    prototype = Object.getPrototypeOf(new CompressionFilter({}, {}).sendCompression) as GrpcIdentityHandler;
  } catch {
    return false;
  }
  if (typeof prototype?.writeMessage !== 'function' || prototype.constructor.name !== 'IdentityHandler') return false;
  const frameByCopy = Object.prototype.hasOwnProperty.call(prototype, 'framesInPlace') ? undefined : prototype.writeMessage;
  if (!frameByCopy) return true; // installed already
  Object.defineProperty(prototype, 'framesInPlace', { value: true });
  prototype.writeMessage = function writeMessage(this: GrpcIdentityHandler, message: Buffer, compress: boolean): Promise<Buffer> {
    if (!withPrefixRoom.has(message)) return frameByCopy.call(this, message, compress);
    return Promise.resolve(frame(message));
  };
  return true;
}

let serverFramesInPlace = false;

/** Whether installServerPrefixInPlace is in effect: messages with prefix room this process serves leave without a copy. */
export function sendsServerFramesInPlace(): boolean {
  return serverFramesInPlace;
}

interface GrpcServerCall {
  handler: { serialize(value: unknown): Buffer };
  serializeMessage(value: unknown): Buffer;
}

/**
 * installPrefixInPlace for what a server sends: grpc-js's server call copies every reply
 * message into a fresh Buffer to put the prefix in front (BaseServerInterceptingCall's
 * serializeMessage, which has no compression to apply). A storage server's GetChunk sends its
 * 1 MiB frames, read from disk into buffers with room in front (allocateForBytesMessage), as
 * they are: the profile of a storage server serving reads put 8% of its samples in that copy
 * and a fifth in GCs of the fresh buffers. The frame is then the bytes HTTP/2 sends, so it must
 * not be reused before the write's callback (streamOut's `sent`). Returns false, leaving
 * grpc-js as it was, when the call class is not where this expects it.
 */
export function installServerPrefixInPlace(): boolean {
  let prototype: GrpcServerCall | undefined;
  try {
    const { BaseServerInterceptingCall } = require('@grpc/grpc-js/build/src/server-interceptors') as {
      BaseServerInterceptingCall: { prototype: GrpcServerCall };
    };
    prototype = BaseServerInterceptingCall.prototype;
  } catch {
    return false;
  }
  if (typeof prototype?.serializeMessage !== 'function') return false;
  serverFramesInPlace = true;
  if (Object.prototype.hasOwnProperty.call(prototype, 'framesInPlace')) return true; // installed already
  Object.defineProperty(prototype, 'framesInPlace', { value: true });
  prototype.serializeMessage = function serializeMessage(this: GrpcServerCall, value: unknown): Buffer {
    return frame(this.handler.serialize(value));
  };
  return true;
}
