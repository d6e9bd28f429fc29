import type { MessageBufferPool } from './message-buffer-pool';

/** gRPC's length prefix: a compressed-flag byte and a 4-byte big-endian length. */
const PREFIX_BYTES = 5;

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
  const message = whole.subarray(PREFIX_BYTES);
  withPrefixRoom.add(message);
  return message;
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
    const framed = Buffer.from(message.buffer, message.byteOffset - PREFIX_BYTES, PREFIX_BYTES + message.length);
    framed[0] = 0; // uncompressed, as IdentityHandler always marks it
    framed.writeUInt32BE(message.length, 1);
    return Promise.resolve(framed);
  };
  return true;
}
