import type { MessageBufferPool } from './message-buffer-pool';

/** gRPC's length prefix: a compressed-flag byte and a 4-byte big-endian length. */
const PREFIX_BYTES = 5;

/**
 * Splits an HTTP/2 stream's DATA into gRPC messages (each returned with its 5-byte prefix, as
 * grpc-js expects). Unlike grpc-js's own decoder, which keeps every piece of a message until
 * its last one arrives and then joins them into a new Buffer, each piece is copied straight
 * into the message's memory, taken from `pool` when the message fits it: Node's socket-read
 * buffers die young, where a scavenge frees them, and the large messages reuse memory.
 */
export class MessageDecoder {
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFilled = 0;
  private message: Buffer | undefined;
  private messageFilled = 0;

  constructor(
    /** Largest message accepted (-1: any); a larger one fails the stream like grpc-js does. */
    private readonly maxMessageBytes: number,
    private readonly pool?: MessageBufferPool,
  ) {}

  write(data: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (!this.message) {
        const take = Math.min(PREFIX_BYTES - this.prefixFilled, data.length - at);
        this.prefixFilled += data.copy(this.prefix, this.prefixFilled, at, at + take);
        at += take;
        if (this.prefixFilled < PREFIX_BYTES) break;
        this.message = this.startMessage(this.prefix.readUInt32BE(1));
        this.messageFilled = this.prefix.copy(this.message);
      } else {
        const take = Math.min(this.message.length - this.messageFilled, data.length - at);
        this.messageFilled += data.copy(this.message, this.messageFilled, at, at + take);
        at += take;
      }
      if (this.messageFilled === this.message.length) {
        messages.push(this.message);
        this.message = undefined;
        this.prefixFilled = 0;
      }
    }
    return messages;
  }

  private startMessage(bodyBytes: number): Buffer {
    if (this.maxMessageBytes !== -1 && bodyBytes > this.maxMessageBytes) {
      throw new Error(`Received message larger than max (${bodyBytes} vs ${this.maxMessageBytes})`);
    }
    const length = PREFIX_BYTES + bodyBytes;
    return this.pool?.fits(length) ? this.pool.take(length) : Buffer.allocUnsafe(length);
  }
}

interface GrpcStreamDecoder {
  maxReadMessageLength: number;
  write(data: Buffer): Buffer[];
}

/** The MessageDecoder behind each grpc-js decoder, made on its first write. */
const decoders = new WeakMap<GrpcStreamDecoder, MessageDecoder>();

/**
 * Makes every gRPC call of this process, client and server side, decode its messages with
 * MessageDecoder drawing on `pool`. grpc-js has no option for this, so its decoder's write()
 * is replaced; the version is pinned (~1.14) and test/rpc/message-decoder.test.ts proves on a
 * real call that the replacement is in use. Returns false, leaving grpc-js as it was, when its
 * decoder is not where this expects it.
 */
export function installMessageDecoder(pool: MessageBufferPool): boolean {
  let prototype: GrpcStreamDecoder | undefined;
  try {
    prototype = (require('@grpc/grpc-js/build/src/stream-decoder') as { StreamDecoder?: { prototype: GrpcStreamDecoder } }).StreamDecoder?.prototype;
  } catch {
    return false;
  }
  if (typeof prototype?.write !== 'function') return false;
  prototype.write = function write(this: GrpcStreamDecoder, data: Buffer): Buffer[] {
    let decoder = decoders.get(this);
    if (!decoder) decoders.set(this, (decoder = new MessageDecoder(this.maxReadMessageLength, pool)));
    return decoder.write(data);
  };
  return true;
}
