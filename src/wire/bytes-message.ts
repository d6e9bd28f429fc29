/**
 * Protobuf messages that carry a single bytes field, built by hand on the data path: the 1 MiB
 * frames of PutChunk and GetChunk. protobufjs would copy every frame into a fresh Buffer once
 * more, and each fresh 1 MiB Buffer is garbage V8 frees only in a full GC. Serializers wrapped
 * with passEncoded hand an EncodedMessage's bytes to grpc-js untouched.
 */
import type { MessageBufferPool } from './message-buffer-pool';
import { keepsPrefixRoom, PREFIX_BYTES, sendsServerFramesInPlace } from './prefix-in-place';

export class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** `serialize`, except that an EncodedMessage is passed through as it is. */
export function passEncoded<T>(serialize: (message: T) => Buffer): (message: T | EncodedMessage) => Buffer {
  return (message) => (message instanceof EncodedMessage ? message.bytes : serialize(message));
}

/** The key (field number, wire type 2 = length-delimited) and varint length of a bytes field. */
export function fieldHeader(fieldNumber: number, length: number): number[] {
  return [(fieldNumber << 3) | 2, ...varint(length)];
}

/** A non-negative integer below 2^32 as a protobuf varint: 7 bits per byte, low bits first. */
export function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  for (; rest >= 0x80; rest >>>= 7) bytes.push((rest & 0x7f) | 0x80);
  bytes.push(rest);
  return bytes;
}

/**
 * A message holding bytes field `fieldNumber`: the pieces, in order, copied once; then
 * `trailer`, other fields already encoded (fields may come in any order), in memory from
 * `allocate` (allocateWithPrefixRoom for a message grpc-js's client is to send without another
 * copy, see installPrefixInPlace).
 */
export function encodeBytesMessage(
  fieldNumber: number,
  pieces: readonly Buffer[],
  trailer?: Uint8Array,
  allocate: (length: number) => Buffer = Buffer.allocUnsafe,
): EncodedMessage {
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const header = fieldHeader(fieldNumber, length);
  const bytes = allocate(header.length + length + (trailer?.length ?? 0));
  bytes.set(header);
  let offset = header.length;
  for (const piece of pieces) offset += piece.copy(bytes, offset);
  if (trailer) bytes.set(trailer, offset);
  return new EncodedMessage(bytes);
}

/** A fixed32 field (wire type 5): its key and 4 little-endian bytes, to append to a message. */
export function encodeFixed32Field(fieldNumber: number, value: number): Buffer {
  const field = Buffer.allocUnsafe(5);
  field[0] = (fieldNumber << 3) | 5;
  field.writeUInt32LE(value >>> 0, 1);
  return field;
}

/**
 * Room kept in front of data read for wrapBytesMessage: gRPC's prefix (installServerPrefixInPlace
 * writes it there), then a key byte and a varint of up to 2^28.
 */
const HEADROOM = PREFIX_BYTES + 5;
/** Buffers from allocateForBytesMessage whose room in front is still free. */
const withRoom = new WeakSet<ArrayBufferLike>();

/**
 * A Buffer of `length` bytes to read data into that wrapBytesMessage will send: room for the
 * message header is kept in front of it, so the message is built around the data in place.
 * From `pool` when given and the size fits it (the caller then releases it once sent). Sent in
 * place (installServerPrefixInPlace), it makes no garbage, so it paces no scavenge: forced every
 * 2 MiB, scavenges took a fifth of a storage server's samples while it served reads.
 */
export function allocateForBytesMessage(length: number, pool?: MessageBufferPool): Buffer {
  const size = HEADROOM + length;
  // Never Node's shared small-Buffer pool: a header written in front must land on memory of this buffer alone.
  const whole = pool?.fits(size) ? pool.take(size, 0, { paced: !sendsServerFramesInPlace() }) : Buffer.allocUnsafeSlow(size);
  withRoom.add(whole.buffer);
  return whole.subarray(HEADROOM);
}

/**
 * `data` as a message holding only bytes field `fieldNumber`. When data lies in a buffer from
 * allocateForBytesMessage, the header is written into the bytes just before it (the room kept,
 * or bytes of that buffer in front of the range served, which nothing else reads) and the data
 * is not copied, nor, where the room in front holds gRPC's prefix too, framed by a copy. Only
 * one message is built in place per buffer (per loan, for pooled ones), so a header can never
 * land on data another message still carries; anything else is copied.
 */
export function wrapBytesMessage(fieldNumber: number, data: Buffer): EncodedMessage {
  const header = fieldHeader(fieldNumber, data.length);
  if (!withRoom.has(data.buffer) || data.byteOffset < header.length) return encodeBytesMessage(fieldNumber, [data]);
  withRoom.delete(data.buffer);
  const bytes = Buffer.from(data.buffer, data.byteOffset - header.length, header.length + data.length);
  bytes.set(header);
  return new EncodedMessage(bytes.byteOffset >= PREFIX_BYTES ? keepsPrefixRoom(bytes) : bytes);
}
