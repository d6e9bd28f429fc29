import type { MessageBufferPool } from './message-buffer-pool';

/** gRPC's length prefix: a compressed-flag byte and a 4-byte big-endian length. */
const PREFIX_BYTES = 5;
/**
 * Where a message received into pool memory starts in its buffer: so that the bytes of a data
 * frame (after the prefix, and its bytes field's key and 3-byte length, as every frame of
 * 16 KiB to 2 MiB has) begin 4096 bytes in. In page-aligned memory (a storage server's frames)
 * a PutChunk frame's MiB then goes to the disk with O_DIRECT as it is, not copied into an
 * aligned buffer first.
 */
const DATA_AT = 4096;
const MESSAGE_AT = DATA_AT - (PREFIX_BYTES + 1 + 3);

/**
 * Splits an HTTP/2 stream's DATA into gRPC messages (each returned with its 5-byte prefix, as
 * grpc-js expects). grpc-js's own decoder keeps every piece of a message until its last one
 * arrives and then joins them into a new Buffer. Here a message that fits `pool` takes its
 * memory from it when its prefix arrives and each piece is copied straight in: Node's
 * socket-read buffers die young, where a scavenge frees them, and the large frames reuse
 * memory. Other messages are gathered and joined as grpc-js does, so a prefix that claims
 * more than is ever sent holds no memory.
 */
export class MessageDecoder {
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFilled = 0;
  /** The message being received, with its prefix: pool memory filled in place, or pieces to join. */
  private message: Buffer | Buffer[] | undefined;
  private messageLength = 0;
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
      } else {
        const take = Math.min(this.messageLength - this.messageFilled, data.length - at);
        if (Array.isArray(this.message)) this.message.push(data.subarray(at, at + take));
        else data.copy(this.message, this.messageFilled, at, at + take);
        this.messageFilled += take;
        at += take;
      }
      if (this.messageFilled === this.messageLength) {
        messages.push(Array.isArray(this.message) ? Buffer.concat(this.message, this.messageLength) : this.message);
        this.message = undefined;
        this.prefixFilled = 0;
      }
    }
    return messages;
  }

  private startMessage(bodyBytes: number): Buffer | Buffer[] {
    if (this.maxMessageBytes !== -1 && bodyBytes > this.maxMessageBytes) {
      throw new Error(`Received message larger than max (${bodyBytes} vs ${this.maxMessageBytes})`);
    }
    this.messageLength = PREFIX_BYTES + bodyBytes;
    this.messageFilled = PREFIX_BYTES;
    if (!this.pool?.fits(this.messageLength)) return [Buffer.from(this.prefix)];
    const message = this.pool.take(this.messageLength, this.pool.fits(this.messageLength, MESSAGE_AT) ? MESSAGE_AT : 0);
    this.prefix.copy(message);
    return message;
  }
}

interface GrpcStreamDecoder {
  maxReadMessageLength: number;
  write(data: Buffer): Buffer[];
}

/** The MessageDecoder behind each grpc-js decoder, made on its first write. */
const decoders = new WeakMap<GrpcStreamDecoder, MessageDecoder>();

/**
 * Makes every gRPC call of this process, client and server side (both use grpc-js's
 * StreamDecoder), decode its messages with MessageDecoder drawing on `pool`. grpc-js has no
 * option for this, so its decoder's write() is replaced; the version is pinned (~1.14) and
 * test/rpc/message-decoder.test.ts proves on a real client call that the replacement is in
 * use. Installing again replaces the pool for calls that start later. Returns false, leaving
 * grpc-js as it was, when its decoder is not where this expects it.
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
